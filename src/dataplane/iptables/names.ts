// Names notrack gives its iptables chains and rule comments, shortened deterministically to fit the kernel's limits.
import { createHash } from 'node:crypto';

/** iptables chain names hold at most 28 characters (XT_EXTENSION_MAXNAMELEN less the NUL). */
export const MAX_CHAIN_NAME = 28;
/** Every chain notrack owns starts with this; nothing else in a table is notrack's. */
export const CHAIN_PREFIX = 'NOTRACK-';
/** Every rule notrack writes carries a comment starting with this. */
export const COMMENT_PREFIX = 'notrack:';
/** Rule comments hold at most 255 characters. */
export const MAX_COMMENT = 255;
/** LOG prefixes hold at most 29 characters. */
const MAX_LOG_PREFIX = 29;

/** The first 8 hex digits of the SHA-256 of `text`: the part that keeps shortened names unique. */
function shortHash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 8);
}

/**
 * `prefix + name` when that fits in `max` characters; otherwise the prefix, as much of the name as fits and
 * `_<hash of the whole name>`. Kubernetes-style names cannot contain `_`, so a shortened name never equals a
 * name that fitted.
 */
export function fitName(prefix: string, name: string, max: number): string {
  const whole = prefix + name;
  if (whole.length <= max) return whole;
  const keep = max - prefix.length - 9;
  if (keep < 0) throw new Error(`prefix ${prefix} leaves no room in ${max} characters`);
  return `${prefix}${name.slice(0, keep)}_${shortHash(name)}`;
}

export const chains = {
  /** raw PREROUTING: untracks packets the TC hook marked. */
  prerouting: 'NOTRACK-PREROUTING',
  /** raw OUTPUT: clears notrack's marks, failsafes, then dispatches by outgoing interface. */
  rawOutput: 'NOTRACK-OUTPUT',
  /** raw: mark, untrack and accept (egress Allow). */
  allow: 'NOTRACK-ALLOW',
  /** raw: set the pass bit and return to the interface chain (egress Pass). */
  passSet: 'NOTRACK-PASS-SET',
  /** raw: clear the pass bit and leave notrack's chains (the interface chain saw a Pass). */
  passEnd: 'NOTRACK-PASS-END',
  /** filter INPUT/FORWARD/OUTPUT: accept marked packets early. */
  input: 'NOTRACK-INPUT',
  forward: 'NOTRACK-FORWARD',
  filterOutput: 'NOTRACK-OUTPUT',
  /** filter: clear the accept mark, then ACCEPT. */
  accept: 'NOTRACK-ACCEPT',
} as const;

/** The egress chain of one host-endpoint interface (`*`: every interface). Interface names fit (15 chars). */
export function interfaceChainName(iface: string): string {
  return fitName('NOTRACK-TH-', iface, MAX_CHAIN_NAME);
}

/** The chain holding one policy's egress rules. */
export function policyChainName(policy: string): string {
  return fitName('NOTRACK-PO-', policy, MAX_CHAIN_NAME);
}

/** The counter comment of a policy rule; `readRuleCounters` parses it back. */
export function policyRuleComment(policy: string, index: number): string {
  const tail = `:${index}`;
  return fitName(COMMENT_PREFIX, policy, MAX_COMMENT - tail.length) + tail;
}

/** The prefix of a Log rule's kernel log line: `notrack:<policy>:<index> `, the policy shortened to fit. */
export function logPrefix(policy: string, index: number): string {
  const tail = `:${index} `;
  return fitName(COMMENT_PREFIX, policy, MAX_LOG_PREFIX - tail.length) + tail;
}

/** `{ policy, index }` for a policy rule's comment, undefined for notrack's own rules and foreign comments. */
export function parsePolicyRuleComment(comment: string): { policy: string; index: number } | undefined {
  if (!comment.startsWith(COMMENT_PREFIX)) return undefined;
  const rest = comment.slice(COMMENT_PREFIX.length);
  const colon = rest.lastIndexOf(':');
  if (colon <= 0) return undefined;
  const index = rest.slice(colon + 1);
  if (!/^(0|[1-9][0-9]*)$/.test(index)) return undefined;
  return { policy: rest.slice(0, colon), index: Number(index) };
}

/** Hex as iptables prints marks. */
export function hex(n: number): string {
  return `0x${(n >>> 0).toString(16)}`;
}

// The typed shapes of notrack's iptables state: what the compiler asks for, what iptables-save shows, how they differ.

export type Family = 4 | 6;
export type TableName = 'raw' | 'filter';
export const TABLES: readonly TableName[] = ['raw', 'filter'];

/** Bits of the skb mark: a packet carries the meaning when `(mark & mask) === value`. */
export interface MarkBits {
  value: number;
  mask: number;
}

/** Set by the TC hook (ingress) or an egress Allow rule: "accepted, untracked". Calico-compatible default bit. */
export const DEFAULT_ACCEPT_MARK: MarkBits = { value: 0x40000000, mask: 0x40000000 };
/** A scratch bit an egress Pass rule sets so the per-interface chain stops; cleared before raw OUTPUT ends. */
export const DEFAULT_PASS_MARK: MarkBits = { value: 0x20000000, mask: 0x20000000 };

/** One failsafe port (protocol number 6 or 17), optionally limited to a remote network. */
interface FailsafePort {
  protocol: number;
  port: number;
  net?: string | null;
}

type EgressAction = 'Allow' | 'Deny' | 'Pass' | 'Log';

/**
 * One egress rule, already lowered to iptables match arguments. `match` holds matches only (no -j/-g, no
 * comment) and should be written the way iptables-save prints them (`-p tcp -m tcp --dport 5432`,
 * `-d 10.0.0.0/8`, `-m set --match-set notrack-x dst`); common shorthands are normalised, but the read-back check
 * after apply rejects anything that reads back differently.
 */
export interface EgressRule {
  /** The rule's index in its policy's egress list; the counter comment is `notrack:<policy>:<index>`. */
  index: number;
  action: EgressAction;
  match: string[];
  /** Only for this family; both when absent. */
  ipVersion?: Family;
}

/** One doNotTrack policy's egress rules, in order. Its chain is `NOTRACK-PO-<name>` (shortened when needed). */
export interface EgressPolicy {
  name: string;
  rules: EgressRule[];
}

/** The policies that apply to one host-endpoint interface (`*` for all), in evaluation order. */
interface EgressInterface {
  iface: string;
  policies: EgressPolicy[];
}

interface EgressChains {
  interfaces: EgressInterface[];
}

/** Everything notrack wants in iptables on one host (both families; rules say which family they need). */
export interface IptablesDesired {
  marks: { accept: MarkBits; pass: MarkBits };
  /** Failsafe ports: egress never drops the replies of inbound ones nor outbound ones (they stay tracked). */
  failsafe: { inbound: FailsafePort[]; outbound: FailsafePort[] };
  /** Rate of Log rules, packets per second and burst. */
  log: { rate: number; burst: number };
  egress: EgressChains;
}

/** A chain notrack wants, with its rules as argv tokens (matches, a policy rule's comment, target). */
export interface DesiredChain {
  name: string;
  rules: string[][];
}

/** One table's worth of desired state: chains in creation order and the jumps from built-in chains. */
export interface DesiredTable {
  chains: DesiredChain[];
  jumps: { from: string; to: string }[];
}

/** One rule as iptables-save printed it. */
export interface ActualRule {
  chain: string;
  /** 1-based position in its chain. */
  position: number;
  /** The rule text after `-A <chain> `, as printed (quotes included). */
  text: string;
  tokens: string[];
  packets: number;
  bytes: number;
  /** The first `-m comment --comment` value (notrack writes one on egress policy rules only). */
  comment: string | undefined;
  /** The -j or -g target. */
  target: string | undefined;
  goto: boolean;
}

export interface ActualChain {
  name: string;
  builtin: boolean;
  /** ACCEPT/DROP for built-in chains. */
  policy: string | undefined;
  rules: ActualRule[];
}

/** A rule in a built-in chain that jumps or goes to a NOTRACK- chain. */
export interface BuiltinJump {
  from: string;
  to: string;
  position: number;
  /** True when the rule is exactly `-j <to>` with no matches. */
  plain: boolean;
  rule: ActualRule;
}

export interface ActualTable {
  name: TableName;
  chains: ActualChain[];
  jumps: BuiltinJump[];
}

export interface IptablesActual {
  family: Family;
  tables: Record<TableName, ActualTable>;
}

interface Where {
  family: Family;
  table: TableName;
}

/** One way the kernel differs from what notrack wants; the reconciler reports these as drift. */
export type IptablesChange =
  | (Where & { kind: 'missing-chain'; chain: string })
  | (Where & { kind: 'extra-chain'; chain: string })
  | (Where & { kind: 'rule-mismatch'; chain: string; expected: string[]; actual: string[] })
  | (Where & { kind: 'foreign-rule'; chain: string; position: number; rule: string })
  | (Where & { kind: 'missing-jump'; from: string; to: string })
  | (Where & { kind: 'duplicate-jump'; from: string; to: string; count: number })
  | (Where & { kind: 'misplaced-jump'; from: string; to: string; position: number; rule: string })
  | (Where & { kind: 'extra-jump'; from: string; to: string; rule: string });

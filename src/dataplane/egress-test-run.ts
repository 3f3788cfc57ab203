// The egress verdict of the real kernel for `explain --direction egress --kernel`: a private network namespace with an
// interface of the packet's interface name (one end of a veth pair), the state's ipsets and iptables chains applied
// in it, the packet sent out of that interface through a raw socket (socat), and the notrack rule counters that rose
// read back.
//
// Everything happens inside the namespace this module creates and deletes: no rule, set or setting of the host's own
// namespace is touched, and the packet goes only to the other end of the pair, in the same namespace.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PacketDescription, RuleRef } from '../compile/desired-state.js';
import type { KernelVerdict } from '../compile/explain.js';
import { NotrackError } from '../errors.js';
import { runProgram, type CommandRunner } from './command-runner.js';
import { packetFrame } from './frames.js';
import { applyIpsets, type IpsetDesired } from './ipset/index.js';
import {
  applyIptables,
  chains,
  observeIptables,
  policyRuleComment,
  type ActualRule,
  type IptablesDesired,
} from './iptables/index.js';

const TOOLS = ['ip', 'iptables-restore', 'ip6tables-restore', 'ipset', 'socat'];
const ETHERNET_HEADER = 14;

/** The egress kernel run could not be set up (a missing tool, no permission to create a namespace). */
export class EgressTestRunError extends NotrackError {
  constructor(message: string) {
    super('egress-test-run', message);
  }
}

export interface EgressTestInput {
  iptables: IptablesDesired;
  ipsets: IpsetDesired[];
  /** The interface the packet leaves by (a dummy interface of that name is made in the namespace). */
  iface: string;
  packet: PacketDescription;
  /** The rules the evaluator numbers the verdict's counters by (egressView's counters). */
  counters: readonly RuleRef[];
}

function checked(argv: string[], what: string): string {
  const r = runProgram(argv, { timeoutMs: 60_000 });
  if (r.status !== 0)
    throw new EgressTestRunError(`${what} failed: ${argv.join(' ')}: ${r.stderr.trim() || `exit ${r.status}`}`);
  return r.stdout;
}

function onPath(tool: string): boolean {
  return (process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin')
    .split(':')
    .some((d) => d !== '' && existsSync(join(d, tool)));
}

function requireTools(): void {
  const missing = TOOLS.filter((t) => !onPath(t));
  if (missing.length)
    throw new EgressTestRunError(
      `explain --kernel for egress needs ${missing.join(', ')} (Debian: iproute2, iptables, ipset, socat)`,
    );
}

/** Sends the packet (its IP header on, as a raw IPPROTO_RAW socket takes it) out of `iface` inside the namespace. */
function sendPacket(inNs: (argv: string[]) => string[], iface: string, packet: PacketDescription): void {
  const dir = mkdtempSync(join(tmpdir(), 'notrack-egress-'));
  try {
    const file = join(dir, 'packet');
    writeFileSync(file, packetFrame(packet).subarray(ETHERNET_HEADER), { mode: 0o600 });
    const to = packet.family === 4 ? `IP4-SENDTO:${packet.dst}:255` : `IP6-SENDTO:[${packet.dst}]:255`;
    // A Deny drops the packet in raw OUTPUT: sendto then fails with EPERM, which is the verdict, not an error.
    runProgram(inNs(['socat', '-u', `OPEN:${file}`, `${to},so-bindtodevice=${iface}`]), { timeoutMs: 30_000 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The kernel's verdict for `packet` leaving by `iface`, from the counters of notrack's raw OUTPUT rules: a failsafe
 * rule, the interface's dispatch, each policy rule (Log rules count and go on), the allow chain.
 */
export function egressKernelVerdict(input: EgressTestInput): KernelVerdict {
  requireTools();
  const ns = `ntegr-${process.pid.toString(36)}-${randomBytes(3).toString('hex')}`;
  const inNs = (argv: string[]) => ['ip', 'netns', 'exec', ns, ...argv];
  const runner: CommandRunner = (argv, stdin) => {
    const { status, stdout, stderr } = runProgram(inNs(argv), { input: stdin, timeoutMs: 120_000 });
    return { status, stdout, stderr };
  };
  checked(['ip', 'netns', 'add', ns], 'creating a private network namespace');
  try {
    const name = input.iface === '*' ? 'eth0' : input.iface;
    // A veth pair, both ends in the namespace (kernels without the dummy driver have veth); no ARP or neighbour
    // discovery, so nothing but the one packet leaves.
    const peer = name === 'ntpeer0' ? 'ntpeer1' : 'ntpeer0';
    for (const argv of [
      ['ip', 'link', 'set', 'lo', 'up'],
      ['ip', 'link', 'add', name, 'type', 'veth', 'peer', 'name', peer],
      ['ip', 'link', 'set', name, 'arp', 'off', 'up'],
      ['ip', 'link', 'set', peer, 'arp', 'off', 'up'],
      ['ip', 'route', 'add', 'default', 'dev', name],
      ['ip', '-6', 'route', 'add', 'default', 'dev', name],
    ])
      checked(inNs(argv), 'setting up the namespace');
    applyIpsets(runner, input.ipsets);
    for (const family of [4, 6] as const) applyIptables(runner, input.iptables, family);
    sendPacket(inNs, name, input.packet);
    return readVerdict(runner, input);
  } finally {
    runProgram(['ip', 'netns', 'del', ns], { timeoutMs: 30_000 });
  }
}

function readVerdict(runner: CommandRunner, input: EgressTestInput): KernelVerdict {
  const raw = observeIptables(runner, input.packet.family).tables.raw;
  // Structural rules carry no comment (ruleset.ts): they are told apart by chain, target and shape.
  const rose = (pred: (chain: string, rule: ActualRule) => boolean): boolean =>
    raw.chains.some((c) => c.rules.some((r) => r.packets > 0 && pred(c.name, r)));
  const byComment = new Map(input.counters.map((ref, i) => [policyRuleComment(ref.policy, ref.index), i]));
  const hits: number[] = [];
  for (const c of raw.chains)
    for (const r of c.rules) {
      const i = r.comment === undefined ? undefined : byComment.get(r.comment);
      if (i !== undefined && r.packets > 0 && !hits.includes(i)) hits.push(i);
    }
  hits.sort((a, b) => a - b);
  const logRule = (i: number): boolean =>
    raw.chains.some((c) =>
      c.rules.some(
        (r) =>
          r.comment === policyRuleComment(input.counters[i]!.policy, input.counters[i]!.index) && r.target === 'LOG',
      ),
    );
  const logged = hits.filter(logRule);
  const decided = hits.filter((i) => !logRule(i));
  // Only the deciding rule and Log rules before it count a packet: one at most decides.
  const counter = decided.length ? decided[0]! : null;
  const allowed = rose((chain, r) => chain === chains.allow && r.position === 1);
  // In raw NOTRACK-OUTPUT a failsafe rule is a RETURN with a protocol; a dispatch rule has none (`-o X -j RETURN`,
  // `-o X -g NOTRACK-TH-X`).
  const failsafe = rose((chain, r) => chain === chains.rawOutput && r.target === 'RETURN' && r.tokens.includes('-p'));
  const dispatched = rose(
    (chain, r) =>
      chain === chains.rawOutput &&
      !r.tokens.includes('-p') &&
      (r.target === 'RETURN' || (r.goto && r.target?.startsWith('NOTRACK-TH-') === true)),
  );
  const dropped =
    counter !== null &&
    raw.chains.some((c) =>
      c.rules.some(
        (r) =>
          r.packets > 0 &&
          r.target === 'DROP' &&
          r.comment === policyRuleComment(input.counters[counter]!.policy, input.counters[counter]!.index),
      ),
    );
  const outcome = allowed ? 'allow' : dropped ? 'deny' : 'pass';
  return {
    action: 0,
    actionName: allowed ? chains.allow : dropped ? 'DROP' : 'RETURN',
    untrackedFlag: allowed,
    outcome,
    reason: failsafe ? 'failsafe' : counter !== null ? 'rule' : dispatched ? 'no-match' : 'no-policy',
    counter,
    rule: counter === null ? null : { ...input.counters[counter]! },
    logged,
    logCount: logged.length,
  };
}

// `notrack explain`: which rule decides a given packet on a given host and interface, and why, from the policy alone;
// with --kernel also from the compiled program run in the kernel, side by side.
import { fetchSource, type SourceFile } from '../source/index.js';
import { loadResources } from '../model/load-resources.js';
import { parseDocuments, type SourceDocument } from '../model/documents.js';
import { formatDiagnostic } from '../model/diagnostics.js';
import type { ResourceSet, RuleAction } from '../model/resources.js';
import { NotrackError } from '../errors.js';
import { compileHost } from '../compile/compile-host.js';
import type { DesiredState, Failsafe, InterfaceState, PacketDescription, RuleRef, Verdict } from '../compile/desired-state.js';
import { evaluatePacket, interfaceState, matchingFailsafe } from '../compile/evaluate.js';
import { PACKET_EXAMPLE, PacketSyntaxError, formatPacket, parsePacket } from '../compile/packet-text.js';
import { failsafeText } from '../compile/policy-test.js';
import type { KernelVerdict } from '../dataplane/test-run.js';
import { UsageError } from '../errors.js';
import { SOURCE_HELP, SOURCE_OPTIONS, oneOf, parseCommandArgs } from './args.js';
import { readPolicyFiles } from './read-policy.js';

export const EXPLAIN_HELP = `Usage: notrack explain --host HOST --iface IFACE --packet PACKET [--repo URL|PATH] [--ref REF] [--path DIR]
                       [--kernel] [--format text|json]

Evaluates one packet arriving on an interface of a host against the policy, as the XDP pipeline would:
failsafes first, then the doNotTrack ingress rules in order. Prints the verdict, the rule that decided it (with
its file and line), the Log rules that matched, or why nothing decided.
With --kernel it also runs the packet through the compiled XDP pipeline in the kernel (BPF_PROG_TEST_RUN: nothing
is attached or pinned; needs root) and shows both verdicts, and whether they agree.
Exit status: 0 the packet was evaluated (and with --kernel, both agree), 1 error (invalid policy, unknown host or
interface, no BPF permission) or the kernel DISAGREES with the reference (a bug), 64 bad usage.

Packets:
  tcp 203.0.113.5:4000 > 10.0.0.5:5432         udp, sctp and udplite alike
  udp [2001:db8::1]:53 > [fd00::5]:5353         IPv6 with ports: addresses in brackets
  icmp 10.0.0.1 > 10.0.0.2 type 8 code 0       icmpv6 2001:db8::1 > fd00::5 type 128
  proto 47 10.0.0.1 > 10.0.0.2                 any protocol by number
  udp 10.0.0.1 > 10.0.0.2 frag                 a later fragment: no ports, no ICMP header

Options:
  --host HOST         the node of the HostEndpoints to use
  --iface IFACE       the interface the packet arrives on
  --packet PACKET     the packet, as above
  --kernel            also run it through the compiled program in the kernel and compare (root)
${SOURCE_HELP}
  --format FORMAT     text (default) or json
  -h, --help          show this help
`;

/** Version of the JSON output (kind `notrack.explain`). */
export const EXPLAIN_JSON_VERSION = 1;

/** A rule, where it is written, and what it does. */
export interface LocatedRule extends RuleRef {
  action: RuleAction;
  file: string;
  line: number;
  col: number;
}

/** Finds where policy rules are written: the policy's document in the snapshot, parsed again for positions. */
export class RuleLocator {
  private readonly docs = new Map<string, SourceDocument[]>();
  constructor(private readonly files: readonly SourceFile[], private readonly resources: ResourceSet) {}

  locate(ref: RuleRef): LocatedRule {
    const policy = this.resources.policies.find((p) => p.name === ref.policy);
    const action = policy?.[ref.direction][ref.index]?.action ?? 'Pass';
    if (!policy) return { ...ref, action, file: '', line: 0, col: 0 };
    let docs = this.docs.get(policy.source.file);
    if (!docs) {
      const file = this.files.find((f) => f.path === policy.source.file);
      docs = file ? parseDocuments([file]).documents : [];
      this.docs.set(policy.source.file, docs);
    }
    const doc = docs.find((d) => d.index === policy.source.document);
    const at = doc?.locate(['spec', ref.direction, ref.index]) ?? { line: 0, col: 0 };
    return { ...ref, action, file: policy.source.file, line: at.line, col: at.col };
  }
}

export function formatRuleRef(ref: RuleRef): string {
  return `${ref.policy} ${ref.direction}[${ref.index}]`;
}

function formatLocated(r: LocatedRule): string {
  return `${formatRuleRef(r)} ${r.action}${r.file ? ` (${r.file}:${r.line}:${r.col})` : ''}`;
}

export function formatFailsafe(f: Failsafe): string {
  return `failsafe ${failsafeText(f)}`;
}

/** One line saying what happens to the packet and why. */
export function describeVerdict(v: Verdict, failsafe: Failsafe | null): string {
  switch (v.reason) {
    case 'failsafe': return `pass: ${failsafe ? formatFailsafe(failsafe) : 'failsafe'}: passed tracked`;
    case 'no-match': return 'pass: no rule matched: passed to tracked processing';
    case 'no-policy': return 'pass: no notrack program on this interface: passed to tracked processing';
    case 'non-ip': return 'pass: not an IP packet: passed untouched';
    case 'rule':
      return v.outcome === 'allow' ? 'allow: accepted untracked at XDP'
        : v.outcome === 'deny' ? 'deny: dropped at XDP'
          : 'pass: a Pass rule sent it to tracked processing';
  }
}

/** Everything `explain` found out, in the shape of its JSON output. */
export interface Explanation {
  host: string;
  interface: string;
  /** The interface whose state was used: the same, or `*`. */
  appliedInterface: string;
  endpoint: string;
  packet: PacketDescription & { text: string };
  verdict: Verdict;
  decidedBy: LocatedRule | null;
  failsafe: Failsafe | null;
  logged: LocatedRule[];
  stateHash: string;
}

/** Explains one packet against one host's compiled state. Pure apart from the locator's parsing. */
export function explainPacket(state: DesiredState, iface: InterfaceState, requested: string, packet: PacketDescription, locator: RuleLocator): Explanation {
  const verdict = evaluatePacket(state, requested, packet);
  return {
    host: state.host,
    interface: requested,
    appliedInterface: iface.name,
    endpoint: iface.endpoint,
    packet: { text: formatPacket(packet), ...packet },
    verdict,
    decidedBy: verdict.rule ? locator.locate(verdict.rule) : null,
    failsafe: verdict.reason === 'failsafe' ? matchingFailsafe(state, packet) : null,
    logged: verdict.logged.map((c) => locator.locate(iface.counters[c]!)),
    stateHash: state.hash,
  };
}

const REASON_TEXT: Record<KernelVerdict['reason'], string> = {
  rule: 'a rule',
  'no-match': 'no rule matched',
  failsafe: 'failsafe',
  'non-ip': 'not an IP packet',
  'no-policy': 'no policy program',
  malformed: 'malformed packet',
  unsupported: 'unsupported packet',
  'tail-call-failed': 'a tail call failed',
  unknown: 'no counter said why',
};

function decider(reason: KernelVerdict['reason'], rule: RuleRef | null, counter: number | null, failsafe?: Failsafe | null): string {
  if (rule) return ` by ${formatRuleRef(rule)}`;
  if (counter !== null) return ` by rule index ${counter}`;
  if (reason === 'failsafe' && failsafe) return `: ${formatFailsafe(failsafe)}`;
  return `: ${REASON_TEXT[reason]}`;
}

function loggedText(refs: (RuleRef | undefined)[], total: number): string {
  if (total === 0) return '';
  const names = refs.map((r) => (r ? formatRuleRef(r) : '?'));
  return `; logged by ${names.join(', ')}${total > names.length ? ` and ${total - names.length} more` : ''}`;
}

/** The reference evaluator's verdict in one line: `allow by db-postgres ingress[0]`, `pass: no rule matched`. */
export function referenceSummary(e: Explanation): string {
  const v = e.verdict;
  return `${v.outcome}${decider(v.reason, v.rule, v.counter, e.failsafe)}${loggedText(e.logged, e.logged.length)}`;
}

/** The kernel's verdict in one line, with the XDP action and the metadata flag it is read from. */
export function kernelSummary(k: KernelVerdict, iface: InterfaceState): string {
  const flag = k.untrackedFlag ? ', untracked flag set' : k.actionName === 'XDP_PASS' ? ', no flag' : '';
  const logged = loggedText(k.logged.map((c) => iface.counters[c]), k.logCount);
  return `${k.outcome} (${k.actionName}${flag})${decider(k.reason, k.rule, k.counter)}${logged}`;
}

/** What `explain --kernel` adds: the kernel's verdict and where it differs from the reference's. */
export interface KernelComparison extends KernelVerdict {
  agree: boolean;
  differences: string[];
}

export function renderKernelText(e: Explanation, k: KernelComparison, iface: InterfaceState): string {
  const lines = [`reference: ${referenceSummary(e)}`, `kernel:    ${kernelSummary(k, iface)}`];
  if (k.agree) lines.push('agree');
  else {
    lines.push('DISAGREE: the kernel and the reference evaluator differ; this is a bug in notrack, please report it:');
    for (const d of k.differences) lines.push(`  ${d}`);
  }
  return lines.join('\n') + '\n';
}

export function renderExplanationText(e: Explanation): string {
  const via = e.appliedInterface !== e.interface ? `, under the "*" HostEndpoint ${e.endpoint}` : ` (HostEndpoint ${e.endpoint})`;
  const lines = [
    `host ${e.host}, interface ${e.interface}${via}: ${e.packet.text}`,
    `verdict: ${describeVerdict(e.verdict, e.failsafe)}`,
  ];
  if (e.decidedBy) lines.push(`decided by: ${formatLocated(e.decidedBy)}`);
  for (const l of e.logged) lines.push(`logged by: ${formatLocated(l)}`);
  return lines.join('\n') + '\n';
}

/** The host's interface state, or an error that lists what there is. */
export function interfaceOf(state: DesiredState, resources: ResourceSet, host: string, iface: string): InterfaceState {
  if (!resources.hostEndpoints.some((h) => h.node === host)) {
    const nodes = [...new Set(resources.hostEndpoints.map((h) => h.node))].sort();
    throw new NotrackError('unknown-host', `no HostEndpoint has node "${host}"${nodes.length ? ` (hosts: ${nodes.join(', ')})` : ''}`);
  }
  const found = interfaceState(state, iface);
  if (!found) {
    const names = state.interfaces.map((i) => i.name);
    throw new NotrackError('unknown-interface',
      `host ${host} has no HostEndpoint on interface ${iface}${names.length ? ` (interfaces: ${names.join(', ')})` : ' (none of its HostEndpoints names an interface)'}`);
  }
  return found;
}

export async function explainCommand(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(argv, {
    ...SOURCE_OPTIONS,
    host: { type: 'string' },
    iface: { type: 'string' },
    packet: { type: 'string' },
    format: { type: 'string' },
    kernel: { type: 'boolean' },
  });
  if (values.help) { process.stdout.write(EXPLAIN_HELP); return 0; }
  const format = oneOf('format', values.format, ['text', 'json'] as const, 'text');
  for (const name of ['host', 'iface', 'packet'] as const) {
    if (values[name] === undefined || values[name] === '') {
      throw new UsageError(`--${name} is required${name === 'packet' ? `, e.g. --packet '${PACKET_EXAMPLE}'` : ''}`);
    }
  }
  let packet: PacketDescription;
  try {
    packet = parsePacket(values.packet!);
  } catch (e) {
    if (e instanceof PacketSyntaxError) throw new UsageError(`--packet: ${e.message}`);
    throw e;
  }

  const snapshot = await readPolicyFiles(values, undefined, fetchSource);
  for (const w of snapshot.warnings ?? []) process.stderr.write(`warning: ${w}\n`);
  const loaded = loadResources(snapshot.files);
  if (!loaded.valid) {
    const errors = loaded.diagnostics.filter((d) => d.severity === 'error');
    for (const d of errors.slice(0, 20)) process.stderr.write(`${formatDiagnostic(d)}\n`);
    throw new NotrackError('invalid-policy',
      `the policy has ${errors.length} error${errors.length === 1 ? '' : 's'}; explain needs valid policy (see "notrack validate")`);
  }
  const host = values.host!;
  const state = compileHost(loaded.resources, host);
  const iface = interfaceOf(state, loaded.resources, host, values.iface!);
  const explanation = explainPacket(state, iface, values.iface!, packet, new RuleLocator(snapshot.files, loaded.resources));
  let kernel: KernelComparison | undefined;
  if (values.kernel) {
    // Loaded only here: plain explain never loads the kernel binding.
    const { kernelVerdict, verdictDifferences } = await import('../dataplane/test-run.js');
    const verdict = kernelVerdict(state, iface, packet);
    const differences = verdictDifferences(explanation.verdict, verdict);
    kernel = { ...verdict, agree: differences.length === 0, differences };
  }
  if (format === 'json') {
    process.stdout.write(JSON.stringify({
      formatVersion: EXPLAIN_JSON_VERSION,
      kind: 'notrack.explain',
      source: { repo: snapshot.repo, ref: snapshot.ref, commit: snapshot.commit, path: snapshot.subPath },
      ...explanation,
      ...(kernel ? { kernel } : {}),
    }, null, 2) + '\n');
  } else {
    process.stdout.write(renderExplanationText(explanation));
    if (kernel) process.stdout.write(renderKernelText(explanation, kernel, iface));
  }
  if (kernel && !kernel.agree) {
    process.stderr.write('notrack explain: the kernel disagrees with the reference evaluator (a bug in notrack)\n');
    return 1;
  }
  return 0;
}

// `notrack explain`: which rule decides a given packet on a given host and interface, and why, from the policy alone.
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
import { SOURCE_HELP, SOURCE_OPTIONS, UsageError, oneOf, parseCommandArgs } from './args.js';
import { readPolicyFiles } from './read-policy.js';

export const EXPLAIN_HELP = `Usage: notrack explain --host HOST --iface IFACE --packet PACKET [--repo URL|PATH] [--ref REF] [--path DIR]
                       [--format text|json]

Evaluates one packet arriving on an interface of a host against the policy, as the XDP pipeline would:
failsafes first, then the doNotTrack ingress rules in order. Prints the verdict, the rule that decided it (with
its file and line), the Log rules that matched, or why nothing decided.
Exit status: 0 the packet was evaluated, 1 error (invalid policy, unknown host or interface), 64 bad usage.

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
  if (format === 'json') {
    process.stdout.write(JSON.stringify({
      formatVersion: EXPLAIN_JSON_VERSION,
      kind: 'notrack.explain',
      source: { repo: snapshot.repo, ref: snapshot.ref, commit: snapshot.commit, path: snapshot.subPath },
      ...explanation,
    }, null, 2) + '\n');
  } else {
    process.stdout.write(renderExplanationText(explanation));
  }
  return 0;
}

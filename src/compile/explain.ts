// Explaining one packet on one interface of a host: the reference evaluator's verdict with the rules that decide and
// log it located in the policy files, and its comparison with the verdict of the kernel (BPF_PROG_TEST_RUN). Pure.
import { NotrackError } from '../errors.js';
import { Limits } from '../abi/notrack.js';
import { parseDocuments, type PolicyFile, type SourceDocument } from '../model/documents.js';
import type { Direction, ResourceSet, RuleAction } from '../model/resources.js';
import { egressView } from './egress-entries.js';
import type { DesiredState, Failsafe, InterfaceState, PacketDescription, RuleRef, Verdict } from './desired-state.js';
import { evaluatePacket, interfaceState, matchingFailsafe } from './evaluate.js';
import { formatPacket } from './packet-text.js';

/** A rule, where it is written, and what it does. */
export interface LocatedRule extends RuleRef {
  action: RuleAction;
  file: string;
  line: number;
  col: number;
}

/** Finds where policy rules are written: the policy's document in the snapshot, parsed again for positions. */
export class RuleLocator {
  private readonly docs = new Map<string, Map<number, SourceDocument>>();
  private readonly policies: Map<string, ResourceSet['policies'][number]>;
  constructor(
    private readonly files: readonly PolicyFile[],
    resources: ResourceSet,
  ) {
    this.policies = new Map(resources.policies.map((p) => [p.name, p]));
  }

  locate(ref: RuleRef): LocatedRule {
    const policy = this.policies.get(ref.policy);
    const action = policy?.[ref.direction][ref.index]?.action ?? 'Pass';
    if (!policy) return { ...ref, action, file: '', line: 0, col: 0 };
    let docs = this.docs.get(policy.source.file);
    if (!docs) {
      const file = this.files.find((f) => f.path === policy.source.file);
      docs = new Map((file ? parseDocuments([file]).documents : []).map((d) => [d.index, d]));
      this.docs.set(policy.source.file, docs);
    }
    const doc = docs.get(policy.source.document);
    const at = doc?.locate(['spec', ref.direction, ref.index]) ?? { line: 0, col: 0 };
    return { ...ref, action, file: policy.source.file, line: at.line, col: at.col };
  }
}

/** Everything `explain` found out, in the shape of its JSON output. */
export interface Explanation {
  host: string;
  interface: string;
  /** ingress: arriving on the interface (XDP); egress: leaving by it (raw OUTPUT). */
  direction: Direction;
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
export function explainPacket(
  state: DesiredState,
  iface: InterfaceState,
  requested: string,
  packet: PacketDescription,
  locator: RuleLocator,
  direction: Direction = 'ingress',
): Explanation {
  const verdict = evaluatePacket(state, requested, packet, direction);
  const counters = verdictCounters(state, iface, requested, packet, direction);
  return {
    host: state.host,
    interface: requested,
    direction,
    appliedInterface: iface.name,
    endpoint: iface.endpoint,
    packet: { text: formatPacket(packet), ...packet },
    verdict,
    decidedBy: verdict.rule ? locator.locate(verdict.rule) : null,
    failsafe: verdict.reason === 'failsafe' ? matchingFailsafe(state, packet, direction) : null,
    logged: verdict.logged.map((c) => locator.locate(counters[c]!)),
    stateHash: state.hash,
  };
}

/** The rules a verdict's counter indexes number, for a direction: the interface's, or its egress chain's. */
export function verdictCounters(
  state: DesiredState,
  iface: InterfaceState,
  requested: string,
  packet: Pick<PacketDescription, 'family'>,
  direction: Direction,
): readonly RuleRef[] {
  return direction === 'ingress' ? iface.counters : egressView(state, requested, packet.family).counters;
}

/** The host's interface state, or an error that lists what there is. */
export function interfaceOf(state: DesiredState, resources: ResourceSet, host: string, iface: string): InterfaceState {
  if (!resources.hostEndpoints.some((h) => h.node === host)) {
    const nodes = [...new Set(resources.hostEndpoints.map((h) => h.node))].sort();
    throw new NotrackError(
      'unknown-host',
      `no HostEndpoint has node "${host}"${nodes.length ? ` (hosts: ${nodes.join(', ')})` : ''}`,
    );
  }
  const found = interfaceState(state, iface);
  if (!found) {
    const names = state.interfaces.map((i) => i.name);
    throw new NotrackError(
      'unknown-interface',
      `host ${host} has no HostEndpoint on interface ${iface}${names.length ? ` (interfaces: ${names.join(', ')})` : ' (none of its HostEndpoints names an interface)'}`,
    );
  }
  return found;
}

/**
 * Why the kernel ended where it did, from the global counter that moved. The reference evaluator's reasons, and
 * those only the kernel can have: a frame it could not parse, a failed tail call, or no counter at all.
 */
export type KernelReason = Verdict['reason'] | 'malformed' | 'unsupported' | 'tail-call-failed' | 'unknown';

/** The kernel's verdict for one frame, in the reference evaluator's terms where they apply. */
export interface KernelVerdict {
  action: number;
  /** `XDP_PASS`, `XDP_DROP` … */
  actionName: string;
  /** The "accepted untracked" flag is in the XDP metadata, for the TC program to turn into the skb mark. */
  untrackedFlag: boolean;
  /** drop = deny, pass with the flag = allow, pass without = pass; anything else is `other` (a bug). */
  outcome: Verdict['outcome'] | 'other';
  reason: KernelReason;
  /** The deciding rule's counter index (the state's rule_id), when a rule decided. */
  counter: number | null;
  rule: RuleRef | null;
  /** The first NT_LOG_MAX Log rules that matched, in order (counter indexes). */
  logged: number[];
  /** How many Log rules matched in all (the state keeps only the first NT_LOG_MAX). */
  logCount: number;
}

/** What `explain --kernel` adds: the kernel's verdict and where it differs from the reference's. */
export interface KernelComparison extends KernelVerdict {
  agree: boolean;
  differences: string[];
}

/**
 * Where the kernel's verdict differs from the reference evaluator's, one line each; empty when they agree. Log rules
 * past NT_LOG_MAX are compared by number only, since the state keeps the first NT_LOG_MAX.
 */
export function verdictDifferences(
  reference: Verdict,
  kernel: KernelVerdict,
  logMax: number = Limits.logMax,
): string[] {
  const out: string[] = [];
  if (kernel.outcome !== reference.outcome)
    out.push(`outcome: reference ${reference.outcome}, kernel ${kernel.outcome} (${kernel.actionName})`);
  if (kernel.reason !== reference.reason) out.push(`reason: reference ${reference.reason}, kernel ${kernel.reason}`);
  if (kernel.counter !== reference.counter)
    out.push(
      `deciding rule: reference ${ruleText(reference.rule, reference.counter)}, kernel ${ruleText(kernel.rule, kernel.counter)}`,
    );
  const refLogged = reference.logged.slice(0, logMax);
  if (kernel.logCount !== reference.logged.length || kernel.logged.join(',') !== refLogged.join(',')) {
    out.push(
      `Log rules: reference ${reference.logged.length} [${refLogged.join(', ')}], kernel ${kernel.logCount} [${kernel.logged.join(', ')}]`,
    );
  }
  return out;
}

function ruleText(rule: RuleRef | null, counter: number | null): string {
  if (counter === null) return 'none';
  return rule ? `${rule.policy} ${rule.direction}[${rule.index}]` : `rule index ${counter}`;
}

/** The kernel's verdict beside the reference's explanation of the same packet. */
export function compareWithKernel(e: Explanation, kernel: KernelVerdict): KernelComparison {
  // The XDP state keeps the first NT_LOG_MAX Log rules; iptables counts every one.
  const differences = verdictDifferences(e.verdict, kernel, e.direction === 'ingress' ? Limits.logMax : Infinity);
  return { ...kernel, agree: differences.length === 0, differences };
}

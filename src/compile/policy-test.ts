// Policy unit test cases: what a case expects, what the reference evaluator says, and how the two differ. Pure.
import type { DesiredState, Failsafe, InterfaceState, PacketDescription, RuleRef, Verdict } from './desired-state.js';
import { evaluatePacket, matchingFailsafe } from './evaluate.js';

/** What a case asks for; a field left out is not checked. Rules are written `policy/direction/index`. */
export interface CaseExpectation {
  outcome: Verdict['outcome'];
  reason?: Verdict['reason'];
  /** The deciding rule, or 'none' when no rule may decide. */
  rule?: string;
  logged?: string[];
}

/** What the evaluator said, in the terms a case is written in. */
export interface CaseActual {
  outcome: Verdict['outcome'];
  reason: Verdict['reason'];
  rule: string | null;
  logged: string[];
  /** For messages: the failsafe that passed the packet, as `tcp 22 from 10.0.255.0/24`. */
  failsafe: string | null;
}

export function ruleKey(ref: RuleRef): string {
  return `${ref.policy}/${ref.direction}/${ref.index}`;
}

const PROTOCOLS: Record<number, string> = { 6: 'tcp', 17: 'udp', 132: 'sctp', 136: 'udplite' };

/** A failsafe as people read it: `tcp 22 from 10.0.255.0/24`, `udp 53 (reply to an outbound connection)`. */
export function failsafeText(f: Failsafe): string {
  const outbound = f.direction === 'outbound' ? ' (reply to an outbound connection)' : '';
  return `${PROTOCOLS[f.protocol] ?? `protocol ${f.protocol}`} ${f.port}${outbound}${f.net ? ` from ${f.net}` : ''}`;
}

export function runCase(state: DesiredState, iface: InterfaceState, requested: string, packet: PacketDescription): CaseActual {
  const v = evaluatePacket(state, requested, packet);
  const f = v.reason === 'failsafe' ? matchingFailsafe(state, packet) : null;
  return {
    outcome: v.outcome,
    reason: v.reason,
    rule: v.rule ? ruleKey(v.rule) : null,
    logged: v.logged.map((c) => ruleKey(iface.counters[c]!)),
    failsafe: f ? failsafeText(f) : null,
  };
}

function describe(a: { outcome: string; reason?: string | undefined; rule?: string | null | undefined }, failsafe?: string | null): string {
  if (a.rule && a.rule !== 'none') return `${a.outcome} by ${a.rule}`;
  if (a.reason === 'failsafe') return `${a.outcome} (failsafe${failsafe ? ` ${failsafe}` : ''})`;
  if (a.reason === 'no-match') return `${a.outcome} (no rule matched)`;
  if (a.rule === 'none') return `${a.outcome} with no deciding rule`;
  return a.outcome;
}

/** What happened to a case's packet, as failure messages and listings say it. */
export function describeActual(actual: CaseActual): string {
  return describe(actual, actual.failsafe);
}

/** Why the case fails, or null when it passes. */
export function caseProblem(expected: CaseExpectation, actual: CaseActual): string | null {
  const problems: string[] = [];
  const ruleOk = expected.rule === undefined || (expected.rule === 'none' ? actual.rule === null : expected.rule === actual.rule);
  if (expected.outcome !== actual.outcome || !ruleOk || (expected.reason !== undefined && expected.reason !== actual.reason)) {
    const wanted = describe({ outcome: expected.outcome, reason: expected.reason, rule: expected.rule });
    problems.push(`expected ${wanted}, got ${describe(actual, actual.failsafe)}`);
  }
  if (expected.logged !== undefined && expected.logged.join(',') !== actual.logged.join(',')) {
    const list = (l: string[]): string => (l.length ? l.join(', ') : 'none');
    problems.push(`expected logged by ${list(expected.logged)}, got ${list(actual.logged)}`);
  }
  return problems.length ? problems.join('; ') : null;
}

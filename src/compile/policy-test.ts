// Policy unit tests: what a case expects, what the reference evaluator says, how the two differ, and the run of every
// case of a repository's PolicyTests against its compiled hosts. Pure.
import { NotrackError } from '../errors.js';
import { diagnosticAt } from '../model/documents.js';
import { sortDiagnostics, type Diagnostic, type PathSegment } from '../model/diagnostics.js';
import type { PolicyTestLoad } from '../model/policy-tests.js';
import type { Direction, ResourceSet } from '../model/resources.js';
import { didYouMean } from '../model/suggest.js';
import { compileHost } from './compile-host.js';
import type { DesiredState, Failsafe, InterfaceState, PacketDescription, RuleRef, Verdict } from './desired-state.js';
import { evaluatePacket, interfaceState, matchingFailsafe } from './evaluate.js';
import { verdictCounters } from './explain.js';
import { parsePacket, PacketSyntaxError } from './packet-text.js';

/** What a case asks for; a field left out is not checked. Rules are written `policy/direction/index`. */
interface CaseExpectation {
  outcome: Verdict['outcome'];
  reason?: Verdict['reason'];
  /** The deciding rule, or 'none' when no rule may decide. */
  rule?: string;
  logged?: string[];
}

/** What the evaluator said, in the terms a case is written in. */
interface CaseActual {
  outcome: Verdict['outcome'];
  reason: Verdict['reason'];
  rule: string | null;
  logged: string[];
  /** For messages: the failsafe that passed the packet, as `tcp 22 from 10.0.255.0/24`. */
  failsafe: string | null;
}

function ruleKey(ref: RuleRef): string {
  return `${ref.policy}/${ref.direction}/${ref.index}`;
}

const PROTOCOLS: Record<number, string> = { 6: 'tcp', 17: 'udp', 132: 'sctp', 136: 'udplite' };

/**
 * A failsafe as people read it, for the direction of the packet it passed: `tcp 22 from 10.0.255.0/24`, `udp 53
 * (reply to an outbound connection)`; leaving the host, `tcp 22 (reply of an inbound failsafe) to 10.0.255.0/24`,
 * `udp 53 (an outbound failsafe connection)`.
 */
export function failsafeText(f: Failsafe, direction: Direction = 'ingress'): string {
  const what =
    direction === 'ingress'
      ? f.direction === 'outbound'
        ? ' (reply to an outbound connection)'
        : ''
      : f.direction === 'inbound'
        ? ' (reply of an inbound failsafe)'
        : ' (an outbound failsafe connection)';
  const net = f.net ? ` ${direction === 'ingress' ? 'from' : 'to'} ${f.net}` : '';
  return `${PROTOCOLS[f.protocol] ?? `protocol ${f.protocol}`} ${f.port}${what}${net}`;
}

function runCase(
  state: DesiredState,
  iface: InterfaceState,
  requested: string,
  packet: PacketDescription,
  direction: Direction,
): CaseActual {
  const v = evaluatePacket(state, requested, packet, direction);
  const f = v.reason === 'failsafe' ? matchingFailsafe(state, packet, direction) : null;
  const counters = verdictCounters(state, iface, requested, packet, direction);
  return {
    outcome: v.outcome,
    reason: v.reason,
    rule: v.rule ? ruleKey(v.rule) : null,
    logged: v.logged.map((c) => ruleKey(counters[c]!)),
    failsafe: f ? failsafeText(f, direction) : null,
  };
}

function describe(
  a: { outcome: string; reason?: string | undefined; rule?: string | null | undefined },
  failsafe?: string | null,
): string {
  if (a.rule && a.rule !== 'none') return `${a.outcome} by ${a.rule}`;
  if (a.reason === 'failsafe') return `${a.outcome} (failsafe${failsafe ? ` ${failsafe}` : ''})`;
  if (a.reason === 'no-match') return `${a.outcome} (no rule matched)`;
  if (a.reason === 'no-policy') return `${a.outcome} (no notrack policy sees it)`;
  if (a.rule === 'none') return `${a.outcome} with no deciding rule`;
  return a.outcome;
}

/** What happened to a case's packet, as failure messages and listings say it. */
export function describeActual(actual: CaseActual): string {
  return describe(actual, actual.failsafe);
}

/** Why the case fails, or null when it passes. */
function caseProblem(expected: CaseExpectation, actual: CaseActual): string | null {
  const problems: string[] = [];
  const ruleOk =
    expected.rule === undefined || (expected.rule === 'none' ? actual.rule === null : expected.rule === actual.rule);
  if (
    expected.outcome !== actual.outcome ||
    !ruleOk ||
    (expected.reason !== undefined && expected.reason !== actual.reason)
  ) {
    const wanted = describe({ outcome: expected.outcome, reason: expected.reason, rule: expected.rule });
    problems.push(`expected ${wanted}, got ${describe(actual, actual.failsafe)}`);
  }
  if (expected.logged !== undefined && expected.logged.join(',') !== actual.logged.join(',')) {
    const list = (l: string[]): string => (l.length ? l.join(', ') : 'none');
    problems.push(`expected logged by ${list(expected.logged)}, got ${list(actual.logged)}`);
  }
  return problems.length ? problems.join('; ') : null;
}

/** One case and how it went. */
interface CaseResult {
  file: string;
  line: number;
  col: number;
  test: string;
  host: string;
  interface: string;
  direction: Direction;
  index: number;
  name?: string;
  packet: string;
  expected: CaseExpectation;
  actual: CaseActual;
  passed: boolean;
  problem: string | null;
}

export interface TestRun {
  files: number;
  tests: number;
  results: CaseResult[];
  /** Invalid test files and cases, policy errors, and failed cases (code test-failed). */
  diagnostics: Diagnostic[];
  /** The policy did not validate, so no case ran; `diagnostics` holds its errors. */
  policyInvalid?: boolean;
}

/** Runs the cases of schema-valid PolicyTests against valid resources, host by host. Pure. */
export function runPolicyTests(loaded: PolicyTestLoad, resources: ResourceSet): TestRun {
  const diagnostics: Diagnostic[] = [...loaded.diagnostics];
  const results: CaseResult[] = [];
  const states = new Map<string, DesiredState | Error>();
  const nodes = [...new Set(resources.hostEndpoints.map((h) => h.node))].sort();
  for (const { doc, test: t } of loaded.tests) {
    const { host, interface: iface } = t.spec;
    if (!nodes.includes(host)) {
      diagnostics.push(
        diagnosticAt(
          doc,
          ['spec', 'host'],
          'error',
          'unknown-host',
          `no HostEndpoint has node "${host}"${didYouMean(host, nodes)}${nodes.length ? ` (hosts: ${nodes.join(', ')})` : ''}`,
        ),
      );
      continue;
    }
    let state = states.get(host);
    if (!state) {
      try {
        state = compileHost(resources, host);
      } catch (e) {
        if (!(e instanceof NotrackError)) throw e;
        state = e;
      }
      states.set(host, state);
    }
    if (state instanceof Error) {
      diagnostics.push(diagnosticAt(doc, ['spec', 'host'], 'error', (state as NotrackError).code, state.message));
      continue;
    }
    const ifc = interfaceState(state, iface);
    if (!ifc) {
      const names = state.interfaces.map((i) => i.name);
      diagnostics.push(
        diagnosticAt(
          doc,
          ['spec', 'interface'],
          'error',
          'unknown-interface',
          `host ${host} has no HostEndpoint on interface ${iface}${didYouMean(iface, names)}${names.length ? ` (interfaces: ${names.join(', ')})` : ''}`,
        ),
      );
      continue;
    }
    t.spec.cases.forEach((c, i) => {
      const where: PathSegment[] = ['spec', 'cases', i];
      const refs = [
        ...(c.rule !== undefined ? [{ ref: c.rule, at: [...where, 'rule'] }] : []),
        ...(c.logged ?? []).map((ref, k) => ({ ref, at: [...where, 'logged', k] })),
      ];
      const direction: Direction = c.direction ?? t.spec.direction ?? 'ingress';
      const other = direction === 'ingress' ? 'egress' : 'ingress';
      const wrong = refs.find((r) => r.ref.includes(`/${other}/`));
      if (wrong) {
        diagnostics.push(
          diagnosticAt(
            doc,
            wrong.at,
            'error',
            'invalid-value',
            `${wrong.ref} is an ${other} rule, and this case checks ${direction} (packets ${direction === 'ingress' ? 'arriving on' : 'leaving by'} the interface); ` +
              `an ${other} rule never decides it${direction === 'ingress' ? '; set direction: egress for packets the host sends' : ''}`,
          ),
        );
        return;
      }
      let packet;
      try {
        packet = parsePacket(c.packet);
      } catch (e) {
        if (!(e instanceof PacketSyntaxError)) throw e;
        diagnostics.push(diagnosticAt(doc, [...where, 'packet'], 'error', 'invalid-packet', e.message));
        return;
      }
      const expected: CaseExpectation = { outcome: c.expect };
      if (c.reason !== undefined) expected.reason = c.reason;
      if (c.rule !== undefined) expected.rule = c.rule;
      if (c.logged !== undefined) expected.logged = c.logged;
      const actual = runCase(state as DesiredState, ifc, iface, packet, direction);
      const problem = caseProblem(expected, actual);
      const at = doc.locate(where);
      const label = `${t.metadata.name} case ${i}${c.name ? ` (${c.name})` : ''}`;
      const result: CaseResult = {
        file: doc.file,
        line: at.line,
        col: at.col,
        test: t.metadata.name,
        host,
        interface: iface,
        direction,
        index: i,
        packet: c.packet,
        expected,
        actual,
        passed: problem === null,
        problem,
      };
      if (c.name !== undefined) result.name = c.name;
      results.push(result);
      if (problem)
        diagnostics.push(diagnosticAt(doc, where, 'error', 'test-failed', `${label}: ${c.packet}: ${problem}`));
    });
  }
  return { files: loaded.files, tests: loaded.tests.length, results, diagnostics: sortDiagnostics(diagnostics) };
}

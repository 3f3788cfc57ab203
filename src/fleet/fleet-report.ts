// The fleet drift report: every agent's applied commit, generation, protection, drift and condition against the
// head of the policy, and the hosts that are missing, stale or stalled. Pure: samples in, report out.
import type { AgentSample } from './fleet-samples.js';

/** What can be wrong with a host; a host with none is in sync. */
export type HostProblem =
  | 'missing' // the policy names the host but no agent of it is in Prometheus
  | 'unreachable' // Prometheus cannot scrape its agent (up == 0)
  | 'stale' // no Ready reconcile within --stale-after
  | 'stalled' // the latest reconcile is Stalled or Failed
  | 'unprotected' // an interface the applied policy protects has no notrack program attached
  | 'drifted' // the latest drift check found objects changed by hand
  | 'behind'; // it runs another commit than the head

export interface FleetHost {
  host: string;
  instance: string | null;
  commit: string | null;
  ref: string | null;
  generation: number | null;
  condition: string | null;
  /** ISO time of the last Ready reconcile. */
  lastSuccess: string | null;
  /** Seconds since the last Ready reconcile. */
  lastSuccessAgeSeconds: number | null;
  driftObjects: number | null;
  protected: boolean | null;
  unprotectedInterfaces: string[];
  /** Commits between the applied commit and the head (0 in step); null when unknown. */
  commitsBehind: number | null;
  version: string | null;
  problems: HostProblem[];
}

export interface FleetReport {
  formatVersion: 1;
  kind: 'notrack.fleet';
  generatedAt: string;
  prometheus: string;
  head: { commit: string | null; ref: string | null };
  summary: { hosts: number; inSync: number } & Record<HostProblem, number>;
  /** True when every host is in sync: exit 0. */
  inSync: boolean;
  hosts: FleetHost[];
}

export interface FleetReportInput {
  samples: readonly AgentSample[];
  prometheus: string;
  head: { commit: string | null; ref: string | null };
  /** Hosts the policy at head names (HostEndpoint `node`): any without an agent is missing. Null: not known. */
  expectedHosts: readonly string[] | null;
  /** Commits behind head, by applied commit (from Git); absent commits are unknown. */
  behind: ReadonlyMap<string, number | null>;
  nowMs: number;
  staleAfterMs: number;
}

export const PROBLEMS: readonly HostProblem[] = [
  'missing',
  'unreachable',
  'stale',
  'stalled',
  'unprotected',
  'drifted',
  'behind',
];

export function fleetReport(input: FleetReportInput): FleetReport {
  const hosts: FleetHost[] = input.samples.map((s) => {
    const problems: HostProblem[] = [];
    const age = s.lastSuccess === null ? null : Math.max(0, Math.round(input.nowMs / 1000 - s.lastSuccess));
    const unprotected = s.interfaces.filter((i) => !i.protected).map((i) => i.iface);
    if (!s.up) problems.push('unreachable');
    if (age === null || age * 1000 > input.staleAfterMs) problems.push('stale');
    if (s.condition === 'Stalled' || s.condition === 'Failed') problems.push('stalled');
    if (unprotected.length) problems.push('unprotected');
    if ((s.driftObjects ?? 0) > 0) problems.push('drifted');
    const behind =
      s.commit && input.head.commit
        ? s.commit === input.head.commit
          ? 0
          : (input.behind.get(s.commit) ?? null)
        : null;
    if (input.head.commit && s.commit !== input.head.commit) problems.push('behind');
    return {
      host: s.host,
      instance: s.instance,
      commit: s.commit,
      ref: s.ref,
      generation: s.generation,
      condition: s.condition,
      lastSuccess: s.lastSuccess === null ? null : new Date(s.lastSuccess * 1000).toISOString(),
      lastSuccessAgeSeconds: age,
      driftObjects: s.driftObjects,
      protected: s.interfaces.length ? unprotected.length === 0 : null,
      unprotectedInterfaces: unprotected,
      commitsBehind: behind,
      version: s.version,
      problems,
    };
  });
  const seen = new Set(hosts.map((h) => h.host));
  for (const host of input.expectedHosts ?? []) {
    if (seen.has(host)) continue;
    hosts.push({
      host,
      instance: null,
      commit: null,
      ref: null,
      generation: null,
      condition: null,
      lastSuccess: null,
      lastSuccessAgeSeconds: null,
      driftObjects: null,
      protected: null,
      unprotectedInterfaces: [],
      commitsBehind: null,
      version: null,
      problems: ['missing'],
    });
  }
  hosts.sort((a, b) => a.host.localeCompare(b.host));
  const count = (p: HostProblem) => hosts.filter((h) => h.problems.includes(p)).length;
  const inSync = hosts.filter((h) => h.problems.length === 0).length;
  return {
    formatVersion: 1,
    kind: 'notrack.fleet',
    generatedAt: new Date(input.nowMs).toISOString(),
    prometheus: input.prometheus,
    head: input.head,
    summary: {
      hosts: hosts.length,
      inSync,
      ...(Object.fromEntries(PROBLEMS.map((p) => [p, count(p)])) as Record<HostProblem, number>),
    },
    inSync: hosts.length > 0 && inSync === hosts.length,
    hosts,
  };
}

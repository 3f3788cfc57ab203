// What Prometheus knows of each agent: one instant query per series the report needs, grouped by host.
import { queryInstant, type PromSample } from './prometheus-query.js';

/** One agent as Prometheus last scraped it. Null fields: the agent never reported that series. */
export interface AgentSample {
  host: string;
  /** The scrape target (host:port). */
  instance: string;
  /** Prometheus's `up`: the last scrape of this agent succeeded. */
  up: boolean;
  commit: string | null;
  ref: string | null;
  generation: number | null;
  /** Ready, Stalled or Failed: the latest reconcile's status. */
  condition: string | null;
  /** Unix seconds of the last Ready reconcile. */
  lastSuccess: number | null;
  driftObjects: number | null;
  interfaces: { iface: string; protected: boolean }[];
  version: string | null;
}

export interface FleetQueryOptions {
  prometheus: string;
  /** The scrape job of the agents: every query is restricted to it. */
  job: string;
  /** The target label that names the host (HostEndpoint `node`); `instance` when a series lacks it. */
  hostLabel: string;
  timeoutMs: number;
}

/** A PromQL selector string value, quoted. */
function quoted(v: string): string {
  return JSON.stringify(v);
}

/** Every agent of the job, with the series of each. */
export async function readFleetSamples(o: FleetQueryOptions): Promise<AgentSample[]> {
  const sel = `{job=${quoted(o.job)}}`;
  const q = (name: string) => queryInstant(o.prometheus, `${name}${sel}`, o.timeoutMs);
  const [up, info, generation, condition, success, drift, protectedIfaces, build] = await Promise.all([
    q('up'),
    q('notrack_last_applied_info'),
    q('notrack_last_applied_generation'),
    q('notrack_reconcile_condition'),
    q('notrack_last_success_timestamp_seconds'),
    q('notrack_drift_objects'),
    q('notrack_interface_protected'),
    q('notrack_build_info'),
  ]);
  const agents = new Map<string, AgentSample>();
  const key = (s: PromSample) => s.labels['instance'] ?? '';
  const agent = (s: PromSample): AgentSample => {
    let a = agents.get(key(s));
    if (!a) {
      a = {
        host: s.labels[o.hostLabel] ?? s.labels['instance'] ?? '?',
        instance: s.labels['instance'] ?? '?',
        up: false,
        commit: null,
        ref: null,
        generation: null,
        condition: null,
        lastSuccess: null,
        driftObjects: null,
        interfaces: [],
        version: null,
      };
      agents.set(key(s), a);
    }
    return a;
  };
  for (const s of up) agent(s).up = s.value === 1;
  for (const s of info) {
    const a = agent(s);
    a.commit = s.labels['commit'] || null;
    a.ref = s.labels['ref'] || null;
  }
  for (const s of generation) agent(s).generation = s.value;
  for (const s of condition) if (s.value === 1) agent(s).condition = s.labels['status'] ?? null;
  for (const s of success) agent(s).lastSuccess = s.value;
  for (const s of drift) agent(s).driftObjects = s.value;
  for (const s of protectedIfaces)
    agent(s).interfaces.push({ iface: s.labels['iface'] ?? '?', protected: s.value === 1 });
  for (const s of build) agent(s).version = s.labels['version'] ?? null;
  for (const a of agents.values()) a.interfaces.sort((x, y) => x.iface.localeCompare(y.iface));
  return [...agents.values()].sort((a, b) => a.host.localeCompare(b.host) || a.instance.localeCompare(b.instance));
}

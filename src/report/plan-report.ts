// A whole plan between two revisions: traffic changes first (grouped across hosts), then resource attribute diffs,
// then each host's dataplane detail (programs, classifier entries, lowered rules) for --verbose and JSON.
import type { DesiredState } from '../compile/desired-state.js';
import type { PolicyFile } from '../model/documents.js';
import type { ResourceSet } from '../model/resources.js';
import { TrafficDiffer } from '../traffic/diff.js';
import { planAll, type HostPlan } from './plan.js';
import { planResources, type ResourceChange } from './plan-resources.js';
import { planTraffic, type TrafficChangeEntry, type TrafficSummary } from './plan-traffic.js';
import { PlanRuleLocator } from './rule-lines.js';

export interface PlanRevision {
  states: ReadonlyMap<string, DesiredState>;
  /** Null when the revision is invalid (then planned against as if empty). */
  resources: ResourceSet | null;
  files: readonly PolicyFile[];
}

export interface PlanSummary {
  hosts: number;
  changed: number;
  unchanged: number;
  created: number;
  deleted: number;
  traffic: TrafficSummary;
  /** Resources added, removed or edited. */
  resources: number;
}

export interface PlanReport {
  summary: PlanSummary;
  traffic: TrafficChangeEntry[];
  /** Per host (natural order), the indexes of its entries in `traffic`. */
  trafficByHost: Map<string, number[]>;
  resources: ResourceChange[];
  hosts: HostPlan[];
  /** The diff engine's work: how long it took and how much it could reuse. */
  engine: { ms: number; diffs: number; reused: number; nodes: number };
}

export function buildPlan(base: PlanRevision, head: PlanRevision & { resources: ResourceSet }): PlanReport {
  const differ = new TrafficDiffer();
  const locator = (r: PlanRevision) => (r.resources ? new PlanRuleLocator(r.files, r.resources) : null);
  const traffic = planTraffic(
    { states: base.states, resources: base.resources, locator: locator(base) },
    { states: head.states, resources: head.resources, locator: locator(head) },
    differ,
  );
  const hosts = planAll(base.states, head.states);
  const resources = planResources(base.resources, head.resources);
  return {
    summary: { ...hosts.summary, traffic: traffic.summary, resources: resources.length },
    traffic: traffic.entries,
    trafficByHost: traffic.byHost,
    resources,
    hosts: hosts.hosts,
    engine: { ms: differ.stats.ms, diffs: differ.stats.diffs, reused: differ.stats.reused, nodes: differ.stats.nodes },
  };
}

/** Terraform's "non-empty diff": some host's dataplane or some resource changes. */
export function planHasChanges(p: PlanReport): boolean {
  return p.summary.changed > 0 || p.summary.resources > 0;
}

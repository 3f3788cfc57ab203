// Benchmark: `plan` over 1,000 hosts and 200 policies (target: at most 5 s): validate, compile both revisions, diff.
import { performance } from 'node:perf_hooks';
import { loadResources } from '../src/model/load-resources.js';
import { compileAll } from '../src/compile/compile-host.js';
import { planAll } from '../src/report/plan.js';
import { generateFleet } from './generate-repository.js';

export async function benchPlan(hosts = 1000, policies = 200): Promise<Record<string, number | string>> {
  const base = generateFleet({ hosts, sets: 50, policies });
  const head = generateFleet({ hosts, sets: 50, policies, variant: 1 });
  const t0 = performance.now();
  const b = loadResources(base),
    h = loadResources(head);
  const t1 = performance.now();
  const bs = compileAll(b.resources),
    hs = compileAll(h.resources);
  const t2 = performance.now();
  const plan = planAll(bs, hs);
  const t3 = performance.now();
  return {
    hosts,
    policies,
    changed_hosts: plan.summary.changed,
    validate_ms: Math.round(t1 - t0),
    compile_ms: Math.round(t2 - t1),
    diff_ms: Math.round(t3 - t2),
    total_ms: Math.round(t3 - t0),
    target_ms: 5000,
  };
}

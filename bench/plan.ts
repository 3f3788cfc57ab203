// Benchmark: `plan` over 1,000 hosts and 200 policies with a 1,100-prefix deny list (target: at most 5 s), traffic
// changes included: validate and lint both revisions, compile them, the traffic diff (the engine's share), the
// resource and dataplane diffs, and the Markdown comment.
import { performance } from 'node:perf_hooks';
import { loadResources } from '../src/model/load-resources.js';
import { validatePolicy } from '../src/traffic/validate-policy.js';
import { compileAll } from '../src/compile/compile-host.js';
import { buildPlan } from '../src/report/plan-report.js';
import { renderPlanMarkdown } from '../src/report/plan-render.js';
import { generateFleet } from './generate-repository.js';

export async function benchPlan(hosts = 1000, policies = 200): Promise<Record<string, number | string>> {
  const shape = { hosts, sets: 50, policies, denyList: 1100 };
  const baseFiles = generateFleet(shape);
  const headFiles = generateFleet({ ...shape, variant: 1 });
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  // As `notrack plan` does: the base validated, the head validated and linted (its warnings go in the plan).
  const b = loadResources(baseFiles),
    h = validatePolicy(headFiles);
  const t1 = performance.now();
  const bs = compileAll(b.resources),
    hs = compileAll(h.resources);
  const t2 = performance.now();
  const plan = buildPlan(
    { states: bs, resources: b.resources, files: baseFiles },
    { states: hs, resources: h.resources, files: headFiles },
  );
  const t3 = performance.now();
  const markdown = renderPlanMarkdown(
    { repo: 'bench', base: { ref: 'base', commit: null }, head: { ref: 'head', commit: null } },
    plan,
  );
  const t4 = performance.now();
  return {
    hosts,
    policies,
    deny_list_prefixes: 1100,
    changed_hosts: plan.summary.changed,
    traffic_changes: plan.summary.traffic.regions,
    hosts_with_traffic_changes: [...plan.trafficByHost.values()].filter((e) => e.length > 0).length,
    markdown_chars: markdown.length,
    validate_and_lint_ms: Math.round(t1 - t0),
    compile_ms: Math.round(t2 - t1),
    plan_ms: Math.round(t3 - t2),
    engine_ms: Math.round(plan.engine.ms),
    engine_diffs: plan.engine.diffs,
    engine_reused: plan.engine.reused,
    render_ms: Math.round(t4 - t3),
    total_ms: Math.round(t4 - t0),
    // On a shared machine the wall clock waits for other processes: the CPU time is what the plan itself cost.
    total_cpu_ms: Math.round((process.cpuUsage(cpu0).user + process.cpuUsage(cpu0).system) / 1000),
    engine_share: `${((100 * plan.engine.ms) / (t4 - t0)).toFixed(1)}%`,
    target_ms: 5000,
  };
}

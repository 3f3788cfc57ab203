// Benchmark: `plan` over 1,000 hosts and 200 policies with a 1,100-prefix deny list (target: at most 5 s), traffic
// changes included: validate and lint both revisions, compile them, the traffic diff (the engine's share), the
// resource and dataplane diffs, and the Markdown comment.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { loadResources } from '../src/model/load-resources.js';
import { validatePolicy } from '../src/traffic/validate-policy.js';
import { compileAll } from '../src/compile/compile-host.js';
import { buildPlan } from '../src/report/plan-report.js';
import { renderPlanMarkdown } from '../src/report/plan-render.js';
import { generateFleet } from './generate-repository.js';
import { policyFiles, SET_FILE_NETS, type BenchPolicy } from './control-plane/policy-files.js';

const NOTRACK_BIN = fileURLToPath(new URL('../bin/notrack.js', import.meta.url));

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

/** The plan-scale repository in `work`: the base commit, and a head that moves one member of the 1M-prefix list. */
export function planScaleRepository(work: string): {
  repo: string;
  rules: number;
  setSize: number;
  baseCommit: string;
  headCommit: string;
} {
  const rules = Number(process.env['NOTRACK_PLAN_RULES'] ?? 10_000);
  const setSize = Number(process.env['NOTRACK_PLAN_SET'] ?? 1_000_000);
  const repo = join(work, 'repo');
  const git = (...args: string[]): string => {
    const r = spawnSync('git', ['-C', repo, ...args], { encoding: 'utf8', maxBuffer: 1 << 26 });
    if (r.status !== 0) throw new Error(`git ${args.join(' ')} failed: ${r.stderr}`);
    return r.stdout.trim();
  };
  const write = (files: Record<string, string>): void => {
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(dirname(join(repo, path)), { recursive: true });
      writeFileSync(join(repo, path), text);
    }
  };
  mkdirSync(repo);
  git('init', '-q', '-b', 'main');
  git('config', 'user.email', 'bench@example.invalid');
  git('config', 'user.name', 'bench');
  const base: BenchPolicy = { rules, setSize };
  write(policyFiles(base, 'eth0'));
  git('add', '-A');
  git('commit', '-q', '-m', 'the deny lists');
  const baseCommit = git('rev-parse', 'HEAD');
  // The one-prefix change of the control-plane benchmark: one member of the list moved to an unused address.
  const changed: BenchPolicy = { ...base, changed: Math.min(1000, setSize - 1) };
  const setFile = `sets/deny-${String(Math.floor(changed.changed! / SET_FILE_NETS)).padStart(2, '0')}.yaml`;
  write({ [setFile]: policyFiles(changed, 'eth0')[setFile]! });
  git('commit', '-q', '-am', 'one prefix changed');
  const headCommit = git('rev-parse', 'HEAD');
  return { repo, rules, setSize, baseCommit, headCommit };
}

/**
 * `notrack plan` alone at the control-plane benchmark's scale (10,000 Deny rules and one 1M-prefix deny list, the
 * same files as bench/control-plane.ts), between a base and a head that changes one prefix of the list, as one
 * process under /usr/bin/time: wall clock, user + system CPU and peak RSS. A local Git repository, no namespaces:
 *   npm run bench -- plan-scale    (NOTRACK_PLAN_RULES, NOTRACK_PLAN_SET, NOTRACK_PLAN_RUNS, NOTRACK_PLAN_NODE_ARGS)
 * NOTRACK_PLAN_NODE_ARGS passes Node options to the measured process, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`.
 */
export async function benchPlanScale(): Promise<Record<string, number | string>> {
  const runs = Number(process.env['NOTRACK_PLAN_RUNS'] ?? 3);
  const nodeArgs = (process.env['NOTRACK_PLAN_NODE_ARGS'] ?? '').split(' ').filter(Boolean);
  const startLoad = loadavg()[0]!.toFixed(1);
  const work = mkdtempSync(join(tmpdir(), 'notrack-plan-scale-'));
  try {
    const { repo, rules, setSize, baseCommit, headCommit } = planScaleRepository(work);
    const measures: { seconds: number; cpu: number; rssMb: number }[] = [];
    let regions = 0;
    let example = '';
    for (let run = 0; run < runs; run++) {
      const timeFile = join(work, 'time');
      const argv = [...nodeArgs, NOTRACK_BIN, 'plan', '--repo', repo, '--base', baseCommit, '--head', headCommit];
      const r = spawnSync(
        '/usr/bin/time',
        ['-o', timeFile, '-f', '%e %M %U %S', process.execPath, ...argv, '--format', 'json'],
        {
          encoding: 'utf8',
          maxBuffer: 1 << 28,
        },
      );
      if (r.status !== 0) throw new Error(`notrack plan failed (${r.status}): ${r.stderr.slice(-2000)}`);
      const [seconds, kb, user, system] = readFileSync(timeFile, 'utf8')
        .trim()
        .split('\n')
        .at(-1)!
        .split(' ')
        .map(Number);
      const m = { seconds: seconds!, cpu: user! + system!, rssMb: kb! / 1024 };
      measures.push(m);
      const plan = JSON.parse(r.stdout) as { trafficChanges: { example: string }[] };
      regions = plan.trafficChanges.length;
      example = plan.trafficChanges.map((t) => t.example).join('; ');
      console.log(`  run ${run + 1}: ${m.seconds.toFixed(2)} s (CPU ${m.cpu.toFixed(2)} s)  ${Math.round(m.rssMb)} MB`);
    }
    const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;
    return {
      rules,
      set_prefixes: setSize,
      runs,
      traffic_regions: regions,
      examples: example.slice(0, 300),
      wall_s: median(measures.map((m) => m.seconds)).toFixed(2),
      cpu_s: median(measures.map((m) => m.cpu)).toFixed(2),
      peak_rss_mb: Math.round(median(measures.map((m) => m.rssMb))),
      load_start: startLoad,
      load_end: loadavg()[0]!.toFixed(1),
      goal: '≤ 5 s, ≤ 600 MB',
    };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/**
 * Where `notrack plan`'s time and memory go at the plan-scale size: its steps run in one process with a full GC after
 * each (so the heap figure is what the step leaves alive), CPU per step and the live heap after it:
 *   npm run bench -- plan-stages
 * The GCs it forces make its total CPU lower and its peak RSS lower than the command's (plan-scale measures those).
 */
export async function benchPlanStages(): Promise<Record<string, number | string>> {
  const work = mkdtempSync(join(tmpdir(), 'notrack-plan-stages-'));
  try {
    const { repo, baseCommit, headCommit } = planScaleRepository(work);
    const child = fileURLToPath(new URL('./plan-stages-child.ts', import.meta.url));
    const r = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', child, repo, baseCommit, headCommit], {
      encoding: 'utf8',
      maxBuffer: 1 << 26,
    });
    if (r.status !== 0) throw new Error(`plan stages failed (${r.status}): ${r.stderr.slice(-2000)}`);
    const out: Record<string, number | string> = { load_start: loadavg()[0]!.toFixed(1) };
    for (const line of r.stdout.trim().split('\n')) {
      const s = JSON.parse(line) as { stage: string; cpuS: number; heapMb: number; rssMb: number };
      out[s.stage] =
        s.stage === 'peak'
          ? `peak RSS ${Math.round(s.rssMb)} MB`
          : `CPU ${s.cpuS.toFixed(2)} s, live heap ${Math.round(s.heapMb)} MB, RSS ${Math.round(s.rssMb)} MB`;
    }
    return out;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

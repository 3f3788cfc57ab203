// Control-plane benchmark: wall time and peak RSS of `notrack apply` (first, one prefix changed with a new commit
// fetched, nothing changed, a new commit that changes no policy) and `notrack plan` at 10,000 rules plus a 1M-prefix
// set, side by side with ipset restore + iptables-restore and nft doing the same, as one Markdown table.
//
// Usage (root; namespaces only; everything is removed afterwards):
//   npm run bench -- control-plane
//   NOTRACK_CP_RUNS=3  NOTRACK_CP_RULES=10000  NOTRACK_CP_SET=1000000   runs (medians reported), rules, set size
//   NOTRACK_CP_STEPS=plan,ipset,nft   the optional parts to run (default all; empty: the notrack applies alone)
//   NOTRACK_TIMINGS=1                 notrack's applies print their stage times (src/timings.ts) under each step
//   NOTRACK_CP_PROFILE=<dir>          the no-op applies write CPU profiles there (node --cpu-prof; the profiler's
//                                     SIGPROF makes the kernel's verifier give up with EAGAIN, so only the steps
//                                     that load no program are profiled)
//
// Set-up: the host is one end of a veth pair in a namespace of its own; the Git server (git http-backend) runs in the
// peer's namespace and notrack fetches over HTTP across the veth, as a host fetches from its forge. The 1M-prefix set
// is split into GlobalNetworkSet files of 150,000 nets (one label), because the source refuses a file over 4 MiB.
// ipset/iptables and nft run in a third namespace. Each command runs under /usr/bin/time: the time is its wall
// clock, the memory its maximum resident set.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GitService } from '../src/demo/git-service.js';
import { PolicyRepository } from '../src/demo/policy-repository.js';
import { NetNs, pinDir, vethPair } from '../test/support/netns.js';
import {
  CHANGED_MEMBER,
  ipsetInputs,
  nftInput,
  policyFiles,
  setCidr,
  type BenchPolicy,
} from './control-plane/policy-files.js';

const RUNS = Number(process.env.NOTRACK_CP_RUNS ?? 3);
const RULES = Number(process.env.NOTRACK_CP_RULES ?? 10_000);
const SET = Number(process.env.NOTRACK_CP_SET ?? 1_000_000);
/** The optional parts: `NOTRACK_CP_STEPS=` (empty) measures the notrack applies alone, for quick iterations. */
const PARTS = new Set((process.env.NOTRACK_CP_STEPS ?? 'plan,ipset,nft').split(',').filter(Boolean));
const PROFILE_DIR = process.env.NOTRACK_CP_PROFILE;
const NOTRACK_BIN = fileURLToPath(new URL('../bin/notrack.js', import.meta.url));
const GIT_PORT = 8080;

/** One measured command (or the sum of a step's commands): seconds of wall clock and of CPU, peak RSS in MB. */
interface Measure {
  seconds: number;
  /** User + system time: what the work itself cost, whatever else the machine ran meanwhile. */
  cpuSeconds: number;
  rssMb: number;
}

const STEPS = ['first', 'one-prefix', 'no-op', 'no-op-commit', 'plan'] as const;
type Step = (typeof STEPS)[number];
const TOOLS = ['notrack', 'ipset', 'nft'] as const;
type Tool = (typeof TOOLS)[number];

const LABELS: Record<Step, string> = {
  first: 'first apply',
  'one-prefix': 'one prefix changed (new commit fetched)',
  'no-op': 'apply, nothing changed',
  'no-op-commit': 'apply, new commit without policy change',
  plan: 'plan (base -> one-prefix head)',
};
const GOALS: Record<Step, string> = {
  first: '≤ 4 s, ≤ 300 MB',
  'one-prefix': '≤ 1 s, ≤ 300 MB',
  'no-op': '≤ 0.5 s, ≤ 300 MB',
  'no-op-commit': '≤ 0.5 s, ≤ 300 MB',
  plan: '≤ 5 s, ≤ 600 MB',
};

/** Runs argv in `ns` under /usr/bin/time; fails loudly when the command fails. */
function timed(
  ns: NetNs,
  argv: string[],
  opts: { input?: string; env?: NodeJS.ProcessEnv } = {},
): Measure & { stdout: string } {
  const out = join(tmpdir(), `notrack-cp-time-${process.pid}`);
  const r = ns.exec(['/usr/bin/time', '-o', out, '-f', '%e %M %U %S', ...argv], {
    timeoutMs: 900_000,
    allowFail: true,
    ...(opts.input !== undefined ? { input: opts.input } : {}),
    ...(opts.env ? { env: opts.env } : {}),
  });
  const line = readFileSync(out, 'utf8').trim().split('\n').at(-1)!;
  rmSync(out, { force: true });
  // notrack --format json says why on stdout; other tools on stderr.
  const why = `${r.stderr.slice(-2000)}${r.stdout.slice(-2000)}`;
  if (r.status !== 0) {
    // The tail alone may be a verifier log: the whole output is kept for reading.
    const kept = join(tmpdir(), `notrack-cp-failed-${process.pid}.log`);
    writeFileSync(kept, `${r.stdout}\n${r.stderr}`);
    throw new Error(`${argv.join(' ').slice(0, 200)} failed (${r.status}; all of its output in ${kept}): ${why}`);
  }
  const [seconds, kb, user, system] = line.split(' ').map(Number);
  // NOTRACK_TIMINGS=1 (passed on in the environment): notrack's own stage times, shown under the step.
  for (const l of r.stderr.split('\n')) if (l.startsWith('notrack timing: ')) console.log(`    ${l.slice(16)}`);
  return { seconds: seconds!, cpuSeconds: user! + system!, rssMb: kb! / 1024, stdout: r.stdout };
}

/** The sum of a step's commands' times and the largest of their peaks (they run one after another). */
const both = (...ms: Measure[]): Measure => ({
  seconds: ms.reduce((s, m) => s + m.seconds, 0),
  cpuSeconds: ms.reduce((s, m) => s + m.cpuSeconds, 0),
  rssMb: Math.max(...ms.map((m) => m.rssMb)),
});

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

export async function benchControlPlane(): Promise<Record<string, number | string>> {
  // On a shared machine the wall clock waits for other processes: the load is printed with the table.
  const startLoad = loadavg()[0]!.toFixed(1);
  const work = mkdtempSync(join(tmpdir(), 'notrack-cp-'));
  const bpffs = pinDir();
  const pair = vethPair(77);
  const other = NetNs.create('c');
  const home = join(work, 'home');
  mkdirSync(home);
  const git = new GitService({
    namespace: pair.b.lab,
    projectRoot: join(work, 'repos'),
    home,
    address: pair.bAddr4,
    port: GIT_PORT,
  });
  let cleaned = false;
  const cleanup = async (): Promise<void> => {
    if (cleaned) return;
    cleaned = true;
    await git.stop().catch(() => {});
    pair.a.delete();
    pair.b.delete();
    other.delete();
    bpffs.cleanup();
    rmSync(work, { recursive: true, force: true });
  };
  // Ctrl-C reaches the measured command too; what the bench made is removed before it exits.
  const interrupted = (): void => void cleanup().then(() => process.exit(130));
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  const results = new Map<string, Measure[]>();
  const note = (tool: Tool, step: Step, m: Measure): void => {
    const k = `${tool}/${step}`;
    results.set(k, [...(results.get(k) ?? []), m]);
    console.log(
      `  ${tool.padEnd(8)} ${LABELS[step].padEnd(42)} ${m.seconds.toFixed(2)} s (CPU ${m.cpuSeconds.toFixed(2)} s)  ${Math.round(m.rssMb)} MB`,
    );
  };
  try {
    const repo = await PolicyRepository.create({
      projectRoot: join(work, 'repos'),
      workDir: join(work, 'clone'),
      home,
      name: 'policies',
      branch: 'main',
    });
    await git.start();
    const url = git.url('policies');
    const base: BenchPolicy = { rules: RULES, setSize: SET };
    const t0 = Date.now();
    let commit = await repo.commit(policyFiles(base, pair.aDev), 'the deny lists');
    console.log(`  repository: ${RULES} rules, ${SET} prefixes, committed in ${Date.now() - t0} ms`);

    for (let run = 0; run < RUNS; run++) {
      console.log(`  run ${run + 1} of ${RUNS}`);
      const place = join(work, `run-${run}`);
      const env = { ...process.env, XDG_CACHE_HOME: join(place, 'cache') };
      const hostArgs = [
        '--host',
        'bench',
        '--bpffs',
        join(bpffs.path, `run-${run}`),
        '--state-dir',
        join(place, 'state'),
        '--format',
        'json',
      ];
      const notrack = (args: string[], profiled = false) => {
        const prof = PROFILE_DIR && profiled ? ['--cpu-prof', '--cpu-prof-dir', PROFILE_DIR] : [];
        return timed(pair.a, [process.execPath, ...prof, NOTRACK_BIN, ...args], { env });
      };
      const apply = (profiled = false) => notrack(['apply', '--repo', url, ...hostArgs], profiled);
      if (run > 0) commit = await repo.commit(policyFiles(base, pair.aDev), `the deny lists again (run ${run + 1})`);
      const baseCommit = commit;

      note('notrack', 'first', apply());
      note('notrack', 'no-op', apply(true));
      const changed: BenchPolicy = { ...base, changed: 1000 + run * 7919 };
      const setFile = `sets/deny-${String(Math.floor(changed.changed! / 150_000)).padStart(2, '0')}.yaml`;
      commit = await repo.commit({ [setFile]: policyFiles(changed, pair.aDev)[setFile]! }, 'one prefix changed');
      const one = apply();
      if (!(JSON.parse(one.stdout) as { changes: unknown[] }).changes.length)
        throw new Error(`the one-prefix apply changed nothing: ${one.stdout.slice(0, 2000)}`);
      note('notrack', 'one-prefix', one);
      commit = await repo.commit({ 'README.md': `run ${run + 1}\n` }, 'a README change');
      note('notrack', 'no-op-commit', apply(true));
      if (PARTS.has('plan'))
        note(
          'notrack',
          'plan',
          notrack(['plan', '--repo', url, '--base', baseCommit, '--head', commit, '--format', 'json']),
        );
      pair.a.exec([process.execPath, NOTRACK_BIN, 'remove', ...hostArgs.slice(2, 6)], { timeoutMs: 120_000, env });
      rmSync(place, { recursive: true, force: true });
      // Back to the base policy for the next run's first apply.
      commit = await repo.commit({ [setFile]: policyFiles(base, pair.aDev)[setFile]!, 'README.md': null }, 'back');

      const old = setCidr(changed.changed!, SET);
      if (PARTS.has('ipset')) {
        // ipset + iptables-restore: a hash:net set and the raw rules; the change is one del and one add.
        const ip = ipsetInputs(base);
        note(
          'ipset',
          'first',
          both(
            timed(other, ['ipset', 'restore'], { input: ip.ipset }),
            timed(other, ['iptables-restore'], { input: ip.iptables }),
          ),
        );
        note(
          'ipset',
          'one-prefix',
          both(
            timed(other, ['ipset', 'del', 'cp-deny', old]),
            timed(other, ['ipset', 'add', 'cp-deny', CHANGED_MEMBER]),
          ),
        );
        // What a script run again does: the whole restore, existing members accepted.
        note(
          'ipset',
          'no-op',
          both(
            timed(other, ['ipset', 'restore', '-exist'], { input: ip.ipset }),
            timed(other, ['iptables-restore'], { input: ip.iptables }),
          ),
        );
        other.exec(['iptables-restore'], { input: '*raw\n:PREROUTING ACCEPT [0:0]\nCOMMIT\n' });
        other.exec(['ipset', 'destroy', 'cp-deny']);
      }
      if (PARTS.has('nft')) {
        // nft: one script replacing its table atomically; the change is one transaction deleting and adding a member.
        const script = nftInput(base);
        note('nft', 'first', timed(other, ['nft', '-f', '-'], { input: script }));
        note(
          'nft',
          'one-prefix',
          timed(other, ['nft', '-f', '-'], {
            input: `delete element ip cp deny { ${old} }\nadd element ip cp deny { ${CHANGED_MEMBER} }\n`,
          }),
        );
        note('nft', 'no-op', timed(other, ['nft', '-f', '-'], { input: script }));
        other.exec(['nft', 'delete', 'table', 'ip', 'cp']);
      }
    }
  } finally {
    await cleanup();
    process.off('SIGINT', interrupted);
    process.off('SIGTERM', interrupted);
  }

  const med = (tool: Tool, step: Step, f: (m: Measure) => number): number | null => {
    const ms = results.get(`${tool}/${step}`);
    return ms ? median(ms.map(f)) : null;
  };
  const cell = (tool: Tool, step: Step): string => {
    const wall = med(tool, step, (m) => m.seconds);
    if (wall === null) return '— | —';
    return `${wall.toFixed(2)} s | ${Math.round(med(tool, step, (m) => m.rssMb)!)} MB`;
  };
  console.log('');
  console.log(
    `Control plane, ${RULES.toLocaleString('en')} rules + a ${SET.toLocaleString('en')}-prefix set (medians of ${RUNS} runs; load average ${startLoad} at start, ${loadavg()[0]!.toFixed(1)} at the end)`,
  );
  console.log('');
  console.log(
    '| step | notrack time | notrack CPU | notrack peak RSS | ipset + iptables-restore | peak RSS | nft | peak RSS | goal |',
  );
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---|');
  for (const step of STEPS) {
    const cpuMedian = med('notrack', step, (m) => m.cpuSeconds);
    if (cpuMedian === null) continue;
    const cpu = `${cpuMedian.toFixed(2)} s`;
    const [time, rss] = cell('notrack', step).split(' | ');
    console.log(
      `| ${LABELS[step]} | ${time} | ${cpu} | ${rss} | ${cell('ipset', step)} | ${cell('nft', step)} | ${GOALS[step]} |`,
    );
  }
  const out: Record<string, number | string> = { rules: RULES, set_prefixes: SET, runs: RUNS };
  for (const [k, ms] of results) {
    out[`${k}_s`] = Number(median(ms.map((m) => m.seconds)).toFixed(2));
    out[`${k}_cpu_s`] = Number(median(ms.map((m) => m.cpuSeconds)).toFixed(2));
    out[`${k}_rss_mb`] = Math.round(median(ms.map((m) => m.rssMb)));
  }
  return out;
}

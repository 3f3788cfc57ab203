// Benchmark: the first apply's front half at the control-plane bench's scale (10,000 rules, a 1M-prefix list),
// each run a fresh process: the first fetch over HTTP from git http-backend into an empty cache, then the load.
// The repository is served twice, as the control-plane bench's server holds a pushed commit (loose objects, so
// git pack-objects compresses and searches deltas on every fetch) and repacked, as a forge keeps it.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startGitServer } from '../test/support/git-server.js';
import { policyFiles } from './control-plane/policy-files.js';

const RUNS = Number(process.env.NOTRACK_FH_RUNS ?? 3);
const CHILD = fileURLToPath(new URL('./front-half-child.ts', import.meta.url));

interface Run {
  fetchSeconds: number;
  fetchCpuSeconds: number;
  fetchRssMb: number;
  loadSeconds: number;
  loadCpuSeconds: number;
  rssMb: number;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function benchFrontHalf(): Promise<Record<string, number | string>> {
  const server = await startGitServer();
  const work = mkdtempSync(join(tmpdir(), 'notrack-front-half-'));
  try {
    const files = policyFiles({ rules: 10_000, setSize: 1_000_000 }, 'eth0');
    await server.createRepo('loose', files);
    await server.createRepo('packed', files);
    await server.git('packed', ['repack', '-adq']);
    const runs: Record<string, Run[]> = { loose: [], packed: [] };
    for (let i = 0; i < RUNS; i++) {
      for (const repo of ['loose', 'packed'] as const) {
        const cache = join(work, `${repo}-${i}`);
        // Asynchronous: the Git server answers from this process.
        const { stdout } = await promisify(execFile)(process.execPath, [
          '--import',
          'tsx',
          CHILD,
          server.url(repo),
          cache,
        ]);
        const run = JSON.parse(stdout.trim().split('\n').at(-1)!) as Run;
        runs[repo]!.push(run);
        console.log(
          `  ${repo.padEnd(6)} fetch ${run.fetchSeconds.toFixed(2)} s (CPU ${run.fetchCpuSeconds.toFixed(2)} s, ` +
            `${Math.round(run.fetchRssMb)} MB)  load ${run.loadSeconds.toFixed(2)} s (CPU ${run.loadCpuSeconds.toFixed(2)} s)  ` +
            `${Math.round(run.rssMb)} MB`,
        );
      }
    }
    const out: Record<string, number | string> = { runs: RUNS };
    for (const [repo, rs] of Object.entries(runs)) {
      for (const key of [
        'fetchSeconds',
        'fetchCpuSeconds',
        'fetchRssMb',
        'loadSeconds',
        'loadCpuSeconds',
        'rssMb',
      ] as const)
        out[`${repo}_${key}`] = +median(rs.map((r) => r[key])).toFixed(2);
    }
    return out;
  } finally {
    await server.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

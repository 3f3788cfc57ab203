// The pure stages of a first apply of the control-plane bench's policy, one after another in one process: CPU time
// of each, and the heap what it returns holds (no kernel, no root: the program is compiled, not loaded).
//
// Usage: node --expose-gc --import tsx bench/apply-stages.ts   (NOTRACK_STAGES_SET=1000000, NOTRACK_STAGES_RULES=10000)
import { loadavg } from 'node:os';
import { Worker } from 'node:worker_threads';
import { policyFiles } from './control-plane/policy-files.js';
import { loadResources } from '../src/model/load-resources.js';
import { compileHost } from '../src/compile/compile-host.js';
import { compilePolicyProgram } from '../src/compile/program/index.js';

const setSize = Number(process.env['NOTRACK_STAGES_SET'] ?? 1_000_000);
const rules = Number(process.env['NOTRACK_STAGES_RULES'] ?? 10_000);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');

const files = Object.entries(policyFiles({ rules, setSize }, 'eth0')).map(([path, text]) => {
  const content = new TextEncoder().encode(text);
  return { path, content, size: content.length };
});
const mb = (n: number): string => `${Math.round(n / 1e6)} MB`;
gc();
let held = process.memoryUsage().heapUsed;
const load0 = loadavg()[0]!;

// The stages run synchronously, so a worker thread samples the process's RSS (every 2 ms) for the peak within each.
const stagePeak = new Int32Array(new SharedArrayBuffer(4));
const sampler = new Worker(
  `const { workerData: peak } = require('node:worker_threads');
   setInterval(() => Atomics.store(peak, 0, Math.max(Atomics.load(peak, 0), Math.round(process.memoryUsage.rss() / 1e6))), 2);`,
  { eval: true, workerData: stagePeak },
);
await new Promise((done) => sampler.once('online', done));
sampler.unref();

/** Runs one stage, then says its CPU time, the peak RSS while it ran, and how much more heap is held once it returned. */
function stage<T>(name: string, run: () => T): T {
  Atomics.store(stagePeak, 0, Math.round(process.memoryUsage.rss() / 1e6));
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const out = run();
  const wall = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  gc!();
  const now = process.memoryUsage().heapUsed;
  console.log(
    `  ${name.padEnd(26)} CPU ${((cpu.user + cpu.system) / 1e6).toFixed(2)} s (wall ${(wall / 1000).toFixed(2)} s), ` +
      `peak RSS ${Atomics.load(stagePeak, 0)} MB, heap held ${now >= held ? '+' : '-'}${mb(Math.abs(now - held))}`,
  );
  held = now;
  return out;
}

console.log(`apply-stages: ${rules} rules, ${setSize} prefixes, load average ${load0.toFixed(1)}`);
const loaded = stage('load (parse, validate)', () => loadResources(files));
const state = stage('compile the host', () => compileHost(loaded.resources, 'bench'));
stage('compile the policy program', () => compilePolicyProgram(state, state.interfaces[0]!, {}));
stage('state file text', () => JSON.stringify({ formatVersion: 2, state }).length);
console.log(`  peak RSS ${mb(process.resourceUsage().maxRSS * 1024)} (the generated files included)`);

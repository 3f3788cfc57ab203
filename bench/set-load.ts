// Loading one revision of the control-plane bench's policy (10,000 rules, a 1M-prefix set in seven files): CPU time,
// the heap the loaded resources hold and the process's peak RSS, for the model stage alone.
//
// Usage: node --expose-gc --import tsx bench/set-load.ts   (NOTRACK_SET_LOAD_SET=1000000, NOTRACK_SET_LOAD_RULES=10000)
import { loadavg } from 'node:os';
import { policyFiles } from './control-plane/policy-files.js';
import { loadResources } from '../src/model/load-resources.js';

const setSize = Number(process.env['NOTRACK_SET_LOAD_SET'] ?? 1_000_000);
const rules = Number(process.env['NOTRACK_SET_LOAD_RULES'] ?? 10_000);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');

// The files as the source stage hands them over: bytes, then the generator's strings are garbage.
const files = Object.entries(policyFiles({ rules, setSize }, 'eth0')).map(([path, text]) => {
  const content = new TextEncoder().encode(text);
  return { path, content, size: content.length };
});
gc();
const heapBefore = process.memoryUsage().heapUsed;
const cpu0 = process.cpuUsage();
const t0 = performance.now();
const loaded = loadResources(files);
const wall = performance.now() - t0;
const cpu = process.cpuUsage(cpu0);
gc();
const held = process.memoryUsage().heapUsed - heapBefore;
const nets = loaded.resources.networkSets.reduce((n, s) => n + s.nets.length, 0);
const mb = (n: number) => `${Math.round(n / 1e6)} MB`;
console.log(
  `set-load: ${files.length} files, ${(files.reduce((n, f) => n + f.size, 0) / 1e6).toFixed(1)} MB, ${nets} nets, valid ${loaded.valid}: ` +
    `wall ${(wall / 1000).toFixed(2)} s, CPU ${((cpu.user + cpu.system) / 1e6).toFixed(2)} s (user ${(cpu.user / 1e6).toFixed(2)}, system ${(cpu.system / 1e6).toFixed(2)}), ` +
    `heap held by the result ${mb(held)}, load average ${loadavg()[0]!.toFixed(1)}`,
);

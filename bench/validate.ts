// Benchmark: validating a generated repository of 10,000 resources (target: at most 2 s on this machine).
import { performance } from 'node:perf_hooks';
import { loadResources } from '../src/model/load-resources.js';
import { generateRepository } from './generate-repository.js';

export async function benchValidate(total = 10_000, runs = 3): Promise<Record<string, number | string>> {
  const files = generateRepository(total);
  const bytes = files.reduce((n, f) => n + f.size, 0);
  loadResources(generateRepository(200)); // warm up the schema compiler and the JIT on a small input
  const times: number[] = [];
  let last: ReturnType<typeof loadResources> | undefined;
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    last = loadResources(files);
    times.push(performance.now() - t0);
  }
  const errors = last!.diagnostics.filter((d) => d.severity === 'error');
  if (errors.length) throw new Error(`generated repository is invalid: ${errors[0]!.message}`);
  times.sort((a, b) => a - b);
  return {
    resources: total,
    files: files.length,
    megabytes: +(bytes / 1e6).toFixed(2),
    median_ms: Math.round(times[Math.floor(runs / 2)]!),
    best_ms: Math.round(times[0]!),
    target_ms: 2000,
    warnings: last!.diagnostics.filter((d) => d.severity === 'warning').length,
  };
}

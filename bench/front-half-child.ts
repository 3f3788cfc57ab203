// One fresh process of the front-half benchmark: the first fetch of a repository into an empty cache, then loading
// its files (parse, schema, semantic checks, lint); prints one JSON line of seconds, CPU seconds and RSS.
import { performance } from 'node:perf_hooks';
import { fetchSource } from '../src/source/index.js';
import { loadResources } from '../src/model/load-resources.js';

const [url, cacheDir] = process.argv.slice(2);
const cpu = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};
const c0 = cpu();
const t0 = performance.now();
const snapshot = await fetchSource({ repo: url!, cacheDir: cacheDir!, allowInsecureHttp: true });
const c1 = cpu();
const t1 = performance.now();
const fetchRssMb = process.memoryUsage().rss / 2 ** 20;
const loaded = loadResources(snapshot.files);
const errors = loaded.diagnostics.filter((d) => d.severity === 'error');
if (errors.length) throw new Error(`the bench's policy is invalid: ${errors[0]!.message}`);
console.log(
  JSON.stringify({
    fetchSeconds: (t1 - t0) / 1000,
    fetchCpuSeconds: c1 - c0,
    fetchRssMb,
    loadSeconds: (performance.now() - t1) / 1000,
    loadCpuSeconds: cpu() - c1,
    rssMb: process.memoryUsage().rss / 2 ** 20,
  }),
);

// Child of `npm run bench -- plan-stages` (run with --expose-gc): `notrack plan`'s steps in one process, as the
// command runs them, each followed by a full GC, printing per step the CPU it took and the live heap after it.
import { fetchSource } from '../src/source/index.js';
import { loadPlanRevisions } from '../src/report/plan-revisions.js';
import { knownHeadFile } from '../src/report/plan-share.js';
import { buildPlan } from '../src/report/plan-report.js';
import { renderPlanJson } from '../src/report/plan-render.js';

const [repo, baseRef, headRef] = process.argv.slice(2) as [string, string, string];
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');
let cpu = process.cpuUsage();
const stage = (name: string): void => {
  const used = process.cpuUsage(cpu);
  gc();
  const m = process.memoryUsage();
  const line = {
    stage: name,
    cpuS: (used.user + used.system) / 1e6,
    heapMb: m.heapUsed / 2 ** 20,
    rssMb: m.rss / 2 ** 20,
  };
  console.log(JSON.stringify(line));
  cpu = process.cpuUsage();
};
const head = await fetchSource({ repo, ref: headRef });
stage('read head');
const base = await fetchSource({ repo, ref: baseRef, knownFile: knownHeadFile(head) });
stage('read base');
const revisions = loadPlanRevisions(base, head, stage);
const plan = buildPlan(revisions.base, revisions.head);
stage('plan');
renderPlanJson({ repo, base: { ref: baseRef, commit: null }, head: { ref: headRef, commit: null } }, plan, []);
stage('render');
console.log(JSON.stringify({ stage: 'peak', cpuS: 0, heapMb: 0, rssMb: process.resourceUsage().maxRSS / 1024 }));

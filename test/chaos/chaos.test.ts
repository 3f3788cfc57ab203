// The 3-minute chaos run of `npm test` (issue 12): random faults against the real agent with an allowed flow and a
// deny-listed flood, and the goals asserted: unprotected at most 2 s (never while the agent ran, but for a new
// interface until the link watch attached it), no flood past XDP outside unprotected windows, no allowed packet lost
// outside rollback windows, converged at the end, no fault showing a wrong behaviour, and, where the product rolls
// back, no lock-out left standing.
import * as assert from 'uvu/assert';
import { kernelGate } from '../support/kernel-gate.js';
import { RECONCILE_TOOLS } from '../support/reconcile-fixture.js';
import { figuresTable } from './figures.js';
import { hasRollback, runChaos } from './run-chaos.js';

const gate = kernelGate('chaos', { tools: RECONCILE_TOOLS });
/** A fixed seed, so a failure in CI replays with `npm run chaos -- --seed 12 --minutes 3`; CHAOS_SEED overrides it. */
const SEED = Number(process.env.CHAOS_SEED ?? 12);

gate.test(`a 3-minute chaos run (seed ${SEED}) meets the goals of issue 12`, async () => {
  const result = await runChaos({ minutes: 3, seed: SEED, log: (l) => console.log(l) });
  const f = result.figures;
  console.log(figuresTable(f));
  const problems = result.faults.filter((x) => x.problem).map((x) => `${x.kind}: ${x.problem}`);
  assert.equal(problems, [], 'every fault behaved');
  assert.ok(
    result.faults.some((x) => x.kind === 'lockout'),
    'a lock-out commit was among the faults',
  );
  for (const g of f.goals) {
    // Without automatic rollback in the product a lock-out stays until a person acts: the run reports that figure
    // (and `npm run chaos` fails on it), but this test cannot hold a build to a feature it does not have.
    if (g.figure.startsWith('Lock-outs') && !hasRollback()) {
      console.log(`no automatic rollback in this build: lock-outs that did not roll back: ${g.value}`);
      continue;
    }
    assert.ok(g.met, `${g.figure}: ${g.value} (goal ${g.goal})`);
  }
});

gate.test.run();

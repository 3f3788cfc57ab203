// The 3-minute chaos run of `npm test` (issue 12): random faults against the real agent with an allowed flow and a
// deny-listed flood, and the goals asserted: unprotected at most 2 s (none while the agent was not killed), no
// flood past XDP outside unprotected windows, no allowed packet lost outside rollback windows, converged at the
// end, no fault showing a wrong behaviour, and, where the product rolls back, no lock-out left standing.
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
  const goal = (name: string) => f.goals.find((g) => g.figure.startsWith(name))!;
  const problems = result.faults.filter((x) => x.problem).map((x) => `${x.kind}: ${x.problem}`);
  assert.equal(problems, [], 'every fault behaved');
  assert.ok(goal('Longest time').met, goal('Longest time').value);
  assert.ok(goal('… while the agent').met, goal('… while the agent').value);
  assert.ok(goal('Flood packets').met, goal('Flood packets').value);
  assert.ok(goal('Allowed-flow').met, goal('Allowed-flow').value);
  assert.ok(goal('Final state').met, goal('Final state').value);
  assert.ok(
    result.faults.some((x) => x.kind === 'lockout'),
    'a lock-out commit was among the faults',
  );
  // Without automatic rollback in the product a lock-out stays until a person acts: the run reports that figure
  // (and `npm run chaos` fails on it) but this test cannot hold a build to a feature it does not have.
  if (hasRollback()) assert.ok(goal('Lock-outs').met, goal('Lock-outs').value);
  else console.log(`no automatic rollback in this build: lock-outs that did not roll back: ${goal('Lock-outs').value}`);
});

gate.test.run();

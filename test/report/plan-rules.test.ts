// A plan's per-host rule diff skips the text of a rule whose entries are unchanged (same entries, same sets of the
// same origin) and still reports exactly what comparing every rule's text reports, on random pull requests.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadResources } from '../../src/model/load-resources.js';
import { compileAll } from '../../src/compile/compile-host.js';
import { planAll } from '../../src/report/plan.js';
import { randomPolicyPair } from '../support/random-policies.js';
import { mulberry32 } from '../support/seeded-random.js';

const SEED = Number(process.env['NOTRACK_SEED'] ?? Date.now() % 1e9);

test(`rule changes are those of comparing every rule's text, on random pull requests (seed ${SEED})`, () => {
  const r = mulberry32(SEED);
  let updates = 0;
  for (let round = 0; round < 60; round++) {
    const pair = randomPolicyPair(r);
    const [b, h] = [loadResources(pair.base), loadResources(pair.head)];
    if (!b.valid || !h.valid) continue;
    const [bs, hs] = [compileAll(b.resources), compileAll(h.resources)];
    const plan = planAll(bs, hs);
    assert.equal(plan, planAll(bs, hs, { compareTexts: true }), `seed ${SEED}, round ${round}: ${pair.changes}`);
    updates += JSON.stringify(plan).match(/"action":"update"/g)?.length ?? 0;
  }
  assert.ok(updates > 0, 'the pull requests change rules');
});

test.run();

// A set's resource diff from the packed lists the set-file scanner reads is the diff of the same lists read as YAML:
// random lists of both families with repeated, reordered, added and removed nets.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DEFAULT_DOCUMENT_LIMITS, type DocumentLimits } from '../../src/model/documents.js';
import { loadResources } from '../../src/model/load-resources.js';
import { planResources } from '../../src/report/plan-resources.js';
import { policyFile } from '../support/policy-files.js';
import { mulberry32, type Rng } from '../support/seeded-random.js';

const SEED = Number(process.env['NOTRACK_SEED'] ?? Date.now() % 1e9);

const int = (r: Rng, n: number): number => Math.floor(r() * n);

function randomNet(r: Rng): string {
  if (r() < 0.2) return `2001:db8:${int(r, 4).toString(16)}::/${[48, 64, 128][int(r, 3)]}`;
  return `10.${int(r, 2)}.${int(r, 4)}.0/${[16, 24][int(r, 2)]}`.replace(/\.\d+\.0\/16$/, '.0.0/16');
}

const setFile = (nets: readonly string[]) =>
  policyFile(
    'sets/list.yaml',
    'apiVersion: projectcalico.org/v3\nkind: GlobalNetworkSet\nmetadata:\n  name: list\n  labels: { list: deny }\n' +
      `spec:\n  nets:\n${nets.map((n) => `    - ${n}\n`).join('')}`,
  );

test(`packed and YAML-read sets diff alike (seed ${SEED})`, () => {
  const r = mulberry32(SEED);
  let changed = 0;
  for (let round = 0; round < 200; round++) {
    const before = Array.from({ length: 1 + int(r, 12) }, () => randomNet(r));
    const after = before.filter(() => r() > 0.2);
    for (let i = 1 + int(r, 4); i > 0; i--) after.splice(int(r, after.length + 1), 0, randomNet(r));
    if (r() < 0.3) after.reverse();
    const diff = (limits: DocumentLimits) => {
      const [b, h] = [loadResources([setFile(before)], limits), loadResources([setFile(after)], limits)];
      assert.ok(b.valid && h.valid, JSON.stringify([...b.diagnostics, ...h.diagnostics].slice(0, 2)));
      return { changes: planResources(b.resources, h.resources), packed: !!h.resources.networkSets[0]?.packedNets };
    };
    const [yaml, packed] = [diff(DEFAULT_DOCUMENT_LIMITS), diff({ ...DEFAULT_DOCUMENT_LIMITS, setScanMinBytes: 1 })];
    assert.ok(packed.packed, 'the scanner read the list');
    assert.equal(packed.changes, yaml.changes, `round ${round}: ${before.join(' ')} -> ${after.join(' ')}`);
    if (yaml.changes.length) changed++;
  }
  assert.ok(changed > 50);
});

test.run();

// Rule ids for metrics: a rule keeps its id when other rules are inserted before it (positions shift, series do
// not), gets a new one when it is edited, and identical rules of one policy are told apart.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { compileHost } from '../../src/compile/compile-host.js';
import { ruleIds } from '../../src/compile/rule-id.js';
import { validYaml } from '../support/policy-files.js';

const HOST = `apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata: { name: db-1-eth0, labels: { role: db } }
spec: { node: db-1, interfaceName: eth0 }
`;

function policy(rules: string[]): string {
  return `${HOST}---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: { name: db }
spec:
  selector: role == 'db'
  doNotTrack: true
  applyOnForward: true
  types: [Ingress]
  ingress:
${rules.map((r) => `    - ${r}`).join('\n')}
`;
}

function idsByIndex(rules: string[]): { index: number; id: string }[] {
  const iface = compileHost(validYaml('p.yaml', policy(rules)), 'db-1').interfaces[0]!;
  const ids = ruleIds(iface);
  return iface.counters.map((ref, i) => ({ index: ref.index, id: ids[i]! }));
}

const POSTGRES = '{ action: Allow, protocol: TCP, source: { nets: [10.0.1.0/24] }, destination: { ports: [5432] } }';
const DENY = '{ action: Deny, source: { nets: [198.51.100.0/24] } }';
const NEW = '{ action: Allow, protocol: UDP, destination: { ports: [53] } }';

test('inserting a rule first shifts the indexes of the others but not their ids', () => {
  const before = idsByIndex([POSTGRES, DENY]);
  const after = idsByIndex([NEW, POSTGRES, DENY]);
  assert.equal(
    before.map((r) => r.index),
    [0, 1],
  );
  assert.equal(
    after.map((r) => r.index),
    [0, 1, 2],
  );
  assert.is(after[1]!.id, before[0]!.id);
  assert.is(after[2]!.id, before[1]!.id);
  assert.ok(!before.some((r) => r.id === after[0]!.id), 'the new rule has an id of its own');
  assert.match(after[0]!.id, /^[0-9a-f]{12}$/);
});

test('editing a rule gives it a new id', () => {
  const a = idsByIndex([POSTGRES]);
  const b = idsByIndex([POSTGRES.replace('5432', '5433')]);
  assert.is.not(a[0]!.id, b[0]!.id);
});

test('two identical rules in one policy get distinct ids', () => {
  const ids = idsByIndex([DENY, DENY]).map((r) => r.id);
  assert.is(ids[1], `${ids[0]}-2`);
});

test.run();

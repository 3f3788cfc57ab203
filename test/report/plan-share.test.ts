// The base's network sets from files the head holds unchanged are the head's objects (a 1M-prefix list held once),
// and the plan made with them is the plan made without.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadResources } from '../../src/model/load-resources.js';
import type { PolicyFile } from '../../src/model/documents.js';
import type { ResourceSet } from '../../src/model/resources.js';
import { compileAll } from '../../src/compile/compile-host.js';
import { buildPlan } from '../../src/report/plan-report.js';
import { renderPlanJson } from '../../src/report/plan-render.js';
import { shareUnchangedSets } from '../../src/report/plan-share.js';
import { documentsFile } from '../support/policy-files.js';
import { hostEndpoint, networkSet, untrackedPolicy } from '../support/resource-documents.js';

const POLICY = untrackedPolicy('deny-lists', {
  selector: "role == 'edge'",
  types: ['Ingress'],
  ingress: [{ action: 'Deny', source: { selector: "list == 'deny'" } }],
});

function revision(second: string[]): PolicyFile[] {
  return [
    documentsFile('hosts/edge-1.yaml', [
      hostEndpoint('edge-1-eth0', 'edge-1', { interfaceName: 'eth0' }, { role: 'edge' }),
    ]),
    documentsFile('sets/a.yaml', [networkSet('list-a', { list: 'deny' }, ['198.51.100.0/24', '203.0.113.7/32'])]),
    documentsFile('sets/b.yaml', [networkSet('list-b', { list: 'deny' }, second)]),
    documentsFile('policies/deny.yaml', [POLICY]),
  ];
}

test('sets of unchanged files are shared; the changed file keeps its own; the plan is the same', () => {
  const [baseFiles, headFiles] = [revision(['192.0.2.0/25']), revision(['192.0.2.0/26'])];
  const [b, h] = [loadResources(baseFiles), loadResources(headFiles)];
  assert.ok(b.valid && h.valid);
  const shared = shareUnchangedSets(b.resources, baseFiles, h.resources, headFiles);
  const set = (r: ResourceSet, name: string) => r.networkSets.find((s) => s.name === name)!;
  assert.ok(set(shared, 'list-a') === set(h.resources, 'list-a'), 'list-a comes from an unchanged file: shared');
  assert.ok(set(shared, 'list-b') === set(b.resources, 'list-b'), "list-b's file changed: the base's own");
  const subject = { repo: 'r', base: { ref: 'a', commit: null }, head: { ref: 'b', commit: null } };
  const head = { states: compileAll(h.resources), resources: h.resources, files: headFiles };
  const plan = (base: ResourceSet) =>
    renderPlanJson(subject, buildPlan({ states: compileAll(base), resources: base, files: baseFiles }, head), []);
  const withShared = plan(shared);
  assert.is(withShared, plan(b.resources));
  assert.match(withShared, /192\.0\.2\.64\/26/, 'the plan shows the addresses list-b no longer holds');
});

test.run();

// The exact lints take a rule that some host's decision list shows matching a packet as matching, without lowering it
// again: on random repositories, with rules that match nothing mixed in, the lints are the same findings, in the same
// order and words, as when every rule is lowered again (the old path, kept as the reference).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadResources } from '../../src/model/load-resources.js';
import { formatDiagnostic } from '../../src/model/diagnostics.js';
import { compileAll } from '../../src/compile/compile-host.js';
import { lintTraffic } from '../../src/traffic/lint.js';
import { documentsFile } from '../support/policy-files.js';
import { randomPolicyPair } from '../support/random-policies.js';
import { untrackedPolicy } from '../support/resource-documents.js';
import { mulberry32 } from '../support/seeded-random.js';

const SEED = Number(process.env['NOTRACK_SEED'] ?? Date.now() % 1e9);

/** Rules that match no packet, each for another reason, beside rules that do (on every endpoint, or on none). */
function contradictions(k: number): object {
  return untrackedPolicy(`contradictions-${k}`, {
    order: 50 + k,
    selector: k % 2 ? 'all()' : "role == 'nowhere'",
    types: ['Ingress', 'Egress'],
    ingress: [
      { action: 'Deny', source: { nets: ['10.0.0.0/8'], notNets: ['10.0.0.0/7'] } },
      { action: 'Deny', protocol: 'TCP', destination: { ports: ['80:90'], notPorts: ['70:100'] } },
      { action: 'Allow', protocol: 'ICMP', icmp: { type: 8 }, notICMP: { type: 8 } },
      { action: 'Deny', source: { nets: ['198.18.0.0/15'] } },
    ],
    egress: [
      { action: 'Deny', protocol: 'UDP', notProtocol: 'UDP' },
      { action: 'Deny', destination: { nets: ['fd00::/16'] }, source: { nets: ['10.0.0.0/8'] } },
      { action: 'Pass', destination: { nets: ['203.0.113.0/25'] } },
    ],
  });
}

test(`rules a decision list shows matching are not lowered again, and the lints are the same (seed ${SEED})`, () => {
  const r = mulberry32(SEED);
  let empty = 0,
    findings = 0;
  for (let round = 0; round < 40; round++) {
    const { head } = randomPolicyPair(r);
    const files = round % 2 ? [...head, documentsFile('contradictions.yaml', [contradictions(round)])] : head;
    const loaded = loadResources(files);
    if (!loaded.valid) continue;
    const states = compileAll(loaded.resources);
    const lint = (lowerEveryRule: boolean) =>
      lintTraffic(loaded.resources, loaded.policyDocuments, loaded.diagnostics, states, { lowerEveryRule }).map(
        formatDiagnostic,
      );
    const reference = lint(true);
    assert.equal(lint(false), reference, `seed ${SEED}, round ${round}`);
    empty += reference.filter((d) => d.includes('[empty-rule]')).length;
    findings += reference.length;
  }
  // The comparison means something: rules that match nothing were found, and other findings beside them.
  assert.ok(empty > 0, 'some rules match no packet');
  assert.ok(findings > empty, 'other findings too');
});

test.run();

// Diagnostics located only when reported: ASCII files (decoded byte for byte) and UTF-8 files with characters of
// several bytes before the fault give the same exact line and column, in a rule file and deep in a 64 KB set file.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadResources } from '../../src/model/load-resources.js';
import { parseDocuments } from '../../src/model/documents.js';
import { formatDiagnostic } from '../../src/model/diagnostics.js';
import { policyFile } from '../support/policy-files.js';

/** A policy whose second rule has an action no schema allows, after `comment` on its own line. */
const policy = (comment: string) =>
  [
    'apiVersion: projectcalico.org/v3',
    'kind: GlobalNetworkPolicy',
    'metadata:',
    '  name: office',
    `# ${comment}`,
    'spec:',
    '  selector: all()',
    '  doNotTrack: true',
    '  applyOnForward: true',
    '  ingress:',
    '    - action: Deny',
    '      source: { nets: [10.0.0.0/8] }',
    `    - action: Dance # ${comment}`,
    '',
  ].join('\n');

const errors = (text: string) =>
  loadResources([policyFile('p.yaml', text)])
    .diagnostics.filter((d) => d.severity === 'error')
    .map((d) => [d.line, d.col, d.code, d.path]);

test('a rule file: the error names its line and column whether the file is ASCII or holds multi-byte characters', () => {
  const ascii = errors(policy('Zurich office'));
  assert.equal(ascii.length, 1);
  assert.equal(ascii[0]!.slice(0, 2), [13, 15]);
  assert.equal(errors(policy('Zürich — office ✓')), ascii);
  // A byte-order mark is not a column.
  assert.equal(errors(`\ufeff${policy('Zürich')}`), ascii);
});

test('a 64 KB set file read by the scanner: a net with host bits is warned about at its own line, far down', () => {
  const nets = Array.from({ length: 5000 }, (_, i) => `  - 10.${i >> 8}.${i & 255}.0/24`);
  nets[4321] = '  - 10.99.1.7/24 # a host, by mistake';
  const text = (comment: string) =>
    `apiVersion: projectcalico.org/v3\nkind: GlobalNetworkSet\n# ${comment}\nmetadata:\n  name: deny\n  labels: { role: deny }\nspec:\n  nets:\n${nets.join('\n')}\n`;
  for (const comment of ['deny list', 'liste noire — Zürich']) {
    const f = policyFile('sets/deny.yaml', text(comment));
    assert.ok(f.size >= 64 * 1024);
    assert.ok(
      parseDocuments([f]).documents.some((d) => d.scannedNets !== undefined),
      'read by the scanner, positions left for later',
    );
    assert.equal(loadResources([f]).diagnostics.map(formatDiagnostic), [
      'sets/deny.yaml:4330:5: warning[cidr-host-bits]: 10.99.1.7/24 has host bits set; it means 10.99.1.0/24 (at spec.nets[4321])',
    ]);
  }
});

test.run();

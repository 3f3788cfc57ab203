// The lint warnings a policy author sees on valid policy: no return rule, a policy that selects nothing, a shadowed rule.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadResources } from '../../src/model/load-resources.js';
import { formatDiagnostic } from '../../src/model/diagnostics.js';

const encoder = new TextEncoder();

/** Validates one file; it must have no errors. Returns the warnings as the CLI prints them. */
function warnings(text: string): string[] {
  const content = encoder.encode(text);
  const result = loadResources([{ path: 'lint.yaml', content, size: content.length }]);
  const errors = result.diagnostics.filter((d) => d.severity === 'error');
  assert.equal(errors.map(formatDiagnostic), [], 'the lint fixtures must be valid');
  return result.diagnostics.filter((d) => d.severity === 'warning').map(formatDiagnostic);
}

/** Host endpoints db-1 (role db) and cache-1 (role cache) in 10 lines: a policy after them starts at line 11. */
const ENDPOINTS = `apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata: { name: db-1-eth0, labels: { role: db } }
spec: { node: db-1, interfaceName: eth0, ports: [{ name: postgres, protocol: TCP, port: 5432 }] }
---
apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata: { name: cache-1-eth0, labels: { role: cache } }
spec: { node: cache-1, interfaceName: eth0 }
---
`;

function policy(name: string, selector: string, body: string): string {
  return `apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: ${name}
spec:
  selector: ${selector}
  doNotTrack: true
  applyOnForward: true
${body}`;
}

const POSTGRES_IN = `  ingress:
    - action: Allow
      protocol: TCP
      source: { nets: [10.0.1.0/24] }
      destination: { ports: [5432] }
`;
const POSTGRES_OUT = `  egress:
    - action: Allow
      protocol: TCP
      source: { ports: [5432] }
      destination: { nets: [10.0.1.0/24] }
`;

// ---- no return rule ---------------------------------------------------------------------------------------

test('an untracked ingress Allow without a return rule is warned about, with the rule to add', () => {
  assert.equal(warnings(ENDPOINTS + policy('db', "role == 'db'", POSTGRES_IN)), [
    'lint.yaml:20:7: warning[no-return-rule]: untracked Allow without a rule for its return traffic: stateless policy ' +
      'does not allow replies by itself; add an egress Allow with source ports 5432 and destination 10.0.1.0/24 (at spec.ingress[0])',
  ]);
});

test('an untracked egress Allow without a return rule asks for the ingress mirror image', () => {
  const body = `  egress:
    - action: Allow
      protocol: UDP
      destination: { nets: ['fd00:0:0:53::/64'], ports: [53] }
`;
  assert.equal(warnings(ENDPOINTS + policy('dns', "role == 'db'", body)), [
    'lint.yaml:20:7: warning[no-return-rule]: untracked Allow without a rule for its return traffic: stateless policy ' +
      'does not allow replies by itself; add an ingress Allow with source ports 53 (at spec.egress[0])',
  ]);
});

test('an Allow with its mirror-image rule in the same policy gets no warning', () => {
  assert.equal(warnings(ENDPOINTS + policy('db', "role == 'db'", POSTGRES_IN + POSTGRES_OUT)), []);
});

test('the return rule may live in another policy that selects the same endpoint', () => {
  const text =
    ENDPOINTS + policy('db-in', "role == 'db'", POSTGRES_IN) + '---\n' + policy('db-out', 'has(role)', POSTGRES_OUT);
  assert.equal(warnings(text), []);
});

test('a return rule in a policy for other endpoints does not count', () => {
  const text =
    ENDPOINTS +
    policy('db-in', "role == 'db'", POSTGRES_IN) +
    '---\n' +
    policy('cache-out', "role == 'cache'", POSTGRES_OUT);
  // Both are now one-way: db's ingress has no reply on db, cache's egress has no ingress mirror on cache.
  assert.equal(
    warnings(text).map((w) => w.replace(/^lint.yaml:(\d+):\d+: warning\[([a-z-]+)\].*\(at (.*)\)$/, '$1 $2 $3')),
    ['20 no-return-rule spec.ingress[0]', '34 no-return-rule spec.egress[0]'],
  );
});

test('a return rule for another port, another subnet or another protocol does not count', () => {
  const variants = [
    POSTGRES_OUT.replace('ports: [5432]', 'ports: [5433]'),
    POSTGRES_OUT.replace('10.0.1.0/24', '10.0.9.0/24'),
    POSTGRES_OUT.replace('protocol: TCP', 'protocol: UDP'),
  ];
  for (const out of variants) {
    const found = warnings(ENDPOINTS + policy('db', "role == 'db'", POSTGRES_IN + out));
    assert.equal(
      found.filter((w) => w.includes('[no-return-rule]') && w.endsWith('(at spec.ingress[0])')).length,
      1,
      out,
    );
  }
});

test('a return rule through a named port matches the numeric port it names only by name', () => {
  const body =
    POSTGRES_IN.replace('ports: [5432]', 'ports: [postgres]') +
    POSTGRES_OUT.replace('ports: [5432]', 'ports: [postgres]');
  assert.equal(warnings(ENDPOINTS + policy('db', "role == 'db'", body)), []);
});

test('Deny and Log rules need no return rule', () => {
  const body = `  ingress:
    - action: Log
      protocol: TCP
      destination: { ports: [23] }
    - action: Deny
      protocol: TCP
      destination: { ports: [23] }
`;
  assert.equal(warnings(ENDPOINTS + policy('telnet', "role == 'db'", body)), []);
});

// ---- selects nothing ---------------------------------------------------------------------------------------

test('a policy whose selector matches no host endpoint is warned about at its selector', () => {
  const body = `  ingress:
    - action: Deny
      source: { nets: [198.18.0.0/15] }
`;
  assert.equal(warnings(ENDPOINTS + policy('web', "role == 'web'", body)), [
    'lint.yaml:16:13: warning[selects-nothing]: policy "web" selects no host endpoint, so it has no effect (at spec.selector)',
  ]);
});

test('a policy that selects at least one endpoint, or every endpoint with all(), is not warned about', () => {
  const body = `  ingress:
    - action: Deny
      source: { nets: [198.18.0.0/15] }
`;
  assert.equal(warnings(ENDPOINTS + policy('db', "role == 'db'", body)), []);
  assert.equal(warnings(ENDPOINTS + policy('all', 'all()', body)), []);
});

test('with no host endpoints at all, every policy selects nothing', () => {
  const body = `  ingress:
    - action: Deny
      source: { nets: [198.18.0.0/15] }
`;
  assert.equal(
    warnings(policy('all', 'all()', body)).map((w) => w.replace(/^.*warning\[([a-z-]+)\].*$/, '$1')),
    ['selects-nothing'],
  );
});

// ---- shadowed rules ----------------------------------------------------------------------------------------

test('a rule that an earlier rule fully covers is shadowed, and the message names the earlier rule', () => {
  const body = `  ingress:
    - action: Deny
      source: { nets: [10.0.0.0/8] }
    - action: Deny
      protocol: TCP
      source: { nets: [10.1.0.0/16] }
      destination: { ports: [22] }
`;
  assert.equal(warnings(ENDPOINTS + policy('db', "role == 'db'", body)), [
    'lint.yaml:22:7: warning[shadowed-rule]: ingress[1] can never decide a packet: ingress[0] (Deny) matches everything it matches (at spec.ingress[1])',
  ]);
});

test('a port range covers the ports inside it, and a protocol-only rule covers every port of that protocol', () => {
  const body = `  ingress:
    - action: Deny
      protocol: UDP
      destination: { ports: ['1:1023'] }
    - action: Deny
      protocol: UDP
      destination: { ports: [53, 123] }
    - action: Deny
      protocol: TCP
    - action: Deny
      protocol: TCP
      destination: { ports: [8080] }
`;
  const found = warnings(ENDPOINTS + policy('db', "role == 'db'", body));
  assert.equal(
    found.map((w) => w.replace(/^.*: (ingress\[\d\]) can never.*?: (ingress\[\d\]).*$/, '$1<$2')),
    ['ingress[1]<ingress[0]', 'ingress[3]<ingress[2]'],
  );
});

test('a Log rule shadows nothing: logging then denying the same traffic is the normal pattern', () => {
  const body = `  ingress:
    - action: Log
      protocol: UDP
      source: { ports: [11211] }
    - action: Deny
      protocol: UDP
      source: { ports: [11211] }
`;
  assert.equal(warnings(ENDPOINTS + policy('db', "role == 'db'", body)), []);
});

test('a narrower rule before a broader one, or rules on different protocols or families, are not shadowed', () => {
  const body = `  ingress:
    - action: Deny
      protocol: TCP
      source: { nets: [10.1.0.0/16] }
    - action: Deny
      protocol: TCP
      source: { nets: [10.0.0.0/8] }
    - action: Deny
      protocol: UDP
      source: { nets: [10.1.0.0/16] }
    - action: Deny
      ipVersion: 6
      protocol: UDP
    - action: Deny
      protocol: UDP
      source: { nets: ['fd00::/8'], notPorts: [53] }
`;
  assert.equal(warnings(ENDPOINTS + policy('db', "role == 'db'", body)), []);
});

test('rules of a direction the policy does not apply are not linted, only reported as ignored', () => {
  const body = `  types: [Egress]
  ingress:
    - action: Allow
      protocol: TCP
    - action: Allow
      protocol: TCP
      destination: { ports: [80] }
  egress:
    - action: Deny
      protocol: UDP
`;
  assert.equal(warnings(ENDPOINTS + policy('db', "role == 'db'", body)), [
    'lint.yaml:21:5: warning[rules-ignored-by-types]: ingress rules are ignored because types does not include Ingress (at spec.ingress)',
  ]);
});

test('lint does not run while there are errors: the errors come first', () => {
  const content = encoder.encode(
    ENDPOINTS + policy('db', "role == 'db'", POSTGRES_IN) + '---\nmetadata: { name: x }\n',
  );
  const result = loadResources([{ path: 'lint.yaml', content, size: content.length }]);
  assert.equal(
    result.diagnostics.map((d) => `${d.severity}[${d.code}]`),
    ['error[missing-kind]'],
  );
});

test.run();

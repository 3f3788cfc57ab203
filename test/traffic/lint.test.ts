// The lint warnings a policy author sees on valid policy, from the exact packet space: missing return paths (with the
// uncovered reply region), shadowed rules (covered by a union of earlier rules), rules that match no packet, rule
// selectors that match nothing (with a did-you-mean), named ports of the wrong protocol, policies that select nothing.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadResources } from '../../src/model/load-resources.js';
import { formatDiagnostic } from '../../src/model/diagnostics.js';
import { validatePolicy } from '../../src/traffic/validate-policy.js';

const encoder = new TextEncoder();

/** Validates one file; it must have no errors. Returns the warnings as the CLI prints them. */
function warnings(text: string): string[] {
  const content = encoder.encode(text);
  const result = validatePolicy([{ path: 'lint.yaml', content, size: content.length }]);
  const errors = result.diagnostics.filter((d) => d.severity === 'error');
  assert.equal(errors.map(formatDiagnostic), [], 'the lint fixtures must be valid');
  return result.diagnostics.filter((d) => d.severity === 'warning').map(formatDiagnostic);
}

/** `code at path` of each warning, for tests that care which rule is flagged rather than the words. */
const codes = (ws: string[]) =>
  ws.map((w) => w.replace(/^lint.yaml:\d+:\d+: warning\[([a-z-]+)\].*\(at (.*)\)$/, '$1 $2'));

/** Host endpoints db-1 (role db) and cache-1 (role cache) in 10 lines: a policy after them starts at line 11. */
const ENDPOINTS = `apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata: { name: db-1-eth0, labels: { role: db } }
spec: { node: db-1, interfaceName: eth0, expectedIPs: [10.0.2.10], ports: [{ name: postgres, protocol: TCP, port: 5432 }] }
---
apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata: { name: cache-1-eth0, labels: { role: cache } }
spec: { node: cache-1, interfaceName: eth0, expectedIPs: [10.0.2.20] }
---
`;

/** No failsafes, so that regions read plainly (failsafes carve their ports out of every region). */
const NO_FAILSAFES = `---
apiVersion: notrack.dev/v1alpha1
kind: NotrackConfiguration
metadata: { name: default }
spec: { failsafeInboundHostPorts: [], failsafeOutboundHostPorts: [] }
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

// ---- missing return path ------------------------------------------------------------------------------------------

test('an untracked ingress Allow without a return path: the exact reply region that stays tracked, with an example', () => {
  // The example reply leaves from db-1's own address (its expectedIPs), as a real reply would.
  assert.equal(warnings(ENDPOINTS + policy('db', "role == 'db'", POSTGRES_IN) + NO_FAILSAFES), [
    'lint.yaml:20:7: warning[no-return-rule]: untracked Allow without a return path on db-1 eth0: the replies to what it ' +
      'allows meet no notrack policy, so they are tracked on egress: tcp to 10.0.1.0/24 from port 5432, e.g. tcp ' +
      '10.0.2.10:5432 > 10.0.1.1:443 (at spec.ingress[0])',
  ]);
});

test('a return path that covers only part of the replies: the uncovered part is named, not a guess at the rule to add', () => {
  // The return rule exists (the warning of old, "add an egress Allow with source ports 5432", was wrong), but only
  // for half of the subnet.
  const out = POSTGRES_OUT.replace('10.0.1.0/24', '10.0.1.0/25');
  assert.equal(warnings(ENDPOINTS + policy('db', "role == 'db'", POSTGRES_IN + out) + NO_FAILSAFES), [
    'lint.yaml:20:7: warning[no-return-rule]: untracked Allow without a return path on db-1 eth0: the replies to what it ' +
      'allows match no rule, so they are tracked on egress: tcp to 10.0.1.128/25 from port 5432, e.g. tcp ' +
      '10.0.2.10:5432 > 10.0.1.129:443 (at spec.ingress[0])',
  ]);
});

test('an untracked egress Allow without a return path asks for the ingress side, with the region', () => {
  const body = `  egress:
    - action: Allow
      protocol: UDP
      destination: { nets: ['fd00:0:0:53::/64'], ports: [53] }
`;
  assert.equal(codes(warnings(ENDPOINTS + policy('dns', "role == 'db'", body) + NO_FAILSAFES)), [
    'no-return-rule spec.egress[0]',
  ]);
  assert.match(
    warnings(ENDPOINTS + policy('dns', "role == 'db'", body) + NO_FAILSAFES)[0]!,
    /tracked on ingress: udp from fd00:0:0:53::\/64, port 53, e\.g\. udp \[fd00:0:0:53::1\]:53 > \[2001:db8::10\]:443/,
  );
});

test('an Allow with its mirror-image rule, in the same policy or another that selects the endpoint, is quiet', () => {
  assert.equal(warnings(ENDPOINTS + policy('db', "role == 'db'", POSTGRES_IN + POSTGRES_OUT) + NO_FAILSAFES), []);
  const split =
    ENDPOINTS +
    policy('db-in', "role == 'db'", POSTGRES_IN) +
    '---\n' +
    policy('db-out', "role in {'db'}", POSTGRES_OUT);
  assert.equal(warnings(split + NO_FAILSAFES), []);
  // Selecting more endpoints puts the egress Allow on cache-1 too, where nothing allows the other way.
  const wider =
    ENDPOINTS + policy('db-in', "role == 'db'", POSTGRES_IN) + '---\n' + policy('db-out', 'has(role)', POSTGRES_OUT);
  assert.match(
    warnings(wider + NO_FAILSAFES).join('\n'),
    /no-return-rule\]: untracked Allow without a return path on cache-1 eth0/,
  );
});

test('a return rule on other endpoints, another port, another subnet or another protocol does not count', () => {
  const elsewhere =
    ENDPOINTS +
    policy('db-in', "role == 'db'", POSTGRES_IN) +
    '---\n' +
    policy('cache-out', "role == 'cache'", POSTGRES_OUT);
  assert.equal(codes(warnings(elsewhere + NO_FAILSAFES)), [
    'no-return-rule spec.ingress[0]',
    'no-return-rule spec.egress[0]',
  ]);
  for (const out of [
    POSTGRES_OUT.replace('ports: [5432]', 'ports: [5433]'),
    POSTGRES_OUT.replace('10.0.1.0/24', '10.0.9.0/24'),
    POSTGRES_OUT.replace('protocol: TCP', 'protocol: UDP'),
  ]) {
    const found = codes(warnings(ENDPOINTS + policy('db', "role == 'db'", POSTGRES_IN + out) + NO_FAILSAFES));
    assert.ok(found.includes('no-return-rule spec.ingress[0]'), out);
  }
});

test('a return rule through a named port covers the replies of a rule through the same named port', () => {
  const body =
    POSTGRES_IN.replace('ports: [5432]', 'ports: [postgres]') +
    POSTGRES_OUT.replace('ports: [5432]', 'ports: [postgres]');
  assert.equal(warnings(ENDPOINTS + policy('db', "role == 'db'", body) + NO_FAILSAFES), []);
});

test('Deny and Log rules need no return path, and replies the other way denies are a decision, not a gap', () => {
  const body = `  ingress:
    - action: Log
      protocol: TCP
      destination: { ports: [23] }
    - action: Deny
      protocol: TCP
      destination: { ports: [23] }
`;
  assert.equal(warnings(ENDPOINTS + policy('telnet', "role == 'db'", body) + NO_FAILSAFES), []);
  const denyReplies = `  egress:
    - action: Deny
      destination: { nets: [10.0.1.0/24] }
`;
  const text =
    ENDPOINTS + policy('db', "role == 'db'", POSTGRES_IN) + '---\n' + policy('out', "role == 'db'", denyReplies);
  assert.equal(warnings(text + NO_FAILSAFES), []);
});

// ---- shadowed rules -------------------------------------------------------------------------------------------------

test('a rule covered by the union of earlier rules (none of which covers it alone) is shadowed, and the cover is named', () => {
  const body = `  ingress:
    - action: Deny
      protocol: TCP
      source: { nets: [10.0.0.0/9] }
    - action: Pass
      protocol: TCP
      source: { nets: [10.128.0.0/9] }
      destination: { ports: ['1:1023'] }
    - action: Deny
      protocol: TCP
      source: { nets: [10.128.0.0/9] }
      destination: { ports: ['1024:65535'] }
    - action: Deny
      protocol: TCP
      source: { nets: [10.0.0.0/8] }
      destination: { ports: ['1:65535'] }
`;
  const found = warnings(ENDPOINTS + policy('db', "role == 'db'", body) + NO_FAILSAFES);
  assert.equal(found, [
    'lint.yaml:31:7: warning[shadowed-rule]: ingress[3] can never decide a packet on db-1 eth0 or any other interface ' +
      'it applies to: ingress[0] (Deny), ingress[1] (Pass) and ingress[2] (Deny) together match everything it matches ' +
      'before it (at spec.ingress[3])',
  ]);
});

test('shadowing counts every policy in order on the interface, and failsafes before them', () => {
  const early = policy('early', 'all()', `  order: 1\n  ingress:\n    - action: Deny\n      protocol: UDP\n`);
  const late = policy(
    'late',
    "role == 'db'",
    `  order: 2\n  ingress:\n    - action: Allow\n      protocol: UDP\n      destination: { ports: [53] }\n`,
  );
  const found = warnings(ENDPOINTS + early + '---\n' + late + NO_FAILSAFES);
  assert.equal(codes(found), ['shadowed-rule spec.ingress[0]']);
  assert.match(found[0]!, /early ingress\[0\] \(Deny\) matches everything it matches before it/);
  const sshOnly = policy(
    'ssh',
    "role == 'db'",
    `  ingress:\n    - action: Allow\n      protocol: TCP\n      destination: { ports: [22] }\n  egress:\n    - action: Allow\n      protocol: TCP\n      source: { ports: [22] }\n`,
  );
  const cfg = NO_FAILSAFES.replace(
    'failsafeInboundHostPorts: []',
    'failsafeInboundHostPorts: [{ protocol: TCP, port: 22 }]',
  );
  assert.match(
    warnings(ENDPOINTS + sshOnly + cfg).join('\n'),
    /ingress\[0\] can never decide .*failsafe inbound tcp 22 matches everything/,
  );
});

test('a Log rule that sees nothing is flagged; logging then denying the same traffic is the normal pattern', () => {
  const normal = `  ingress:
    - action: Log
      protocol: UDP
      source: { ports: [11211] }
    - action: Deny
      protocol: UDP
      source: { ports: [11211] }
`;
  assert.equal(warnings(ENDPOINTS + policy('db', "role == 'db'", normal) + NO_FAILSAFES), []);
  const late = `  ingress:
    - action: Deny
      protocol: UDP
    - action: Log
      protocol: UDP
      source: { ports: [11211] }
`;
  const found = warnings(ENDPOINTS + policy('db', "role == 'db'", late) + NO_FAILSAFES);
  assert.equal(codes(found), ['shadowed-rule spec.ingress[1]']);
  assert.match(found[0]!, /ingress\[1\] \(Log\) never sees a packet/);
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
      protocol: UDP
      source: { nets: ['fd00::/8'], notPorts: [53] }
    - action: Deny
      ipVersion: 6
      protocol: UDP
`;
  assert.equal(warnings(ENDPOINTS + policy('db', "role == 'db'", body) + NO_FAILSAFES), []);
});

// ---- rules that match nothing ---------------------------------------------------------------------------------------

test("a named port whose protocol differs from the rule's is named at the port", () => {
  const body = `  ingress:
    - action: Deny
      protocol: UDP
      destination: { ports: [postgres] }
`;
  assert.equal(warnings(ENDPOINTS + policy('db', "role == 'db'", body) + NO_FAILSAFES), [
    'lint.yaml:22:30: warning[named-port-protocol]: port "postgres" is TCP on every endpoint that defines it, but this ' +
      'rule is UDP: it never matches here (at spec.ingress[0].destination.ports[0])',
  ]);
});

test('a rule selector typo: it matches no set and no endpoint, with a did-you-mean over label keys and values', () => {
  const sets = `apiVersion: projectcalico.org/v3
kind: GlobalNetworkSet
metadata: { name: deny-list, labels: { dos-deny-list: 'true' } }
spec: { nets: [198.18.0.0/15] }
---
`;
  const body = (selector: string) => `  ingress:
    - action: Deny
      source: { selector: "${selector}" }
`;
  const value = warnings(
    sets + ENDPOINTS + policy('ddos', "role == 'db'", body("dos-deny-list == 'ture'")) + NO_FAILSAFES,
  );
  assert.equal(value, [
    'lint.yaml:26:27: warning[selector-matches-nothing]: selector "dos-deny-list == \'ture\'" matches no ' +
      'GlobalNetworkSet and no HostEndpoint, so this rule matches no packet: no set or endpoint has dos-deny-list == ' +
      '"ture"; did you mean "true"? (at spec.ingress[0].source.selector)',
  ]);
  const key = warnings(
    sets + ENDPOINTS + policy('ddos', "role == 'db'", body("dos-deny-lst == 'true'")) + NO_FAILSAFES,
  );
  assert.match(key[0]!, /no set or endpoint has a label "dos-deny-lst"; did you mean "dos-deny-list"\?/);
  const not = `  ingress:
    - action: Deny
      source: { notSelector: "rol == 'db'" }
`;
  assert.match(
    warnings(sets + ENDPOINTS + policy('x', "role == 'db'", not) + NO_FAILSAFES).join('\n'),
    /notSelector "rol == 'db'" matches no GlobalNetworkSet and no HostEndpoint, so it excludes nothing .*did you mean "role"\?/,
  );
});

test('contradictory fields leave a rule that matches no packet, and the warning says which', () => {
  const body = `  ingress:
    - action: Deny
      source: { nets: [10.0.0.0/8], notNets: [10.0.0.0/7] }
    - action: Deny
      protocol: TCP
      destination: { ports: ['80:90'], notPorts: ['70:100'] }
    - action: Deny
      protocol: ICMP
      icmp: { type: 8 }
      notICMP: { type: 8 }
`;
  assert.equal(codes(warnings(ENDPOINTS + policy('db', "role == 'db'", body) + NO_FAILSAFES)), [
    'empty-rule spec.ingress[0]',
    'empty-rule spec.ingress[1]',
    'empty-rule spec.ingress[2]',
  ]);
  const found = warnings(ENDPOINTS + policy('db', "role == 'db'", body) + NO_FAILSAFES).join('\n');
  assert.match(
    found,
    /ingress\[0\] \(Deny\) matches no packet: its source nets, selectors and notNets have no address in common/,
  );
  assert.match(
    found,
    /ingress\[1\] \(Deny\) matches no packet: every destination port it allows is also in its notPorts/,
  );
  assert.match(
    found,
    /ingress\[2\] \(Deny\) matches no packet: its notICMP excludes every ICMP type and code its icmp allows/,
  );
});

// ---- selects nothing ------------------------------------------------------------------------------------------------

test('a policy whose selector matches no host endpoint is warned about at its selector', () => {
  const body = `  ingress:
    - action: Deny
      source: { nets: [198.18.0.0/15] }
`;
  assert.equal(warnings(ENDPOINTS + policy('web', "role == 'web'", body) + NO_FAILSAFES), [
    'lint.yaml:16:13: warning[selects-nothing]: policy "web" selects no host endpoint, so it has no effect (at spec.selector)',
  ]);
  assert.equal(warnings(ENDPOINTS + policy('all', 'all()', body) + NO_FAILSAFES), []);
  assert.equal(codes(warnings(policy('all', 'all()', body))), ['selects-nothing spec.selector']);
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
  assert.equal(warnings(ENDPOINTS + policy('db', "role == 'db'", body) + NO_FAILSAFES), [
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

// What validation hands to the compile stage: typed, normalised resources with Calico's defaults, and the notices
// and warnings that accompany valid input.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadResources, type LoadResult } from '../../src/model/load-resources.js';
import { formatDiagnostic } from '../../src/model/diagnostics.js';
import { formatCidr } from '../../src/net/cidr.js';
import { resolveConfiguration, DEFAULT_CONFIGURATION } from '../../src/model/configuration.js';
import type { PolicyRule } from '../../src/model/resources.js';
import { policyFile } from '../support/policy-files.js';

const encoder = new TextEncoder();

function load(files: Record<string, string | Uint8Array>): LoadResult {
  return loadResources(Object.entries(files).map(([path, content]) => policyFile(path, content)));
}

function lines(r: LoadResult): string[] {
  return r.diagnostics.map(formatDiagnostic);
}

const WEB = `apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata:
  name: web-1-eth0
  labels: { role: web, zone: a }
spec:
  node: web-1
  interfaceName: eth0
  expectedIPs: [192.0.2.10, '2001:DB8:0:0::10']
  ports:
    - { name: http-alt, protocol: TCP, port: 8080 }
    - { name: stats, protocol: UDP, port: 8125 }
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: { name: web }
spec:
  order: 150.5
  selector: role == 'web'
  doNotTrack: true
  applyOnForward: true
  ingress:
    - action: Allow
      protocol: TCP
      source: { nets: ['2001:DB8:0:0:0:0:0:0/32'], notNets: ['2001:db8:ffff::/48'] }
      destination: { ports: [80, '8000:8999', http-alt], notPorts: ['8443'] }
    - action: Allow
      protocol: ICMPv6
      icmp: { type: 128, code: 0 }
  egress:
    - action: Allow
      protocol: TCP
      source: { ports: [80, '8000:8999', http-alt] }
    - action: Allow
      protocol: 58
      icmp: { type: 129 }
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: { name: web-egress-only }
spec:
  selector: has(zone)
  doNotTrack: true
  applyOnForward: true
  egress:
    - action: Deny
      ipVersion: 4
      protocol: UDP
      notProtocol: TCP
      destination: { nets: [198.51.100.0/24], selector: "bad == 'true'" }
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: { name: web-no-rules }
spec:
  selector: zone == 'a'
  doNotTrack: true
  applyOnForward: true
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: { name: web-both-types }
spec:
  doNotTrack: true
  applyOnForward: true
  types: [Egress, Ingress]
  ingress:
    - action: Pass
      source: { notSelector: "trusted == 'yes'" }
---
# The sets the rule selectors above pick: a selector that matches nothing is a lint warning.
apiVersion: projectcalico.org/v3
kind: GlobalNetworkSet
metadata: { name: lists, labels: { bad: 'true', trusted: 'yes' } }
spec: { nets: [203.0.113.0/24] }
`;

const web = load({ 'web.yaml': WEB });
const policy = (name: string) => web.resources.policies.find((p) => p.name === name)!;

function showRule(r: PolicyRule): unknown {
  const side = (e: PolicyRule['source']) => ({
    nets: e.nets.map(formatCidr),
    notNets: e.notNets.map(formatCidr),
    selector: e.selector?.toString() ?? null,
    notSelector: e.notSelector?.toString() ?? null,
    ports: e.ports,
    notPorts: e.notPorts,
  });
  return { ...r, source: side(r.source), destination: side(r.destination) };
}

const NO_MATCH = { nets: [], notNets: [], selector: null, notSelector: null, ports: [], notPorts: [] };

test('a small valid file loads clean', () => {
  assert.equal(lines(web), []);
  assert.ok(web.valid);
  assert.equal(web.counts, {
    files: 1,
    documents: 6,
    kinds: { HostEndpoint: 1, GlobalNetworkPolicy: 4, GlobalNetworkSet: 1 },
  });
});

test('rules come out typed: canonical CIDRs, port ranges and named ports, protocol numbers, ICMP', () => {
  const p = policy('web');
  assert.is(p.order, 150.5);
  assert.ok(p.doNotTrack);
  assert.equal(p.types, ['ingress', 'egress'], 'types default to both when there are rules of both');
  assert.equal(p.ingress.map(showRule), [
    {
      index: 0,
      action: 'Allow',
      ipVersion: null,
      protocol: 6,
      notProtocol: null,
      icmp: null,
      notICMP: null,
      source: { ...NO_MATCH, nets: ['2001:db8::/32'], notNets: ['2001:db8:ffff::/48'] },
      destination: {
        ...NO_MATCH,
        ports: [
          { kind: 'range', from: 80, to: 80 },
          { kind: 'range', from: 8000, to: 8999 },
          { kind: 'named', name: 'http-alt' },
        ],
        notPorts: [{ kind: 'range', from: 8443, to: 8443 }],
      },
    },
    {
      index: 1,
      action: 'Allow',
      ipVersion: null,
      protocol: 58,
      notProtocol: null,
      icmp: { type: 128, code: 0 },
      notICMP: null,
      source: NO_MATCH,
      destination: NO_MATCH,
    },
  ]);
  assert.equal(
    p.egress.map((r) => [r.index, r.protocol, r.icmp]),
    [
      [0, 6, null],
      [1, 58, { type: 129 }],
    ],
    'protocol 58 is ICMPv6 by number',
  );
});

test('a policy with only egress rules and no types is an egress policy; no order means "last" (null)', () => {
  const p = policy('web-egress-only');
  assert.equal(p.types, ['egress']);
  assert.is(p.order, null);
  assert.equal(p.egress.map(showRule), [
    {
      index: 0,
      action: 'Deny',
      ipVersion: 4,
      protocol: 17,
      notProtocol: 6,
      icmp: null,
      notICMP: null,
      source: NO_MATCH,
      destination: { ...NO_MATCH, nets: ['198.51.100.0/24'], selector: 'bad == "true"' },
    },
  ]);
});

test('a policy with no rules defaults to Ingress, as in Calico; explicit types keep their order', () => {
  assert.equal(policy('web-no-rules').types, ['ingress']);
  assert.equal(policy('web-no-rules').ingress, []);
  assert.equal(policy('web-both-types').types, ['egress', 'ingress']);
});

test('a policy without a selector selects every endpoint, like all()', () => {
  const p = policy('web-both-types');
  assert.ok(p.selector.matches({}));
  assert.ok(p.selector.matches({ role: 'anything' }));
  assert.equal(p.ingress[0]!.action, 'Pass');
  assert.ok(p.ingress[0]!.source.notSelector!.matches({ trusted: 'yes' }));
});

test('a host endpoint keeps its labels, canonical expected IPs as host routes, and its named ports', () => {
  const [h] = web.resources.hostEndpoints;
  assert.equal(
    { ...h!, expectedIPs: h!.expectedIPs.map(formatCidr), source: undefined },
    {
      name: 'web-1-eth0',
      node: 'web-1',
      interfaceName: 'eth0',
      expectedIPs: ['192.0.2.10/32', '2001:db8::10/128'],
      ports: [
        { name: 'http-alt', protocol: 6, port: 8080 },
        { name: 'stats', protocol: 17, port: 8125 },
      ],
      labels: { role: 'web', zone: 'a' },
      source: undefined,
    },
  );
  assert.equal(h!.source, { file: 'web.yaml', document: 0 });
  assert.equal(policy('web-no-rules').source, { file: 'web.yaml', document: 3 });
});

test('a host endpoint with only expectedIPs, or with interface "*", is valid', () => {
  const r = load({
    'h.yaml': `apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata: { name: db-1-by-ip }
spec: { node: db-1, expectedIPs: [10.0.2.10] }
---
apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata: { name: db-1-all }
spec: { node: db-1, interfaceName: '*' }
`,
  });
  assert.equal(lines(r), []);
  assert.equal(
    r.resources.hostEndpoints.map((h) => h.interfaceName),
    [null, '*'],
  );
});

test('configuration: hex or integer marks, and the node override wins over default field by field', () => {
  const r = load({
    'c.yaml': `apiVersion: notrack.dev/v1alpha1
kind: NotrackConfiguration
metadata: { name: default }
spec:
  acceptMark: '0x00100000'
  xdpMode: native
  failsafeInboundHostPorts: []
---
apiVersion: notrack.dev/v1alpha1
kind: NotrackConfiguration
metadata: { name: node.edge-1 }
spec:
  acceptMark: 2097152
  limits: { maxRulesPerInterface: 1000 }
`,
  });
  assert.equal(lines(r), []);
  const db = resolveConfiguration(r.resources, 'db-1');
  const edge = resolveConfiguration(r.resources, 'edge-1');
  assert.equal(
    [db.acceptMark, db.xdpMode, db.failsafeInbound],
    [0x100000, 'native', []],
    'an empty list disables the failsafes',
  );
  assert.equal(db.failsafeOutbound, DEFAULT_CONFIGURATION.failsafeOutbound);
  assert.equal(
    [edge.acceptMark, edge.xdpMode, edge.limits],
    [0x200000, 'native', { maxRulesPerInterface: 1000, maxSetPrefixes: 2_097_152 }],
  );
  assert.equal(resolveConfiguration({ configurations: [] }, 'any'), DEFAULT_CONFIGURATION);
});

test('a policy without doNotTrack is reported once, as a notice, and is not enforced', () => {
  const r = load({
    'tracked.yaml': `apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: allow-ssh
spec:
  selector: all()
  ingress:
    - action: Allow
      protocol: TCP
      destination: { ports: [22] }
  egress:
    - action: Allow
      protocol: TCP
      source: { ports: [22] }
`,
  });
  assert.equal(lines(r), [
    'tracked.yaml:4:9: notice[not-enforced]: policy "allow-ssh" has no doNotTrack: true, so notrack does not enforce it ' +
      "(it is tracked policy, Calico's job) (at metadata.name)",
  ]);
  assert.ok(r.valid);
  assert.equal(r.resources.policies, []);
  assert.equal(r.resources.ignoredPolicies, ['allow-ssh']);
});

test('doNotTrack: false is the same as no doNotTrack', () => {
  const r = load({
    'p.yaml': `apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: { name: tracked }
spec: { doNotTrack: false, selector: all() }
`,
  });
  assert.equal(
    r.diagnostics.map((d) => `${d.severity}[${d.code}]`),
    ['notice[not-enforced]'],
  );
});

test("Calico kinds that are not notrack's job are read past with a notice that says why", () => {
  const r = load({
    'calico.yaml': `apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: { name: pods, namespace: prod }
spec: { selector: all() }
---
apiVersion: projectcalico.org/v3
kind: FelixConfiguration
metadata: { name: default }
spec: { bpfEnabled: true }
`,
  });
  assert.equal(lines(r), [
    'calico.yaml:2:7: notice[kind-ignored]: NetworkPolicy is not read by notrack: namespaced NetworkPolicy applies to workloads, not host endpoints (at kind)',
  ]);
  // FelixConfiguration is read for its failsafe ports only (test/model/calico-interop.test.ts); Felix's other
  // settings pass without a word.
  assert.ok(r.valid);
});

test('the same name in different kinds is fine; the same name twice in one kind is an error naming the first', () => {
  const doc = (kind: string, spec: string) =>
    `apiVersion: projectcalico.org/v3\nkind: ${kind}\nmetadata: { name: edge-1 }\nspec: ${spec}\n`;
  const fine = load({
    'a.yaml': doc('HostEndpoint', '{ node: edge-1, interfaceName: eth0 }'),
    'b.yaml': doc('GlobalNetworkSet', '{ nets: [198.18.0.0/15] }'),
    'c.yaml': doc('GlobalNetworkPolicy', '{ doNotTrack: true, applyOnForward: true, ingress: [{ action: Deny }] }'),
  });
  assert.equal(
    fine.diagnostics.filter((d) => d.severity === 'error'),
    [],
  );
  const twice = load({
    'a.yaml': doc('GlobalNetworkSet', '{ nets: [198.18.0.0/15] }'),
    'z/b.yaml': doc('GlobalNetworkSet', '{ nets: [203.0.113.0/24] }'),
  });
  assert.equal(lines(twice), [
    'z/b.yaml:3:19: error[duplicate-name]: GlobalNetworkSet "edge-1" is already defined at a.yaml:3:19 (at metadata.name)',
  ]);
  assert.equal(
    twice.resources.networkSets.map((s) => s.nets.map(formatCidr)),
    [['198.18.0.0/15']],
    'the first definition is kept',
  );
});

test('a CIDR with host bits set is accepted with a warning that says what it means', () => {
  const r = load({
    's.yaml': `apiVersion: projectcalico.org/v3
kind: GlobalNetworkSet
metadata: { name: s }
spec:
  nets: [10.1.2.3/16, 'fd00::1/64']
`,
  });
  assert.equal(lines(r), [
    's.yaml:5:10: warning[cidr-host-bits]: 10.1.2.3/16 has host bits set; it means 10.1.0.0/16 (at spec.nets[0])',
    's.yaml:5:23: warning[cidr-host-bits]: fd00::1/64 has host bits set; it means fd00::/64 (at spec.nets[1])',
  ]);
  assert.equal(r.resources.networkSets[0]!.nets.map(formatCidr), ['10.1.0.0/16', 'fd00::/64']);
});

test('a byte-order mark, comment-only documents and a trailing --- are accepted', () => {
  const bom = new Uint8Array([
    0xef,
    0xbb,
    0xbf,
    ...encoder.encode(`# only a comment
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkSet
metadata: { name: s }
spec: { nets: [192.0.2.0/24] }
---
# nothing here either
---
`),
  ]);
  const r = load({ 'bom.yaml': bom, 'empty.yaml': '' });
  assert.equal(lines(r), []);
  assert.equal(
    r.resources.networkSets.map((s) => s.name),
    ['s'],
  );
});

test('YAML anchors and aliases within the limit are read as written', () => {
  const r = load({
    'anchors.yaml': `apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: { name: office }
spec:
  selector: all()
  doNotTrack: true
  applyOnForward: true
  ingress:
    - action: Deny
      source: { nets: &office [192.0.2.0/24, 198.51.100.0/24] }
  egress:
    - action: Deny
      destination: { nets: *office }
`,
  });
  assert.equal(
    r.diagnostics.filter((d) => d.severity === 'error'),
    [],
  );
  assert.equal(r.resources.policies[0]!.egress[0]!.destination.nets.map(formatCidr), [
    '192.0.2.0/24',
    '198.51.100.0/24',
  ]);
});

test('an invalid document does not hide the others: every error of every file is reported, in file order', () => {
  const r = load({
    'b.yaml': `apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata: { name: ok }
spec: { node: n, interfaceName: eth0 }
---
apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata: { name: bad }
spec: { node: n, interfaceName: eth0, expectedIP: [10.0.0.1] }
`,
    'a.yaml': `apiVersion: projectcalico.org/v3
kind: GlobalNetworkSet
metadata: { name: s }
spec: { nets: [10.0.0.0/8], nets6: [] }
`,
  });
  assert.not.ok(r.valid);
  assert.equal(lines(r), [
    'a.yaml:4:29: error[unknown-field]: unknown field "nets6" in spec; did you mean "nets"? (at spec.nets6)',
    'b.yaml:9:39: error[unknown-field]: unknown field "expectedIP" in spec; did you mean "expectedIPs"? (at spec.expectedIP)',
  ]);
  assert.equal(
    r.resources.hostEndpoints.map((h) => h.name),
    ['ok'],
  );
});

test.run();

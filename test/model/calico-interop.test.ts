// Calico interop: `…List` exports of calicoctl and kubectl load as their items, and FelixConfiguration's failsafe
// ports apply where NotrackConfiguration does not set them, with a notice saying which won.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadResources, type LoadResult } from '../../src/model/load-resources.js';
import { validatePolicy } from '../../src/traffic/validate-policy.js';
import { formatDiagnostic } from '../../src/model/diagnostics.js';
import { resolveConfiguration, DEFAULT_CONFIGURATION } from '../../src/model/configuration.js';
import { compileHost } from '../../src/compile/compile-host.js';
import { policyFile } from '../support/policy-files.js';

function load(files: Record<string, string>): LoadResult {
  return loadResources(Object.entries(files).map(([path, content]) => policyFile(path, content)));
}
const lines = (r: LoadResult) => r.diagnostics.map(formatDiagnostic);

// As `calicoctl get globalnetworkpolicy -o yaml` prints it: a typed list, items with server-side metadata.
const CALICOCTL_EXPORT = `apiVersion: projectcalico.org/v3
items:
- apiVersion: projectcalico.org/v3
  kind: GlobalNetworkPolicy
  metadata:
    creationTimestamp: "2030-01-02T03:04:05Z"
    name: allow-db
    resourceVersion: "1234"
    uid: 0f6b1c1e-6a44-4b77-9c0a-7d1e1a3f9a11
  spec:
    applyOnForward: true
    doNotTrack: true
    ingress:
    - action: Allow
      protocol: TCP
      destination:
        ports: [5432]
    order: 100
    selector: role == 'db'
- apiVersion: projectcalico.org/v3
  kind: GlobalNetworkPolicy
  metadata:
    name: deny-rest
  spec:
    applyOnForward: true
    doNotTrack: true
    ingress:
    - action: Deny
    order: 900
    selector: role == 'db'
kind: GlobalNetworkPolicyList
metadata:
  resourceVersion: "1240"
`;

const HOSTS = `apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata: { name: db-1-eth0, labels: { role: db } }
spec: { node: db-1, interfaceName: eth0 }
`;

test('a calicoctl GlobalNetworkPolicyList export loads as its policies', () => {
  const files = { 'export.yaml': CALICOCTL_EXPORT, 'hosts.yaml': HOSTS };
  const r = validatePolicy(Object.entries(files).map(([path, content]) => policyFile(path, content)));
  assert.ok(r.valid);
  // Lint (the traffic engine's too) runs on list items as on any document, and its finding points into the list.
  assert.equal(
    r.diagnostics.map((d) => `${d.file}:${d.line}:${d.col} ${d.code} ${d.path}`),
    ['export.yaml:14:7 no-return-rule items[0].spec.ingress[0]'],
  );
  assert.equal(
    r.resources.policies.map((p) => p.name),
    ['allow-db', 'deny-rest'],
  );
  assert.equal(r.counts.kinds, { GlobalNetworkPolicy: 2, HostEndpoint: 1 });
  // The compiled host enforces both, in order.
  const state = compileHost(r.resources, 'db-1');
  assert.ok(state.hash.length > 0);
});

test("a kubectl List with mixed kinds loads each item; an item's error points into the list", () => {
  const r = load({
    'all.yaml': `apiVersion: v1
kind: List
items:
  - apiVersion: projectcalico.org/v3
    kind: HostEndpoint
    metadata: { name: db-1-eth0, labels: { role: db } }
    spec: { node: db-1, interfaceName: eth0 }
  - apiVersion: projectcalico.org/v3
    kind: GlobalNetworkSet
    metadata: { name: app, labels: { app: 'true' } }
    spec: { nets: [10.0.1.0/24] }
  - apiVersion: projectcalico.org/v3
    kind: GlobalNetworkPolicy
    metadata: { name: bad }
    spec:
      doNotTrack: true
      applyOnForward: true
      ingress:
        - action: Alow
`,
  });
  assert.not.ok(r.valid);
  assert.equal(r.counts.kinds, { HostEndpoint: 1, GlobalNetworkSet: 1, GlobalNetworkPolicy: 1 });
  const errors = r.diagnostics.filter((d) => d.severity === 'error');
  assert.is(errors.length, 1);
  assert.is(errors[0]!.line, 19);
  assert.is(errors[0]!.path, 'items[2].spec.ingress[0].action');
  assert.match(errors[0]!.message, 'Allow');
});

test('a typed list lends its kind to items without one and refuses items of another kind', () => {
  const r = load({
    'sets.yaml': `apiVersion: projectcalico.org/v3
kind: GlobalNetworkSetList
items:
  - metadata: { name: a }
    spec: { nets: [192.0.2.0/24] }
  - apiVersion: projectcalico.org/v3
    kind: HostEndpoint
    metadata: { name: h }
    spec: { node: h, interfaceName: eth0 }
`,
  });
  assert.equal(lines(r), [
    'sets.yaml:7:11: error[list-item-kind]: a GlobalNetworkSetList holds GlobalNetworkSet items, not HostEndpoint (at items[1].kind)',
  ]);
  assert.equal(
    r.resources.networkSets.map((s) => s.name),
    ['a'],
  );
});

test('an empty export (items: []) is valid and holds nothing', () => {
  const r = load({ 'empty.yaml': 'apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicyList\nitems: []\n' });
  assert.ok(r.valid);
  assert.equal(r.counts.documents, 0);
});

const FELIX = `apiVersion: projectcalico.org/v3
kind: FelixConfiguration
metadata: { name: default }
spec:
  bpfEnabled: false
  logSeverityScreen: Info
  failsafeInboundHostPorts:
    - { protocol: tcp, port: 2222 }
    - { protocol: UDP, port: 68 }
    - { protocol: sctp, port: 9999 }
  failsafeOutboundHostPorts:
    - { protocol: udp, port: 53, net: 10.0.0.2/32 }
`;

test("FelixConfiguration's failsafe ports apply when no NotrackConfiguration sets them, and validate says so", () => {
  const r = load({ 'felix.yaml': FELIX, 'hosts.yaml': HOSTS });
  assert.ok(r.valid);
  assert.equal(lines(r), [
    'felix.yaml:8:5: notice[failsafe-source]: FelixConfiguration default failsafeInboundHostPorts: used for every host: no NotrackConfiguration sets failsafeInboundHostPorts (at spec.failsafeInboundHostPorts)',
    "felix.yaml:10:19: warning[failsafe-protocol]: sctp 9999 is not imported: notrack's failsafes match TCP and UDP (as Calico's BPF dataplane) (at spec.failsafeInboundHostPorts[2].protocol)",
    'felix.yaml:12:5: notice[failsafe-source]: FelixConfiguration default failsafeOutboundHostPorts: used for every host: no NotrackConfiguration sets failsafeOutboundHostPorts (at spec.failsafeOutboundHostPorts)',
  ]);
  const config = resolveConfiguration(r.resources, 'db-1');
  assert.equal(
    config.failsafeInbound.map((p) => `${p.protocol}/${p.port}`),
    ['6/2222', '17/68'],
  );
  assert.equal(
    config.failsafeOutbound.map((p) => `${p.protocol}/${p.port}/${p.net ? 'net' : 'any'}`),
    ['17/53/net'],
  );
  assert.equal(config.acceptMark, DEFAULT_CONFIGURATION.acceptMark);
});

test('NotrackConfiguration wins over FelixConfiguration field by field, default and per node, and the notice says so', () => {
  const r = load({
    'felix.yaml': FELIX,
    'felix-node.yaml': `apiVersion: projectcalico.org/v3
kind: FelixConfiguration
metadata: { name: node.db-2 }
spec:
  failsafeInboundHostPorts: [{ protocol: TCP, port: 3333 }]
`,
    'notrack.yaml': `apiVersion: notrack.dev/v1alpha1
kind: NotrackConfiguration
metadata: { name: node.db-1 }
spec:
  failsafeInboundHostPorts: [{ protocol: TCP, port: 22 }]
---
apiVersion: notrack.dev/v1alpha1
kind: NotrackConfiguration
metadata: { name: default }
spec:
  failsafeOutboundHostPorts: [{ protocol: UDP, port: 53 }]
`,
  });
  assert.ok(r.valid);
  const notices = r.diagnostics.filter((d) => d.code === 'failsafe-source').map((d) => `${d.file}: ${d.message}`);
  assert.equal(notices, [
    'felix-node.yaml: FelixConfiguration node.db-2 failsafeInboundHostPorts: used for host db-2: no NotrackConfiguration sets failsafeInboundHostPorts',
    'felix.yaml: FelixConfiguration default failsafeInboundHostPorts: used for every host except where NotrackConfiguration sets failsafeInboundHostPorts (node.db-1), which wins there',
    'felix.yaml: FelixConfiguration default failsafeOutboundHostPorts: not used: NotrackConfiguration default sets failsafeOutboundHostPorts for every host, and NotrackConfiguration wins',
  ]);
  const inbound = (host: string) => resolveConfiguration(r.resources, host).failsafeInbound.map((p) => p.port);
  assert.equal(inbound('db-1'), [22]); // NotrackConfiguration node.db-1
  assert.equal(inbound('db-2'), [3333]); // FelixConfiguration node.db-2 over Felix default
  assert.equal(inbound('web-1'), [2222, 68]); // FelixConfiguration default
  assert.equal(
    resolveConfiguration(r.resources, 'web-1').failsafeOutbound.map((p) => p.port),
    [53],
  );
});

test('the imported failsafe ports reach the compiled host (what the kernel gets)', () => {
  const r = load({ 'felix.yaml': FELIX, 'hosts.yaml': HOSTS });
  const state = compileHost(r.resources, 'db-1');
  const text = JSON.stringify(state);
  assert.match(text, /2222/);
  const withoutFelix = compileHost(load({ 'hosts.yaml': HOSTS }).resources, 'db-1');
  assert.is.not(state.hash, withoutFelix.hash);
  assert.not.match(JSON.stringify(withoutFelix), /2222/);
});

test('a FelixConfiguration with another name is not read, with a notice', () => {
  const r = load({
    'f.yaml': `apiVersion: projectcalico.org/v3
kind: FelixConfiguration
metadata: { name: staging }
spec: { failsafeInboundHostPorts: [] }
`,
  });
  assert.equal(lines(r), [
    'f.yaml:3:19: notice[felix-config-name]: FelixConfiguration "staging" is not read: Felix (and notrack) read only "default" and "node.<host name>" (at metadata.name)',
  ]);
  assert.equal(resolveConfiguration(r.resources, 'x').failsafeInbound, DEFAULT_CONFIGURATION.failsafeInbound);
});

test.run();

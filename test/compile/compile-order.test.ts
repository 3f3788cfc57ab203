// Which policies and rules an interface gets, and in what order: Calico's order, ties by name, rules as written.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadResources } from '../../src/model/load-resources.js';
import { formatDiagnostic } from '../../src/model/diagnostics.js';
import type { ResourceSet } from '../../src/model/resources.js';
import { compileAll, compileHost } from '../../src/compile/compile-host.js';
import type { InterfaceState } from '../../src/compile/desired-state.js';

const enc = new TextEncoder();
/** Valid resources from documents written as objects (JSON is YAML). */
function load(...docs: object[]): ResourceSet {
  const content = enc.encode(docs.map((d) => JSON.stringify(d)).join('\n---\n'));
  const r = loadResources([{ path: 'fixture.yaml', content, size: content.length }]);
  assert.equal(r.diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic), []);
  return r.resources;
}
const hep = (name: string, node: string, spec: object, labels: Record<string, string> = {}) =>
  ({ apiVersion: 'projectcalico.org/v3', kind: 'HostEndpoint', metadata: { name, labels }, spec: { node, ...spec } });
const policy = (name: string, spec: object) => ({
  apiVersion: 'projectcalico.org/v3', kind: 'GlobalNetworkPolicy', metadata: { name },
  spec: { selector: 'all()', doNotTrack: true, applyOnForward: true, ...spec },
});
const deny = (net: string) => ({ action: 'Deny', source: { nets: [net] } });
const refs = (i: InterfaceState) => i.counters.map((c) => `${c.policy}/${c.direction}/${c.index}`);

test('policies apply by order ascending, policies without order last, ties by name', () => {
  const r = load(
    hep('h-eth0', 'h', { interfaceName: 'eth0' }),
    policy('zeta-unordered', { ingress: [deny('10.0.0.1/32')] }),
    policy('b-late', { order: 300, ingress: [deny('10.0.0.2/32')] }),
    policy('alpha-unordered', { ingress: [deny('10.0.0.3/32')] }),
    policy('c-tie', { order: 100, ingress: [deny('10.0.0.4/32')] }),
    policy('a-tie', { order: 100, ingress: [deny('10.0.0.5/32')] }),
    policy('first', { order: 1.5, ingress: [deny('10.0.0.6/32')] }),
  );
  const [eth0] = compileHost(r, 'h').interfaces;
  assert.equal(refs(eth0!), [
    'first/ingress/0', 'a-tie/ingress/0', 'c-tie/ingress/0', 'b-late/ingress/0',
    'alpha-unordered/ingress/0', 'zeta-unordered/ingress/0',
  ]);
  assert.equal(eth0!.ingress.v4.map((e) => e.counter), [0, 1, 2, 3, 4, 5]);
});

test('rules keep their written order; every rule gets a counter, Log and Pass included, with its action', () => {
  const r = load(
    hep('h-eth0', 'h', { interfaceName: 'eth0' }),
    policy('p', {
      order: 1,
      ingress: [
        { action: 'Log', protocol: 'UDP' },
        { action: 'Pass', protocol: 'TCP', destination: { ports: [22] } },
        { action: 'Allow', protocol: 'TCP', destination: { ports: ['8000:8080', 443] } },
        { action: 'Deny' },
      ],
    }),
  );
  const [eth0] = compileHost(r, 'h').interfaces;
  assert.equal(refs(eth0!), ['p/ingress/0', 'p/ingress/1', 'p/ingress/2', 'p/ingress/3']);
  assert.equal(eth0!.ingress.v4.map((e) => [e.counter, e.action, e.protocol]), [[0, 'Log', 17], [1, 'Pass', 6], [2, 'Allow', 6], [3, 'Deny', null]]);
  assert.equal(eth0!.ingress.v4[2]!.destination.ports, [{ from: 443, to: 443 }, { from: 8000, to: 8080 }], 'ports sorted');
  assert.equal(eth0!.ingress.v6, eth0!.ingress.v4, 'rules without a family constraint go to both lists');
});

test('a policy applies only to the endpoints its selector picks, and only in the directions of its types', () => {
  const r = load(
    hep('web-eth0', 'web', { interfaceName: 'eth0' }, { role: 'web' }),
    hep('web-eth1', 'web', { interfaceName: 'eth1' }, { role: 'mgmt' }),
    policy('web-only', { order: 1, selector: "role == 'web'", ingress: [deny('10.0.0.1/32')] }),
    policy('egress-only', { order: 2, types: ['Egress'], egress: [{ action: 'Deny', destination: { nets: ['10.9.0.0/16'] } }] }),
  );
  const state = compileHost(r, 'web');
  assert.equal(state.interfaces.map((i) => [i.name, i.endpoint, refs(i)]), [
    ['eth0', 'web-eth0', ['web-only/ingress/0']],
    ['eth1', 'web-eth1', []],
  ]);
  assert.equal(state.egress.interfaces.map((i) => [i.name, i.policies.map((p) => p.policy)]), [
    ['eth0', ['egress-only']], ['eth1', ['egress-only']],
  ]);
});

test('interfaces: one per endpoint of the host that names one, "*" kept as written; others feed selectors only', () => {
  const r = load(
    hep('a-any', 'a', { interfaceName: '*' }, { role: 'a' }),
    hep('a-eth0', 'a', { interfaceName: 'eth0' }, { role: 'a' }),
    hep('a-addresses', 'a', { expectedIPs: ['192.0.2.9'] }, { peer: 'yes' }),
    hep('b-eth0', 'b', { interfaceName: 'eth0', expectedIPs: ['192.0.2.10'] }, { peer: 'yes' }),
    policy('from-peers', { order: 1, ingress: [{ action: 'Allow', source: { selector: "peer == 'yes'" } }] }),
  );
  const state = compileHost(r, 'a');
  assert.equal(state.interfaces.map((i) => [i.name, i.endpoint]), [['*', 'a-any'], ['eth0', 'a-eth0']]);
  const set = state.sets[state.interfaces[1]!.ingress.v4[0]!.source.inSets[0]!]!;
  assert.equal(set.prefixes, ['192.0.2.9/32', '192.0.2.10/32'], 'expectedIPs of every node, with or without an interface');
  assert.equal(compileHost(r, 'nobody').interfaces, [], 'a host without endpoints gets no interfaces');
});

test('compileAll compiles every host a HostEndpoint names, each as compileHost would', () => {
  const r = load(
    hep('z-eth0', 'zulu', { interfaceName: 'eth0' }),
    hep('a-eth0', 'alpha', { interfaceName: 'eth0' }),
    hep('a-eth1', 'alpha', { interfaceName: 'eth1' }),
    policy('p', { ingress: [deny('10.0.0.1/32')] }),
  );
  const all = compileAll(r);
  assert.equal([...all.keys()], ['alpha', 'zulu']);
  assert.equal(all.get('alpha'), compileHost(r, 'alpha'));
  assert.equal(all.get('zulu')!.interfaces.map((i) => i.name), ['eth0']);
});

test.run();

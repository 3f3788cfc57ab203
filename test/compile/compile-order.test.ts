// Which policies and rules an interface gets, and in what order: Calico's order, ties by name, rules as written.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { compileAll, compileHost } from '../../src/compile/compile-host.js';
import type { InterfaceState } from '../../src/compile/desired-state.js';
import { validDocuments } from '../support/policy-files.js';
import { hostEndpoint, untrackedPolicy } from '../support/resource-documents.js';

const deny = (net: string) => ({ action: 'Deny', source: { nets: [net] } });
const refs = (i: InterfaceState) => i.counters.map((c) => `${c.policy}/${c.direction}/${c.index}`);

test('policies apply by order ascending, policies without order last, ties by name', () => {
  const r = validDocuments(
    hostEndpoint('h-eth0', 'h', { interfaceName: 'eth0' }),
    untrackedPolicy('zeta-unordered', { ingress: [deny('10.0.0.1/32')] }),
    untrackedPolicy('b-late', { order: 300, ingress: [deny('10.0.0.2/32')] }),
    untrackedPolicy('alpha-unordered', { ingress: [deny('10.0.0.3/32')] }),
    untrackedPolicy('c-tie', { order: 100, ingress: [deny('10.0.0.4/32')] }),
    untrackedPolicy('a-tie', { order: 100, ingress: [deny('10.0.0.5/32')] }),
    untrackedPolicy('first', { order: 1.5, ingress: [deny('10.0.0.6/32')] }),
  );
  const [eth0] = compileHost(r, 'h').interfaces;
  assert.equal(refs(eth0!), [
    'first/ingress/0',
    'a-tie/ingress/0',
    'c-tie/ingress/0',
    'b-late/ingress/0',
    'alpha-unordered/ingress/0',
    'zeta-unordered/ingress/0',
  ]);
  assert.equal(
    eth0!.ingress.v4.map((e) => e.counter),
    [0, 1, 2, 3, 4, 5],
  );
});

test('rules keep their written order; every rule gets a counter, Log and Pass included, with its action', () => {
  const r = validDocuments(
    hostEndpoint('h-eth0', 'h', { interfaceName: 'eth0' }),
    untrackedPolicy('p', {
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
  assert.equal(
    eth0!.ingress.v4.map((e) => [e.counter, e.action, e.protocol]),
    [
      [0, 'Log', 17],
      [1, 'Pass', 6],
      [2, 'Allow', 6],
      [3, 'Deny', null],
    ],
  );
  assert.equal(
    eth0!.ingress.v4[2]!.destination.ports,
    [
      { from: 443, to: 443 },
      { from: 8000, to: 8080 },
    ],
    'ports sorted',
  );
  assert.equal(eth0!.ingress.v6, eth0!.ingress.v4, 'rules without a family constraint go to both lists');
});

test('a policy applies only to the endpoints its selector picks, and only in the directions of its types', () => {
  const r = validDocuments(
    hostEndpoint('web-eth0', 'web', { interfaceName: 'eth0' }, { role: 'web' }),
    hostEndpoint('web-eth1', 'web', { interfaceName: 'eth1' }, { role: 'mgmt' }),
    untrackedPolicy('web-only', { order: 1, selector: "role == 'web'", ingress: [deny('10.0.0.1/32')] }),
    untrackedPolicy('egress-only', {
      order: 2,
      types: ['Egress'],
      egress: [{ action: 'Deny', destination: { nets: ['10.9.0.0/16'] } }],
    }),
  );
  const state = compileHost(r, 'web');
  assert.equal(
    state.interfaces.map((i) => [i.name, i.endpoint, refs(i)]),
    [
      ['eth0', 'web-eth0', ['web-only/ingress/0']],
      ['eth1', 'web-eth1', []],
    ],
  );
  assert.equal(
    state.egress.interfaces.map((i) => [i.name, i.policies.map((p) => p.policy)]),
    [
      ['eth0', ['egress-only']],
      ['eth1', ['egress-only']],
    ],
  );
});

test('interfaces: one per endpoint of the host that names one, "*" kept as written; others feed selectors only', () => {
  const r = validDocuments(
    hostEndpoint('a-any', 'a', { interfaceName: '*' }, { role: 'a' }),
    hostEndpoint('a-eth0', 'a', { interfaceName: 'eth0' }, { role: 'a' }),
    hostEndpoint('a-addresses', 'a', { expectedIPs: ['192.0.2.9'] }, { peer: 'yes' }),
    hostEndpoint('b-eth0', 'b', { interfaceName: 'eth0', expectedIPs: ['192.0.2.10'] }, { peer: 'yes' }),
    untrackedPolicy('from-peers', { order: 1, ingress: [{ action: 'Allow', source: { selector: "peer == 'yes'" } }] }),
  );
  const state = compileHost(r, 'a');
  assert.equal(
    state.interfaces.map((i) => [i.name, i.endpoint]),
    [
      ['*', 'a-any'],
      ['eth0', 'a-eth0'],
    ],
  );
  const set = state.sets[state.interfaces[1]!.ingress.v4[0]!.source.inSets[0]!]!;
  assert.equal(
    set.prefixes,
    ['192.0.2.9/32', '192.0.2.10/32'],
    'expectedIPs of every node, with or without an interface',
  );
  assert.equal(compileHost(r, 'nobody').interfaces, [], 'a host without endpoints gets no interfaces');
});

test('compileAll compiles every host a HostEndpoint names, each as compileHost would', () => {
  const r = validDocuments(
    hostEndpoint('z-eth0', 'zulu', { interfaceName: 'eth0' }),
    hostEndpoint('a-eth0', 'alpha', { interfaceName: 'eth0' }),
    hostEndpoint('a-eth1', 'alpha', { interfaceName: 'eth1' }),
    untrackedPolicy('p', { ingress: [deny('10.0.0.1/32')] }),
  );
  const all = compileAll(r);
  assert.equal([...all.keys()], ['alpha', 'zulu']);
  assert.equal(all.get('alpha'), compileHost(r, 'alpha'));
  assert.equal(
    all.get('zulu')!.interfaces.map((i) => i.name),
    ['eth0'],
  );
});

test.run();

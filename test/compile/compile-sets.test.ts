// Address matching in the compiled state: which family list a rule lands in, and the prefix sets it refers to.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { compileHost } from '../../src/compile/compile-host.js';
import type { DesiredState, IngressEntry } from '../../src/compile/desired-state.js';
import { canonicalPrefixes } from '../../src/compile/prefixes.js';
import { parseCidr, type Cidr } from '../../src/net/cidr.js';
import { validDocuments } from '../support/policy-files.js';
import { hostEndpoint, networkSet, untrackedPolicy } from '../support/resource-documents.js';

const HOST = hostEndpoint('h-eth0', 'h', { interfaceName: 'eth0' });

function compileRules(rules: object[], ...extra: object[]): DesiredState {
  return compileHost(validDocuments(HOST, untrackedPolicy('p', { order: 1, ingress: rules }), ...extra), 'h');
}
const counters = (entries: IngressEntry[]) => entries.map((e) => e.counter);
const prefixes = (s: DesiredState, id: string) => s.sets[id]!.prefixes;

test('a rule goes to the family of its ipVersion, its ICMP protocol or its CIDRs, and to both otherwise', () => {
  const s = compileRules([
    { action: 'Deny', ipVersion: 4 },
    { action: 'Deny', ipVersion: 6 },
    { action: 'Allow', protocol: 'ICMP', icmp: { type: 8 } },
    { action: 'Allow', protocol: 'ICMPv6', icmp: { type: 128 } },
    { action: 'Deny', source: { nets: ['10.0.0.0/8'] } },
    { action: 'Deny', destination: { notNets: ['2001:db8::/32'] } },
    { action: 'Deny', protocol: 'TCP', destination: { ports: [80] } },
  ]);
  const [eth0] = s.interfaces;
  assert.equal(counters(eth0!.ingress.v4), [0, 2, 4, 6]);
  assert.equal(counters(eth0!.ingress.v6), [1, 3, 5, 6]);
  assert.equal(eth0!.counters.length, 7);
});

test('nets are one canonical set: sorted by address, duplicates and prefixes inside others dropped', () => {
  const s = compileRules([
    {
      action: 'Deny',
      source: { nets: ['10.1.0.0/16', '192.0.2.0/24', '10.0.0.0/8', '10.1.2.3', '192.0.2.0/24', '9.255.255.255/32'] },
    },
  ]);
  const entry = s.interfaces[0]!.ingress.v4[0]!;
  assert.is(entry.source.inSets.length, 1);
  const set = s.sets[entry.source.inSets[0]!]!;
  assert.equal(set.prefixes, ['9.255.255.255/32', '10.0.0.0/8', '192.0.2.0/24']);
  assert.is(set.family, 4);
  assert.is(set.origin, 'nets of p ingress[0] source');
});

test('IPv6 prefixes are written canonically (RFC 5952) and normalised the same way', () => {
  const cidrs = ['2001:DB8:0:0:1::/80', '2001:db8::/32', 'fd00:0:0:1::/64', 'fd00::1:0:0:0:1/128', '::/0'].map((t) =>
    parseCidr(t)!,
  ) as Cidr[];
  assert.equal(canonicalPrefixes(cidrs, 6), ['::/0']);
  assert.equal(canonicalPrefixes(cidrs.slice(0, 4), 6), ['2001:db8::/32', 'fd00:0:0:1::/64']);
  assert.equal(canonicalPrefixes(cidrs, 4), [], 'only the asked family');
});

test('identical sets are one set, shared by id whatever they came from', () => {
  const s = compileRules(
    [
      { action: 'Deny', source: { nets: ['192.0.2.0/24', '198.51.100.0/24'] } },
      { action: 'Deny', destination: { nets: ['198.51.100.0/24', '192.0.2.0/24'] } },
      { action: 'Allow', source: { selector: "list == 'x'" } },
    ],
    networkSet('x', { list: 'x' }, ['198.51.100.0/24', '192.0.2.0/24']),
  );
  const [a, b, c] = s.interfaces[0]!.ingress.v4;
  assert.is(a!.source.inSets[0], b!.destination.inSets[0]);
  assert.is(a!.source.inSets[0], c!.source.inSets[0]);
  assert.is(Object.keys(s.sets).length, 2, 'the v4 set and the (empty) v6 half of the selector');
  assert.match(a!.source.inSets[0]!, /^[0-9a-f]{16}$/);
});

test('a selector stands for the nets of matching GlobalNetworkSets and the expectedIPs of matching HostEndpoints', () => {
  const s = compileRules(
    [
      { action: 'Allow', source: { selector: "tier == 'app'" } },
      { action: 'Deny', source: { notSelector: "tier == 'app'" } },
    ],
    networkSet('app-nets', { tier: 'app' }, ['10.0.1.0/24', 'fd00:1::/64']),
    networkSet('other', { tier: 'db' }, ['10.0.2.0/24']),
    hostEndpoint('app-1', 'app-1', { expectedIPs: ['10.0.9.1', 'fd00:9::1'] }, { tier: 'app' }),
    hostEndpoint('app-2', 'app-2', { interfaceName: 'eth0', expectedIPs: ['10.0.1.77'] }, { tier: 'app' }),
  );
  const [eth0] = s.interfaces;
  assert.equal(prefixes(s, eth0!.ingress.v4[0]!.source.inSets[0]!), ['10.0.1.0/24', '10.0.9.1/32']);
  assert.equal(prefixes(s, eth0!.ingress.v6[0]!.source.inSets[0]!), ['fd00:1::/64', 'fd00:9::1/128']);
  assert.is(s.sets[eth0!.ingress.v4[0]!.source.inSets[0]!]!.origin, 'selector tier == "app"');
  assert.equal(
    eth0!.ingress.v4[1]!.source.notInSets,
    eth0!.ingress.v4[0]!.source.inSets,
    'notSelector: the same set, negated',
  );
  assert.equal(eth0!.ingress.v4[1]!.source.inSets, []);
});

test('a selector with no addresses of a family keeps its entry there with an empty set, so it never matches', () => {
  const s = compileRules(
    [{ action: 'Deny', source: { selector: "list == 'v4-only'" } }],
    networkSet('v4-only', { list: 'v4-only' }, ['203.0.113.0/24']),
  );
  const v6 = s.interfaces[0]!.ingress.v6;
  assert.is(v6.length, 1);
  assert.equal(prefixes(s, v6[0]!.source.inSets[0]!), []);
  assert.is(s.sets[v6[0]!.source.inSets[0]!]!.family, 6);
});

test('nets and a selector on one side are two sets the address must both be in; notNets go to notInSets', () => {
  const s = compileRules(
    [
      {
        action: 'Allow',
        source: { nets: ['10.0.0.0/8'], selector: "list == 'a'", notNets: ['10.0.0.0/24'] },
      },
    ],
    networkSet('a', { list: 'a' }, ['10.0.0.0/16', '172.16.0.0/12']),
  );
  const e = s.interfaces[0]!.ingress.v4[0]!;
  assert.equal(
    e.source.inSets.map((id) => prefixes(s, id)),
    [['10.0.0.0/8'], ['10.0.0.0/16', '172.16.0.0/12']],
  );
  assert.equal(
    e.source.notInSets.map((id) => prefixes(s, id)),
    [['10.0.0.0/24']],
  );
  assert.equal(s.interfaces[0]!.ingress.v6, [], 'IPv4 CIDRs keep the rule out of the IPv6 list');
});

test.run();

// Egress rules lowered to iptables matches and ipsets, in a form the iptables renderer takes as it is.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { compileHost } from '../../src/compile/compile-host.js';
import type { DesiredState } from '../../src/compile/desired-state.js';
import { canonicalRule, desiredTables } from '../../src/dataplane/iptables/index.js';
import { iptablesDesired } from '../../src/reconcile/host-dataplane.js';
import { validDocuments } from '../support/policy-files.js';
import { hostEndpoint, networkSet, untrackedPolicy } from '../support/resource-documents.js';

const egressPolicy = (name: string, spec: object) => untrackedPolicy(name, { types: ['Egress'], ...spec });
const HOST = hostEndpoint('h-eth0', 'h', {
  interfaceName: 'eth0',
  expectedIPs: ['10.0.0.5'],
  ports: [{ name: 'pg', protocol: 'TCP', port: 5432 }],
});

function compileEgress(rules: object[], ...extra: object[]): DesiredState {
  return compileHost(validDocuments(HOST, egressPolicy('out', { order: 1, egress: rules }), ...extra), 'h');
}
/** Each lowered rule as `family: tokens`. */
const lines = (s: DesiredState) =>
  s.egress.interfaces[0]!.policies[0]!.rules.map((r) => `${r.family}: ${r.match.join(' ')}`);

test("one prefix is a plain -s/-d, one port the protocol match; a rule without family constraint is one per family; a named port is its endpoints' addresses with its port", () => {
  const s = compileEgress([
    { action: 'Allow', protocol: 'TCP', source: { ports: ['pg'] }, destination: { nets: ['10.0.1.0/24'] } },
    { action: 'Deny', protocol: 'UDP', destination: { ports: [53], notNets: ['fd00::/8'] } },
    { action: 'Log', protocol: 'TCP', destination: { notPorts: ['1000:2000'] } },
  ]);
  assert.equal(lines(s), [
    '4: -s 10.0.0.5/32 -d 10.0.1.0/24 -p tcp -m tcp --sport 5432',
    '6: ! -d fd00::/8 -p udp -m udp --dport 53',
    '4: -p tcp -m tcp ! --dport 1000:2000',
    '6: -p tcp -m tcp ! --dport 1000:2000',
  ]);
  assert.equal(s.egress.ipsets, []);
});

test('sets of several prefixes (or none) are ipsets named notrack-<set id>, listed once with their family', () => {
  const s = compileEgress(
    [
      { action: 'Deny', destination: { selector: "list == 'bad'" } },
      { action: 'Allow', protocol: 'TCP', destination: { nets: ['192.0.2.0/24', '198.51.100.0/24'], ports: [443] } },
    ],
    networkSet('bad', { list: 'bad' }, ['203.0.113.0/24', '192.0.2.0/24', '198.51.100.0/24']),
  );
  const rules = s.egress.interfaces[0]!.policies[0]!.rules;
  const setOf = (i: number) => rules[i]!.match[rules[i]!.match.indexOf('--match-set') + 1]!;
  assert.equal(
    rules.map((r) => r.family),
    [4, 6, 4],
  );
  assert.equal(rules[0]!.match, ['-m', 'set', '--match-set', setOf(0), 'dst']);
  assert.match(setOf(0), /^notrack-[0-9a-f]{16}$/);
  assert.equal(
    s.egress.ipsets.map((i) => [i.name, i.family, s.sets[i.set]!.prefixes.length]).sort(),
    [
      [setOf(0), 4, 3],
      [setOf(1), 6, 0],
      [setOf(2), 4, 2],
    ].sort(),
  );
  assert.is(setOf(0), `notrack-${s.egress.ipsets.find((i) => i.name === setOf(0))!.set}`);
});

test('several ports use multiport, 15 slots a match: more positive ports become more rules, more negative ones more matches; tcp takes one option a side', () => {
  const many = Array.from({ length: 20 }, (_, i) => 1000 + 2 * i);
  const s = compileEgress([
    { action: 'Allow', protocol: 'TCP', ipVersion: 4, destination: { ports: [80, 443, '8000:8080'] } },
    { action: 'Allow', protocol: 'UDP', ipVersion: 4, source: { ports: many } },
    { action: 'Deny', protocol: 'TCP', ipVersion: 4, destination: { notPorts: many } },
    { action: 'Allow', protocol: 'TCP', ipVersion: 4, destination: { ports: ['1000:2000'], notPorts: [1500] } },
  ]);
  const first = many.slice(0, 15).join(','),
    rest = many.slice(15).join(',');
  assert.equal(lines(s), [
    '4: -p tcp -m multiport --dports 80,443,8000:8080',
    `4: -p udp -m multiport --sports ${first}`,
    `4: -p udp -m multiport --sports ${rest}`,
    `4: -p tcp -m multiport ! --dports ${first} -m multiport ! --dports ${rest}`,
    '4: -p tcp -m tcp --dport 1000:2000 -m multiport ! --dports 1500',
  ]);
  const udp = s.egress.interfaces[0]!.policies[0]!.rules.filter((r) => r.match.includes('udp'));
  assert.equal(
    udp.map((r) => r.rule.index),
    [1, 1],
    'both halves count for the same rule',
  );
});

test('protocols, negated protocols and ICMP types as iptables-save prints them', () => {
  const s = compileEgress([
    { action: 'Allow', protocol: 'ICMP', icmp: { type: 8, code: 0 } },
    { action: 'Allow', protocol: 'ICMPv6', notICMP: { type: 128 } },
    { action: 'Deny', notProtocol: 'UDP', ipVersion: 4 },
    { action: 'Deny', protocol: 47, ipVersion: 6 },
  ]);
  assert.equal(lines(s), [
    '4: -p icmp -m icmp --icmp-type 8/0',
    '6: -p ipv6-icmp -m icmp6 ! --icmpv6-type 128',
    '4: ! -p udp',
    '6: -p 47',
  ]);
});

test('every policy applying to the interface is listed in order; the iptables renderer takes the rules as they are', () => {
  const s = compileHost(
    validDocuments(
      HOST,
      egressPolicy('second', {
        order: 20,
        egress: [{ action: 'Pass', protocol: 'TCP', destination: { ports: [25] } }],
      }),
      egressPolicy('first', {
        order: 10,
        egress: [
          {
            action: 'Allow',
            protocol: 'TCP',
            source: { ports: ['pg'] },
            destination: { nets: ['10.0.1.0/24', '10.0.3.0/24'] },
          },
          { action: 'Log', protocol: 'UDP', destination: { ports: [53, 853] } },
        ],
      }),
      egressPolicy('ingress-only', { order: 5, types: ['Ingress'], ingress: [{ action: 'Deny' }] }),
    ),
    'h',
  );
  assert.equal(
    s.egress.interfaces[0]!.policies.map((p) => p.policy),
    ['first', 'second'],
  );
  const raw = desiredTables(iptablesDesired(s), 4).raw;
  const chain = raw.chains.find((c) => c.name === 'NOTRACK-PO-first')!;
  const set = s.egress.ipsets[0]!.name;
  assert.equal(
    chain.rules.map((r) => canonicalRule(r).join(' ')),
    [
      `-s 10.0.0.5/32 -p 6 -m tcp --sport 5432 -m set --match-set ${set} dst -m comment --comment notrack:first:0 -j NOTRACK-ALLOW`,
      '-p 17 -m multiport --dports 53,853 -m comment --comment notrack:first:1 -m limit --limit 100/sec --limit-burst 200 -j LOG --log-prefix notrack:first:1 ',
    ],
  );
  assert.ok(desiredTables(iptablesDesired(s), 6).raw.chains.some((c) => c.name === 'NOTRACK-PO-second'));
});

test.run();

// Ports in the compiled state: named ports as Calico's IP-port sets of the endpoints that define them, rules split into pieces.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { compileHost } from '../../src/compile/compile-host.js';
import type { DesiredState, IngressEntry } from '../../src/compile/desired-state.js';
import { evaluatePacket } from '../../src/compile/evaluate.js';
import { parsePacket } from '../../src/compile/packet-text.js';
import { validDocuments } from '../support/policy-files.js';
import { hostEndpoint, untrackedPolicy } from '../support/resource-documents.js';

/** cache-1 defines memcache on TCP and UDP 11211 and stats on TCP 22122; db-1 defines stats on TCP 9187. */
const ENDPOINTS = [
  hostEndpoint(
    'cache-1-eth0',
    'cache-1',
    {
      interfaceName: 'eth0',
      expectedIPs: ['10.0.2.20'],
      ports: [
        { name: 'memcache', protocol: 'TCP', port: 11211 },
        { name: 'memcache-udp', protocol: 'UDP', port: 11211 },
        { name: 'stats', protocol: 'TCP', port: 22122 },
        { name: 'dns', protocol: 'UDP', port: 53 },
      ],
    },
    { role: 'cache' },
  ),
  hostEndpoint(
    'db-1-eth0',
    'db-1',
    {
      interfaceName: 'eth0',
      ports: [
        { name: 'stats', protocol: 'TCP', port: 9187 },
        { name: 'dns', protocol: 'TCP', port: 53 },
      ],
    },
    { role: 'db' },
  ),
];
function compileRules(rules: object[]): DesiredState {
  return compileHost(validDocuments(...ENDPOINTS, untrackedPolicy('p', { order: 1, ingress: rules })), 'cache-1');
}
const shape = (entries: IngressEntry[]) =>
  entries.map((e) => ({
    counter: e.counter,
    protocol: e.protocol,
    ports: e.destination.ports.map((r) => (r.from === r.to ? `${r.from}` : `${r.from}:${r.to}`)),
    notPorts: e.destination.notPorts.map((r) => (r.from === r.to ? `${r.from}` : `${r.from}:${r.to}`)),
  }));

const verdict = (s: DesiredState, packet: string) => {
  const v = evaluatePacket(s, 'eth0', parsePacket(packet));
  return `${v.outcome} ${v.counter ?? '-'}`;
};

test("a named port matches its port at the addresses of the endpoints that define it (Calico's IP-port set); numbers match any address", () => {
  const s = compileRules([
    { action: 'Allow', protocol: 'TCP', destination: { ports: ['memcache', 8080, '1000:1999'] } },
  ]);
  assert.equal(shape(s.interfaces[0]!.ingress.v4), [
    { counter: 0, protocol: 6, ports: ['1000:1999', '8080'], notPorts: [] },
    { counter: 0, protocol: 6, ports: ['11211'], notPorts: [] },
  ]);
  assert.is(verdict(s, 'tcp 10.0.1.1:4000 > 10.0.2.20:11211'), 'allow 0', 'cache-1 defines memcache');
  assert.is(verdict(s, 'tcp 10.0.1.1:4000 > 10.0.2.99:11211'), 'pass -', 'no endpoint with this address defines it');
  assert.is(verdict(s, 'tcp 10.0.1.1:4000 > 10.0.2.99:8080'), 'allow 0', 'a number names no endpoint');
});

test('without a selector every endpoint that defines the name counts; with one, only those it selects; an endpoint without expectedIPs gives no address', () => {
  const s = compileRules([
    { action: 'Allow', protocol: 'TCP', destination: { ports: ['stats'] } },
    { action: 'Deny', protocol: 'TCP', destination: { selector: "role == 'db'", ports: ['stats'] } },
  ]);
  // db-1 defines stats on 9187 but has no expectedIPs: only cache-1's 22122 is left, and the db rule matches nothing.
  assert.equal(shape(s.interfaces[0]!.ingress.v4), [{ counter: 0, protocol: 6, ports: ['22122'], notPorts: [] }]);
  assert.is(verdict(s, 'tcp 10.0.1.1:4000 > 10.0.2.20:22122'), 'allow 0');
  assert.is(verdict(s, 'tcp 10.0.1.1:4000 > 10.0.2.20:9187'), 'pass -');
});

test('named ports of several protocols split the rule into adjacent entries, one per protocol, sharing the counter', () => {
  const s = compileRules([
    { action: 'Allow', destination: { ports: ['memcache', 'memcache-udp', 'dns'] } },
    { action: 'Deny' },
  ]);
  const [eth0] = s.interfaces;
  assert.equal(shape(eth0!.ingress.v4), [
    { counter: 0, protocol: 6, ports: ['11211'], notPorts: [] },
    { counter: 0, protocol: 17, ports: ['53'], notPorts: [] },
    { counter: 0, protocol: 17, ports: ['11211'], notPorts: [] },
    { counter: 1, protocol: null, ports: [], notPorts: [] },
  ]);
  assert.equal(eth0!.counters.length, 2, 'one counter per rule, however many pieces');
  assert.is(verdict(s, 'udp 10.0.1.1:4000 > 10.0.2.20:11211'), 'allow 0');
  assert.is(verdict(s, 'udp 10.0.1.1:4000 > 10.0.2.20:53'), 'allow 0', 'cache-1 defines dns on UDP');
  assert.is(verdict(s, 'tcp 10.0.1.1:4000 > 10.0.2.20:53'), 'deny 1', 'dns is TCP only on db-1, which has no address');
  assert.is(verdict(s, 'sctp 10.0.1.1:4000 > 10.0.2.20:11211'), 'deny 1');
});

test('a named port of another protocol than the rule leaves a rule that never matches: no entries, counter kept', () => {
  const s = compileRules([
    { action: 'Allow', protocol: 'TCP', destination: { ports: ['memcache-udp'] } },
    { action: 'Deny', protocol: 'UDP' },
  ]);
  const [eth0] = s.interfaces;
  assert.equal(
    eth0!.counters.map((c) => c.index),
    [0, 1],
  );
  assert.equal(
    eth0!.ingress.v4.map((e) => e.counter),
    [1],
  );
});

test('named notPorts exclude the port at the defining addresses only, and the rule still needs a packet with ports', () => {
  const s = compileRules([{ action: 'Deny', destination: { notPorts: ['memcache'] } }]);
  assert.equal(shape(s.interfaces[0]!.ingress.v4), [
    { counter: 0, protocol: 6, ports: [], notPorts: ['11211'] },
    { counter: 0, protocol: 6, ports: ['11211'], notPorts: [] },
    { counter: 0, protocol: 17, ports: ['0:65535'], notPorts: [] },
    { counter: 0, protocol: 132, ports: ['0:65535'], notPorts: [] },
    { counter: 0, protocol: 136, ports: ['0:65535'], notPorts: [] },
  ]);
  const outcome = (p: string) => evaluatePacket(s, 'eth0', parsePacket(p)).outcome;
  assert.is(outcome('tcp 10.0.1.1:4000 > 10.0.2.20:11211'), 'pass', 'memcache at the endpoint that defines it');
  assert.is(outcome('tcp 10.0.1.1:4000 > 10.0.2.21:11211'), 'deny', 'the same port elsewhere is not memcache');
  assert.is(outcome('tcp 10.0.1.1:4000 > 10.0.2.20:11212'), 'deny');
  assert.is(outcome('udp 10.0.1.1:4000 > 10.0.2.20:11211'), 'deny');
  assert.is(outcome('udp 10.0.1.1 > 10.0.2.20 frag'), 'pass', 'a later fragment has no ports');
  assert.is(outcome('icmp 10.0.1.1 > 10.0.2.20 type 8'), 'pass');
});

test('overlapping and adjacent port ranges are merged', () => {
  const s = compileRules([{ action: 'Allow', protocol: 'UDP', source: { ports: ['100:200', '150:300', 301, 5, 4] } }]);
  const e = s.interfaces[0]!.ingress.v4[0]!;
  assert.equal(e.source.ports, [
    { from: 4, to: 5 },
    { from: 100, to: 301 },
  ]);
});

test.run();

// The reference evaluator's semantics, on hand-written states: order, Log and Pass, fragments, failsafes, negations.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type {
  DesiredState,
  Failsafe,
  IngressEntry,
  PacketDescription,
  PortRange,
  SideMatch,
} from '../../src/compile/desired-state.js';
import { evaluatePacket, PacketError } from '../../src/compile/evaluate.js';
import { parsePacket } from '../../src/compile/packet-text.js';
import { desiredStateHash } from '../../src/compile/hash.js';
import { prefixMatcher, parseAddressValue } from '../../src/compile/prefix-match.js';

type EntrySpec = Partial<Omit<IngressEntry, 'source' | 'destination'>> & {
  source?: Partial<SideMatch>;
  destination?: Partial<SideMatch>;
};
const side = (s: Partial<SideMatch> = {}): SideMatch => ({ inSets: [], notInSets: [], ports: [], notPorts: [], ...s });
const ports = (...list: (number | [number, number])[]): PortRange[] =>
  list.map((p) => (typeof p === 'number' ? { from: p, to: p } : { from: p[0], to: p[1] }));

/** A state with one interface eth0 whose entries (both families unless `v6` is given) count into rules r0, r1, … */
function state(opts: {
  v4: EntrySpec[];
  v6?: EntrySpec[];
  sets?: Record<string, string[]>;
  failsafes?: Failsafe[];
}): DesiredState {
  const entry = (e: EntrySpec, i: number): IngressEntry => ({
    counter: i,
    action: 'Allow',
    protocol: null,
    notProtocol: null,
    icmp: null,
    notICMP: null,
    ...e,
    source: side(e.source),
    destination: side(e.destination),
  });
  const v4 = opts.v4.map(entry);
  const v6 = (opts.v6 ?? opts.v4).map(entry);
  const rules = Math.max(0, ...[...v4, ...v6].map((e) => e.counter + 1));
  const s: DesiredState = {
    formatVersion: 1,
    host: 'h',
    hash: '',
    config: { acceptMark: 0x40000000, passMark: 0x20000000, xdpMode: 'auto', logRate: 1, logBurst: 1 },
    failsafes: opts.failsafes ?? [],
    sets: Object.fromEntries(
      Object.entries(opts.sets ?? {}).map(([id, prefixes]) => [
        id,
        { id, family: prefixes.some((p) => p.includes(':')) ? 6 : 4, prefixes, origin: id },
      ]),
    ),
    interfaces: [
      {
        name: 'eth0',
        endpoint: 'h-eth0',
        ingress: { v4, v6 },
        counters: Array.from({ length: rules }, (_, i) => ({
          policy: `r${i}`,
          direction: 'ingress' as const,
          index: 0,
        })),
      },
    ],
    egress: { interfaces: [], ipsets: [] },
  };
  s.hash = desiredStateHash(s);
  return s;
}
/** The verdict in one word or two: `allow r1`, `pass no-match`, with logged rules after a `+`. */
function run(s: DesiredState, packet: string | PacketDescription, iface = 'eth0'): string {
  const v = evaluatePacket(s, iface, typeof packet === 'string' ? parsePacket(packet) : packet);
  return `${v.outcome} ${v.rule ? v.rule.policy : v.reason}${v.logged.length ? ` +${v.logged.map((c) => `r${c}`).join(',')}` : ''}`;
}

test('entries decide in order: the first Allow, Deny or Pass that matches wins; no match passes', () => {
  const s = state({
    v4: [
      { action: 'Deny', protocol: 17 },
      { action: 'Allow', protocol: 6, destination: { ports: ports(80) } },
      { action: 'Deny', protocol: 6 },
    ],
  });
  assert.is(run(s, 'udp 192.0.2.1:1 > 10.0.0.1:80'), 'deny r0');
  assert.is(run(s, 'tcp 192.0.2.1:1 > 10.0.0.1:80'), 'allow r1');
  assert.is(run(s, 'tcp 192.0.2.1:1 > 10.0.0.1:81'), 'deny r2');
  assert.is(run(s, 'sctp 192.0.2.1:1 > 10.0.0.1:80'), 'pass no-match');
});

test('Pass ends evaluation with the packet left to tracked processing; later rules do not run', () => {
  const s = state({
    v4: [{ action: 'Pass', source: { inSets: ['office'] } }, { action: 'Deny' }],
    sets: { office: ['192.0.2.0/24'] },
  });
  assert.is(run(s, 'tcp 192.0.2.9:1 > 10.0.0.1:22'), 'pass r0');
  assert.is(run(s, 'tcp 198.51.100.9:1 > 10.0.0.1:22'), 'deny r1');
});

test('Log rules record the packet and evaluation goes on, also when nothing decides', () => {
  const s = state({
    v4: [
      { action: 'Log', protocol: 17 },
      { action: 'Log' },
      { action: 'Deny', protocol: 17, source: { ports: ports(11211) } },
    ],
  });
  assert.is(run(s, 'udp 192.0.2.1:11211 > 10.0.0.1:4000'), 'deny r2 +r0,r1');
  assert.is(run(s, 'udp 192.0.2.1:11212 > 10.0.0.1:4000'), 'pass no-match +r0,r1');
  assert.is(run(s, 'tcp 192.0.2.1:11211 > 10.0.0.1:4000'), 'pass no-match +r1');
});

test('later fragments carry no ports and no ICMP header: port and ICMP rules skip them, others still match', () => {
  const s = state({
    v4: [
      { action: 'Allow', protocol: 17, destination: { ports: ports(53) } },
      { action: 'Allow', protocol: 17, destination: { notPorts: ports(53) } },
      { action: 'Allow', protocol: 1, icmp: { type: 8 } },
      { action: 'Deny', protocol: 1, notICMP: { type: 0 } },
      { action: 'Pass', protocol: 17 },
    ],
  });
  assert.is(run(s, 'udp 192.0.2.1:1 > 10.0.0.1:53'), 'allow r0');
  assert.is(run(s, 'udp 192.0.2.1 > 10.0.0.1 frag'), 'pass r4');
  assert.is(run(s, 'icmp 192.0.2.1 > 10.0.0.1 frag'), 'pass no-match');
  assert.is(run(s, 'icmp 192.0.2.1 > 10.0.0.1 type 8'), 'allow r2');
});

test('port rules need a protocol with ports: ICMP and other protocols never match them', () => {
  const s = state({ v4: [{ action: 'Deny', destination: { ports: ports([0, 65535]) } }] });
  assert.is(run(s, 'tcp 192.0.2.1:1 > 10.0.0.1:0'), 'deny r0');
  assert.is(run(s, 'udplite 192.0.2.1:1 > 10.0.0.1:9'), 'deny r0');
  assert.is(run(s, 'icmp 192.0.2.1 > 10.0.0.1 type 3 code 4'), 'pass no-match');
  assert.is(run(s, 'proto 47 192.0.2.1 > 10.0.0.1'), 'pass no-match');
});

test('inbound failsafes: the destination port, from anywhere or from their net only, before any rule', () => {
  const s = state({
    v4: [{ action: 'Deny' }],
    failsafes: [
      { direction: 'inbound', protocol: 6, port: 22, net: '10.0.255.0/24' },
      { direction: 'inbound', protocol: 17, port: 68, net: null },
      { direction: 'inbound', protocol: 6, port: 22, net: 'fd00:ff::/64' },
    ],
  });
  assert.is(run(s, 'tcp 10.0.255.7:50000 > 10.0.0.1:22'), 'pass failsafe');
  assert.is(run(s, 'tcp 10.0.254.7:50000 > 10.0.0.1:22'), 'deny r0', 'outside the net');
  assert.is(run(s, 'udp 10.0.254.7:22 > 10.0.0.1:22'), 'deny r0', 'another protocol');
  assert.is(run(s, 'udp 192.0.2.1:67 > 10.0.0.1:68'), 'pass failsafe');
  assert.is(
    run(s, 'udp [2001:db8::1]:67 > [fd00::1]:68'),
    'pass failsafe',
    'a failsafe without a net is for both families',
  );
  assert.is(run(s, 'tcp [fd00:ff::9]:1 > [fd00::1]:22'), 'pass failsafe');
  assert.is(run(s, 'tcp 10.0.255.7 > 10.0.0.1 frag'), 'deny r0', 'a later fragment has no port to look up');
});

test("outbound failsafes pass only replies to this host's connections: the source port and the source address", () => {
  const s = state({
    v4: [{ action: 'Deny' }],
    failsafes: [
      { direction: 'outbound', protocol: 17, port: 53, net: null },
      { direction: 'outbound', protocol: 6, port: 443, net: '192.0.2.0/24' },
    ],
  });
  assert.is(run(s, 'udp 9.9.9.9:53 > 10.0.0.1:40000 reply'), 'pass failsafe');
  assert.is(
    run(s, 'udp 9.9.9.9:53 > 10.0.0.1:40000'),
    'deny r0',
    'a packet from port 53 that answers no connection of the host is policy',
  );
  assert.is(run(s, 'udp 10.0.0.9:40000 > 10.0.0.1:53'), 'deny r0', 'a query to the host is not a reply');
  assert.is(run(s, 'tcp 192.0.2.5:443 > 10.0.0.1:40000 reply'), 'pass failsafe');
  assert.is(run(s, 'tcp 198.51.100.5:443 > 10.0.0.1:40000 reply'), 'deny r0');
});

test('notPorts, notNets and notProtocol exclude what they list', () => {
  const s = state({
    v4: [
      { action: 'Allow', protocol: 6, destination: { notPorts: ports(22, [6000, 6999]) } },
      { action: 'Deny', notProtocol: 6, source: { notInSets: ['lan'] } },
    ],
    sets: { lan: ['10.0.0.0/8'] },
  });
  assert.is(run(s, 'tcp 192.0.2.1:1 > 10.0.0.1:80'), 'allow r0');
  assert.is(run(s, 'tcp 192.0.2.1:1 > 10.0.0.1:22'), 'pass no-match');
  assert.is(run(s, 'tcp 192.0.2.1:1 > 10.0.0.1:6500'), 'pass no-match');
  assert.is(run(s, 'udp 192.0.2.1:1 > 10.0.0.1:22'), 'deny r1');
  assert.is(run(s, 'udp 10.1.2.3:1 > 10.0.0.1:22'), 'pass no-match', 'inside notNets');
  assert.is(run(s, 'proto 47 192.0.2.1 > 10.0.0.1'), 'deny r1');
});

test('icmp and notICMP: a type alone matches every code; type and code match the pair', () => {
  const s = state({
    v4: [
      { action: 'Allow', protocol: 1, icmp: { type: 3, code: 4 } },
      { action: 'Deny', protocol: 1, icmp: { type: 3 } },
      { action: 'Pass', protocol: 1, notICMP: { type: 8, code: 0 } },
      { action: 'Allow', protocol: 1 },
    ],
  });
  assert.is(run(s, 'icmp 192.0.2.1 > 10.0.0.1 type 3 code 4'), 'allow r0');
  assert.is(run(s, 'icmp 192.0.2.1 > 10.0.0.1 type 3 code 1'), 'deny r1');
  assert.is(run(s, 'icmp 192.0.2.1 > 10.0.0.1 type 8 code 1'), 'pass r2');
  assert.is(run(s, 'icmp 192.0.2.1 > 10.0.0.1 type 8 code 0'), 'allow r3');
});

test('IPv6 packets run the IPv6 list with IPv6 sets; ICMPv6 is protocol 58', () => {
  const s = state({
    v4: [{ action: 'Deny', counter: 0 }],
    v6: [
      { action: 'Allow', counter: 1, protocol: 58, icmp: { type: 128 } },
      { action: 'Deny', counter: 2, source: { inSets: ['bad6'] }, destination: { ports: ports(443) } },
    ],
    sets: { bad6: ['2001:db8:bad::/48'] },
  });
  assert.is(run(s, 'icmpv6 2001:db8::1 > fd00::1 type 128'), 'allow r1');
  assert.is(run(s, 'icmp 192.0.2.1 > 10.0.0.1 type 8'), 'deny r0');
  assert.is(run(s, 'tcp [2001:db8:bad:7::1]:1 > [fd00::1]:443'), 'deny r2');
  assert.is(run(s, 'tcp [2001:db8:bae::1]:1 > [fd00::1]:443'), 'pass no-match');
  assert.is(run(s, 'proto 1 2001:db8::1 > fd00::1'), 'pass no-match', 'protocol 1 in IPv6 is not ICMPv6');
});

test('an interface without its own endpoint runs the "*" endpoint\'s state; with neither, no program runs', () => {
  const s = state({ v4: [{ action: 'Deny' }] });
  assert.is(run(s, 'tcp 192.0.2.1:1 > 10.0.0.1:80', 'eth9'), 'pass no-policy');
  const star = { ...s, interfaces: [{ ...s.interfaces[0]!, name: '*' }] };
  assert.is(run(star, 'tcp 192.0.2.1:1 > 10.0.0.1:80', 'eth9'), 'deny r0');
});

test('a packet whose addresses do not fit its family is refused, not guessed at', () => {
  const s = state({ v4: [] });
  assert.throws(
    () => evaluatePacket(s, 'eth0', { family: 6, protocol: 6, src: '192.0.2.1', dst: '10.0.0.1', sport: 1, dport: 2 }),
    (e: unknown) => e instanceof PacketError && e.code === 'invalid-packet',
  );
});

test('set matching over 2^20 prefixes: members, non-members, a host and a /8 at the edges', () => {
  const prefixes: string[] = [];
  for (let i = 0; i < 1 << 20; i++) prefixes.push(`${16 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}.0/24`);
  prefixes.push('203.0.113.7', '0.0.0.0/8');
  const m = prefixMatcher(4, prefixes);
  let hits = 0;
  for (let i = 0; i < 20_000; i++)
    if (m.has(parseAddressValue(`${16 + (i % 20)}.${i % 256}.${(i * 7) % 256}.9`)!)) hits++;
  assert.is(hits, 16_000, 'first octets 16..31 are in the list, 32..35 are not');
  assert.ok(m.has(parseAddressValue('203.0.113.7')!) && !m.has(parseAddressValue('203.0.113.8')!));
  assert.ok(m.has(parseAddressValue('0.1.2.3')!));
});

test.run();

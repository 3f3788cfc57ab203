// The test packet builder makes the exact bytes a real stack would: known headers byte for byte, valid
// checksums, and header offsets that the BPF parser's findings can be compared with.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  buildArpFrame,
  buildEthernetFrame,
  buildFrame,
  crc32c,
  internetChecksum,
  layoutFrame,
  type PacketSpec,
} from '../support/packets.js';

const hex = (b: Buffer) => b.toString('hex');

const v4 = (s: Partial<PacketSpec> = {}): PacketSpec => ({
  family: 4,
  proto: 'tcp',
  src: '10.0.0.1',
  dst: '10.0.0.2',
  sport: 1234,
  dport: 80,
  ...s,
});
const v6 = (s: Partial<PacketSpec> = {}): PacketSpec => ({
  family: 6,
  proto: 'tcp',
  src: 'fd00::1',
  dst: 'fd00::2',
  sport: 1234,
  dport: 80,
  ...s,
});

/** The IPv4/IPv6 pseudo-header of an L4 checksum. */
function pseudo(frame: Buffer, l3: number, family: 4 | 6, proto: number, length: number): Buffer {
  if (family === 4) {
    const p = Buffer.alloc(12);
    frame.copy(p, 0, l3 + 12, l3 + 20);
    p[9] = proto;
    p.writeUInt16BE(length, 10);
    return p;
  }
  const p = Buffer.alloc(40);
  frame.copy(p, 0, l3 + 8, l3 + 40);
  p.writeUInt32BE(length, 32);
  p[39] = proto;
  return p;
}

test('an IPv4 header matches the well-known example header byte for byte, checksum b861 included', () => {
  // 4500 0073 0000 4000 4011 b861 c0a8 0001 c0a8 00c7: UDP, 115 bytes, DF, TTL 64.
  const f = layoutFrame({
    family: 4,
    proto: 'udp',
    src: '192.168.0.1',
    dst: '192.168.0.199',
    sport: 1,
    dport: 2,
    ipId: 0,
    dontFragment: true,
    ttl: 64,
    payload: Buffer.alloc(115 - 20 - 8),
  });
  assert.is(hex(f.frame.subarray(14, 34)), '45000073000040004011b861c0a80001c0a800c7');
  assert.is(f.l3Off, 14);
  assert.is(f.l4Off, 34);
  assert.is(f.frame.length, 14 + 115);
});

test('a whole IPv4 UDP frame is exactly the expected bytes, with UDP checksum e6b9', () => {
  const frame = buildFrame(v4({ proto: 'udp' }));
  assert.is(
    hex(frame),
    '020000000002' +
      '020000000001' +
      '0800' +
      '4500001c00000000401166cf0a0000010a000002' +
      '04d2005000 08e6b9'.replace(/ /g, ''),
  );
  assert.is(internetChecksum(frame.subarray(14, 34)), 0, 'the IPv4 header sums to zero');
});

test('an ICMP echo request has type 8, the given code and checksum f7ff over an empty body', () => {
  const f = layoutFrame(v4({ proto: 'icmp', icmpType: 8, icmpCode: 0 }));
  assert.is(hex(f.frame.subarray(f.l4Off!)), '0800f7ff00000000');
  const unreachable = layoutFrame(v4({ proto: 'icmp', icmpType: 3, icmpCode: 13, payload: Buffer.from('abc') }));
  const icmp = unreachable.frame.subarray(unreachable.l4Off!);
  assert.is(icmp[0], 3);
  assert.is(icmp[1], 13);
  assert.is(internetChecksum(icmp), 0, 'the ICMP message sums to zero');
});

test('CRC-32C has the standard check value and SCTP stores it little-endian over the zeroed field', () => {
  assert.is(crc32c(Buffer.from('123456789')), 0xe3069283);
  const f = layoutFrame(v4({ proto: 'sctp', sport: 5000, dport: 6000, payload: Buffer.alloc(16, 7) }));
  const sctp = Buffer.from(f.frame.subarray(f.l4Off!));
  assert.is(sctp.readUInt16BE(0), 5000);
  assert.is(sctp.readUInt16BE(2), 6000);
  const stored = sctp.readUInt32LE(8);
  sctp.writeUInt32LE(0, 8);
  assert.is(stored, crc32c(sctp));
});

test('TCP and UDP checksums over IPv4 and IPv6 verify against the pseudo-header', () => {
  for (const spec of [
    v4(),
    v4({ proto: 'udp', payload: Buffer.from('hello') }),
    v6({ payload: Buffer.from('x') }),
    v6({ proto: 'udp' }),
    v6({ proto: 'udplite', payload: Buffer.alloc(3) }),
    v6({ proto: 'icmpv6', icmpType: 128 }),
  ]) {
    const f = layoutFrame(spec);
    const seg = f.frame.subarray(f.l4Off!);
    assert.is(
      internetChecksum(pseudo(f.frame, f.l3Off, spec.family, f.ipProto, seg.length), seg),
      0,
      `checksum of ${spec.proto} over IPv${spec.family}`,
    );
  }
  const tcp = layoutFrame(v4({ tcpFlags: 0x12 }));
  assert.is(tcp.frame[tcp.l4Off! + 13], 0x12, 'TCP flags');
  assert.is(tcp.frame[tcp.l4Off! + 12], 0x50, 'TCP data offset 5');
});

test('VLAN tags sit between the MAC addresses and the EtherType: 0x8100 for one, 0x88a8 then 0x8100 for two', () => {
  const one = layoutFrame(v4({ vlan: [100] }));
  assert.is(hex(one.frame.subarray(12, 18)), '81000064' + '0800');
  assert.is(one.l3Off, 18);
  assert.is(one.l4Off, 38);
  const two = layoutFrame(v6({ vlan: [10, 20] }));
  assert.is(hex(two.frame.subarray(12, 22)), '88a8000a' + '81000014' + '86dd');
  assert.is(two.l3Off, 22);
  assert.is(two.l4Off, 22 + 40);
  assert.is(two.frame[two.l3Off]! >> 4, 6);
});

test('IPv4 options are padded to whole words and counted in ihl and the checksum', () => {
  const f = layoutFrame(v4({ ipOptions: Buffer.from([0x94, 0x04, 0x00]) })); // router alert, 3 of 4 bytes
  assert.is(f.frame[14], 0x46, 'version 4, ihl 6');
  assert.is(hex(f.frame.subarray(34, 38)), '94040000');
  assert.is(f.l4Off, 14 + 24);
  assert.is(internetChecksum(f.frame.subarray(14, 38)), 0);
  assert.is(f.frame.readUInt16BE(f.l4Off! + 2), 80, 'destination port right after the options');
});

test('IPv4 fragments: a first fragment has MF and the TCP header, a later one only its payload at offset/8', () => {
  const first = layoutFrame(v4({ fragment: { offset: 0, more: true, id: 0xbeef } }));
  assert.is(first.frame.readUInt16BE(18), 0xbeef, 'identification');
  assert.is(first.frame.readUInt16BE(20), 0x2000, 'MF, offset 0');
  assert.is(first.l4Off, 34);
  const later = layoutFrame(v4({ fragment: { offset: 1480, more: false }, payload: Buffer.alloc(100, 0xaa) }));
  assert.is(later.frame.readUInt16BE(20), 1480 / 8, 'offset in 8-byte units, MF clear');
  assert.is(later.l4Off, null);
  assert.is(later.frame.readUInt16BE(16), 20 + 100, 'total length');
  assert.is(later.frame.length, 14 + 20 + 100);
  assert.is(later.frame[34], 0xaa, 'the payload follows the IP header directly');
  assert.throws(() => buildFrame(v4({ fragment: { offset: 12, more: true } })), /multiple of 8/);
});

test('an IPv6 extension header chain links each next-header code and puts the transport header after it', () => {
  const f = layoutFrame(
    v6({
      proto: 'udp',
      extHeaders: [
        { type: 'hop-by-hop' },
        { type: 'routing' },
        { type: 'destination', options: Buffer.alloc(10) },
        { type: 'ah' },
      ],
    }),
  );
  const l3 = f.l3Off;
  assert.is(f.frame[l3 + 6], 0, 'IPv6 -> hop-by-hop');
  assert.is(f.frame[l3 + 40], 43, 'hop-by-hop -> routing');
  assert.is(f.frame[l3 + 41], 0, 'hop-by-hop is 8 bytes');
  assert.is(f.frame[l3 + 48], 60, 'routing -> destination options');
  assert.is(f.frame[l3 + 56], 51, 'destination options -> AH');
  assert.is(f.frame[l3 + 57], 1, 'destination options with 10 option bytes is 16 bytes');
  assert.is(f.frame[l3 + 72], 17, 'AH -> UDP');
  assert.is(f.frame[l3 + 73], 24 / 4 - 2, 'AH length in 4-byte units minus 2');
  assert.is(f.l4Off, l3 + 40 + 8 + 8 + 16 + 24);
  assert.is(f.frame.readUInt16BE(l3 + 4), 8 + 8 + 16 + 24 + 8, 'payload length covers the chain and UDP');
  assert.is(f.frame.readUInt16BE(f.l4Off! + 2), 80);
});

test('an IPv6 fragment gets a fragment header at the end of the chain with offset and M flag', () => {
  const later = layoutFrame(
    v6({
      extHeaders: [{ type: 'hop-by-hop' }],
      fragment: { offset: 1232, more: true, id: 7 },
      payload: Buffer.alloc(8),
    }),
  );
  const fh = later.l3Off + 48;
  assert.is(later.frame[later.l3Off + 40], 44, 'hop-by-hop -> fragment');
  assert.is(later.frame[fh], 6, 'fragment -> TCP');
  assert.is(later.frame.readUInt16BE(fh + 2), ((1232 / 8) << 3) | 1);
  assert.is(later.frame.readUInt32BE(fh + 4), 7);
  assert.is(later.l4Off, null);
  assert.is(later.frame.length, later.l3Off + 40 + 8 + 8 + 8);
});

test('ARP and other EtherTypes make plain Ethernet frames', () => {
  const arp = buildArpFrame({ senderIp: '10.0.0.1', targetIp: '10.0.0.2' });
  assert.is(arp.length, 42);
  assert.is(hex(arp.subarray(0, 6)), 'ffffffffffff');
  assert.is(arp.readUInt16BE(12), 0x0806);
  assert.is(hex(arp.subarray(14, 22)), '0001080006040001');
  assert.is(hex(arp.subarray(28, 32)), '0a000001');
  assert.is(hex(arp.subarray(38, 42)), '0a000002');
  const lldp = buildEthernetFrame({ etherType: 0x88cc, payload: Buffer.from([1, 2]), vlan: [3] });
  assert.is(hex(lldp.subarray(12)), '81000003' + '88cc' + '0102');
});

test('corruptions change only the chosen field, after the checksums were computed', () => {
  const good = buildFrame(v4());
  const bad = buildFrame(v4({ corrupt: { ihl: 4 } }));
  assert.is(bad[14], 0x44);
  assert.equal(bad.subarray(15), good.subarray(15));
  assert.is(buildFrame(v4({ corrupt: { totalLength: 999 } })).readUInt16BE(16), 999);
  assert.is(buildFrame(v6({ corrupt: { payloadLength: 0 } })).readUInt16BE(18), 0);
  assert.is(buildFrame(v6({ corrupt: { version: 4 } }))[14]! >> 4, 4);
  assert.is(buildFrame(v4({ corrupt: { tcpDataOffset: 3 } }))[34 + 12], 0x30);
  assert.is(buildFrame(v4({ corrupt: { truncateTo: 30 } })).length, 30);
  assert.is(buildFrame(v4({ proto: 'udp', padTo: 60 })).length, 60);
});

test('a protocol without a known header carries the payload as is', () => {
  const f = layoutFrame(v4({ proto: 47, payload: Buffer.from('0000 0800'.replace(' ', ''), 'hex') }));
  assert.is(f.frame[14 + 9], 47);
  assert.is(hex(f.frame.subarray(f.l4Off!)), '00000800');
  assert.throws(() => buildFrame(v4({ src: 'fd00::1' })), /not an IPv4 address/);
});

test.run();

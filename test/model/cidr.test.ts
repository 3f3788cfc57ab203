// Addresses and CIDRs as policies write them: every IPv6 form, the canonical text, containment and overlap.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  NetList,
  cidrContains,
  cidrOverlaps,
  formatCidr,
  formatIp,
  isCatchAll,
  parseCidr,
  parseIp,
  type Cidr,
} from '../../src/net/cidr.js';

function cidr(text: string): Cidr {
  const c = parseCidr(text);
  if (!c) throw new Error(`${text} should parse`);
  return c;
}

/** The canonical text of an address or CIDR. */
function canonical(text: string): string {
  return formatCidr(cidr(text));
}

function bytes(text: string): number[] {
  const ip = parseIp(text);
  if (!ip) throw new Error(`${text} should parse`);
  return Array.from(ip.addr);
}

test('IPv4 addresses: dotted quads only, no leading zeros, no octet over 255', () => {
  assert.equal(parseIp('192.0.2.1'), { family: 4, addr: new Uint8Array([192, 0, 2, 1]) });
  assert.equal(bytes('0.0.0.0'), [0, 0, 0, 0]);
  assert.equal(bytes('255.255.255.255'), [255, 255, 255, 255]);
  for (const bad of [
    '192.0.2',
    '192.0.2.1.5',
    '192.0.2.256',
    '192.0.02.1',
    '192.0.2.-1',
    '192.0.2.',
    ' 192.0.2.1',
    '192.0.2.1 ',
    '0x7f.0.0.1',
    '',
    '.1.2.3',
    '1..2.3',
    '00.1.2.3',
    '1.2.3.1000',
    '1.2.3.4e0',
    '\uff11.2.3.4',
  ]) {
    assert.is(parseIp(bad), null, bad);
  }
});

test('IPv6 addresses in every form: full, compressed, leading, trailing, upper case, IPv4 tail', () => {
  const loopback = [...new Array(15).fill(0), 1];
  assert.equal(bytes('::1'), loopback);
  assert.equal(bytes('0:0:0:0:0:0:0:1'), loopback);
  assert.equal(bytes('0000:0000:0000:0000:0000:0000:0000:0001'), loopback);
  assert.equal(bytes('::'), new Array(16).fill(0));
  assert.equal(bytes('fd00::'), [0xfd, 0, ...new Array(14).fill(0)]);
  assert.equal(bytes('2001:DB8::A:b'), [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0a, 0, 0x0b]);
  assert.equal(bytes('1:2:3:4:5:6:7::'), [0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0, 0]);
  assert.equal(bytes('::2:3:4:5:6:7:8'), [0, 0, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0, 8]);
  assert.equal(bytes('::ffff:192.0.2.1'), [...new Array(10).fill(0), 0xff, 0xff, 192, 0, 2, 1]);
  assert.equal(bytes('64:ff9b::198.51.100.7'), [0, 0x64, 0xff, 0x9b, ...new Array(8).fill(0), 198, 51, 100, 7]);
  assert.equal(bytes('1:2:3:4:5:6:10.0.0.1'), [0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 10, 0, 0, 1]);
  assert.is(parseIp('::1')!.family, 6);
});

test('malformed IPv6 is refused: too many groups, two "::", bad digits, zone ids, stray colons', () => {
  for (const bad of [
    ':::',
    '1::2::3',
    '1:2:3:4:5:6:7:8:9',
    '1:2:3:4:5:6:7:8::',
    '1:2:3:4:5:6:7',
    '12345::',
    'g::1',
    ':1::',
    '1::2:',
    'fe80::1%eth0',
    '::ffff:256.0.0.1',
    '1:2:3:4:5:6:7:1.2.3.4',
    '[::1]',
    '2001:db8:::/48',
  ]) {
    assert.is(parseIp(bad), null, bad);
  }
});

test('a bare address is a host route; a prefix must be a plain number within the family', () => {
  assert.equal(canonical('192.0.2.7'), '192.0.2.7/32');
  assert.equal(canonical('2001:db8::7'), '2001:db8::7/128');
  assert.equal(canonical('10.0.0.0/0'), '0.0.0.0/0');
  for (const bad of [
    '10.0.0.0/33',
    '10.0.0.0/',
    '10.0.0.0/08',
    '10.0.0.0/-1',
    '10.0.0.0/8/8',
    '10.0.0.0/+8',
    '10.0.0.0/8 ',
    '10.0.0.0/1000',
    '::/129',
    'fd00::/64x',
    '/8',
  ]) {
    assert.is(parseCidr(bad), null, bad);
  }
});

test('host bits are cleared and flagged, so 10.1.2.3/8 reads as 10.0.0.0/8 and a warning can say so', () => {
  const c = cidr('10.1.2.3/8');
  assert.is(formatCidr(c), '10.0.0.0/8');
  assert.ok(c.hostBitsSet);
  assert.not.ok(cidr('10.0.0.0/8').hostBitsSet);
  assert.is(canonical('198.51.100.77/27'), '198.51.100.64/27');
  assert.is(canonical('2001:db8:abcd:ef01::1/50'), '2001:db8:abcd:c000::/50');
  assert.ok(cidr('fd00::1/64').hostBitsSet);
  assert.not.ok(cidr('fd00::/64').hostBitsSet);
});

test('IPv6 canonical text (RFC 5952): lower case, no leading zeros, the longest zero run compressed, the first on a tie', () => {
  const cases: [string, string][] = [
    ['2001:0DB8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // one zero group is not compressed
    ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'], // the longer run wins
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // a tie: the first run
    ['0:0:0:0:0:0:0:0', '::'],
    ['fd00:0:0:0:0:0:0:0', 'fd00::'],
    ['0:0:0:0:0:0:0:1', '::1'],
    ['1:0:0:0:0:0:0:0', '1::'],
    ['fd00:0:0:1::10', 'fd00:0:0:1::10'],
  ];
  for (const [input, want] of cases) assert.is(formatIp(6, parseIp(input)!.addr), want, input);
  assert.is(formatIp(4, new Uint8Array([10, 0, 255, 1])), '10.0.255.1');
});

test('containment: same family only, the shorter prefix contains the longer, including odd prefix lengths', () => {
  assert.ok(cidrContains(cidr('10.0.0.0/8'), cidr('10.1.0.0/16')));
  assert.ok(cidrContains(cidr('10.0.0.0/8'), cidr('10.0.0.0/8')));
  assert.ok(cidrContains(cidr('10.0.0.0/8'), cidr('10.255.255.255')));
  assert.not.ok(cidrContains(cidr('10.1.0.0/16'), cidr('10.0.0.0/8')));
  assert.not.ok(cidrContains(cidr('10.0.0.0/8'), cidr('11.0.0.0/16')));
  assert.ok(cidrContains(cidr('198.18.0.0/15'), cidr('198.19.7.0/24')));
  assert.not.ok(cidrContains(cidr('198.18.0.0/15'), cidr('198.20.0.0/24')));
  assert.ok(cidrContains(cidr('10.8.0.0/13'), cidr('10.15.255.0/24')));
  assert.not.ok(cidrContains(cidr('10.8.0.0/13'), cidr('10.16.0.0/24')));
  assert.ok(cidrContains(cidr('2001:db8::/32'), cidr('2001:db8:dead::/48')));
  assert.ok(cidrContains(cidr('fd00::/61'), cidr('fd00:0:0:7::/64')));
  assert.not.ok(cidrContains(cidr('fd00::/61'), cidr('fd00:0:0:8::/64')));
  assert.ok(cidrContains(cidr('0.0.0.0/0'), cidr('203.0.113.9')));
  assert.ok(cidrContains(cidr('::/0'), cidr('2001:db8::1')));
  assert.not.ok(cidrContains(cidr('::/0'), cidr('10.0.0.0/8')), 'IPv6 never contains IPv4');
  assert.not.ok(cidrContains(cidr('0.0.0.0/0'), cidr('::ffff:10.0.0.1')), 'not even a mapped address');
});

test('overlap is containment either way; disjoint networks and different families never overlap', () => {
  assert.ok(cidrOverlaps(cidr('10.0.0.0/8'), cidr('10.1.0.0/16')));
  assert.ok(cidrOverlaps(cidr('10.1.0.0/16'), cidr('10.0.0.0/8')));
  assert.not.ok(cidrOverlaps(cidr('10.0.0.0/9'), cidr('10.128.0.0/9')));
  assert.not.ok(cidrOverlaps(cidr('fd00::/64'), cidr('fd00:0:0:1::/64')));
  assert.not.ok(cidrOverlaps(cidr('0.0.0.0/0'), cidr('::/0')));
});

test('only a zero-length prefix is a catch-all, in either family', () => {
  assert.ok(isCatchAll(cidr('0.0.0.0/0')));
  assert.ok(isCatchAll(cidr('::/0')));
  assert.ok(isCatchAll(cidr('10.0.0.0/0')), 'host bits do not change that');
  assert.not.ok(isCatchAll(cidr('0.0.0.0/1')));
  assert.not.ok(isCatchAll(cidr('::/1')));
});

test('NetList parses exactly as parseCidr, keeps the nets in order, and later parses leave earlier ones alone', () => {
  const texts = [
    '10.0.0.0/8',
    '10.1.2.3/8',
    '1.2.3.4',
    '0.0.0.0/0',
    '255.255.255.255/32',
    '2001:db8::/32',
    '2001:db8::1/64',
    '::1',
    '::ffff:10.1.2.3/120',
    'FE80::1/10',
    '10.0.0.0/33',
    '10.0.0.0/08',
    '10.0.0/8',
    '010.0.0.0/8',
    '10.0.0.0/',
    '2001:db8::/129',
    'nope',
    '',
  ];
  const plain = (c: Cidr | null) => c && { ...c, addr: Array.from(c.addr) };
  const list = new NetList();
  // Enough parses to fill more than one slab and grow the per-net arrays.
  const kept: { text: string; index: number | null }[] = [];
  for (let i = 0; i < 6000; i++) {
    const text = texts[i % texts.length]!;
    kept.push({ text, index: list.parse(text) ? list.length - 1 : null });
  }
  for (const { text, index } of kept) {
    assert.equal(plain(index === null ? null : list.at(index)), plain(parseCidr(text)), text);
    if (index !== null && list.family(index) === 4)
      assert.is(list.v4Word(index), Buffer.from(parseCidr(text)!.addr).readUInt32BE(0), `${text}: its word`);
  }
  assert.equal(
    list.toCidrs().map(plain),
    kept.filter((k) => k.index !== null).map((k) => plain(parseCidr(k.text))),
  );
});

test('NetList.fromFlat gives back the nets flat() stored, v4 and v6 mixed over several slabs, and refuses arrays that do not fit', () => {
  const list = new NetList();
  // 40,000 nets of both sizes: several 64 KiB slabs, with an IPv6 address due where one slab ends.
  for (let i = 0; i < 40_000; i++) {
    if (i % 7 === 3) list.parse(`2001:db8:${(i % 65536).toString(16)}::${(i % 9).toString(16)}/${64 + (i % 65)}`);
    else list.parse(`${i % 256}.${(i >> 8) % 256}.${i % 13}.${i % 200}/${i % 33}`);
  }
  const flat = list.flat();
  const back = NetList.fromFlat(flat);
  assert.ok(back);
  assert.is(back.length, list.length);
  const plain = (c: Cidr) => ({ ...c, addr: Array.from(c.addr) });
  assert.equal(back.toCidrs().map(plain), list.toCidrs().map(plain));
  assert.equal(back.flat(), flat);
  // A later parse appends after the copied nets and leaves them alone.
  assert.ok(back.parse('192.0.2.0/24'));
  assert.equal(plain(back.at(list.length)), plain(parseCidr('192.0.2.0/24')!));
  assert.equal(plain(back.at(list.length - 1)), plain(list.at(list.length - 1)));

  const cut = (addrs: Uint8Array, prefix = flat.prefix, flags = flat.flags) =>
    NetList.fromFlat({ addrs, prefix, flags });
  assert.is(cut(flat.addrs.subarray(0, flat.addrs.length - 1)), null, 'an address short');
  assert.is(cut(new Uint8Array([...flat.addrs, 0])), null, 'a byte left over');
  assert.is(cut(flat.addrs, flat.prefix, flat.flags.subarray(1)), null, 'fewer flags than lengths');
  const badFlag = flat.flags.slice();
  badFlag[5] = 0xff;
  assert.is(cut(flat.addrs, flat.prefix, badFlag), null, 'an unknown flag');
  const badLength = flat.prefix.slice();
  badLength[0] = 33;
  assert.is(cut(flat.addrs, badLength), null, 'an IPv4 length over 32');
  assert.equal(
    NetList.fromFlat({ addrs: new Uint8Array(0), prefix: new Uint8Array(0), flags: new Uint8Array(0) })?.length,
    0,
  );
});

test('an IPv4-only NetList.fromFlat views the stored bytes: the same nets, a later parse writes elsewhere, bad lengths refused', () => {
  const list = new NetList();
  // 50,001 nets: four slabs' worth and a tail that is not a whole 32-bit word of lengths.
  for (let i = 0; i < 50_001; i++) list.parse(`${(i * 7) % 256}.${i % 256}.${(i >> 8) % 256}.${i % 251}/${i % 33}`);
  const flat = list.flat();
  const stored = Buffer.from(flat.addrs);
  const back = NetList.fromFlat(flat)!;
  const plain = (c: Cidr) => ({ ...c, addr: Array.from(c.addr) });
  assert.equal(back.toCidrs().map(plain), list.toCidrs().map(plain));
  for (let i = 0; i < back.length; i += 997) assert.is(back.v4Word(i), list.v4Word(i));
  for (const text of ['198.51.100.0/24', '2001:db8::/48', '203.0.113.7']) assert.ok(back.parse(text));
  assert.equal(Buffer.from(flat.addrs), stored, 'the stored bytes are never written');
  assert.equal(back.at(list.length + 1).prefix, 48);
  assert.equal(plain(back.at(list.length - 1)), plain(list.at(list.length - 1)));
  for (const at of [0, 50_000]) {
    const prefix = flat.prefix.slice();
    prefix[at] = 33;
    assert.is(NetList.fromFlat({ ...flat, prefix }), null, `length 33 at ${at}`);
    const flags = flat.flags.slice();
    flags[at] = 4;
    assert.is(NetList.fromFlat({ ...flat, flags }), null, `an unknown flag at ${at}`);
  }
});

test.run();

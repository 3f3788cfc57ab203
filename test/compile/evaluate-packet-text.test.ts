// The packet notation of `explain` and policy tests: what it reads, how it prints, and what it refuses and why.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { formatPacket, parsePacket, PacketSyntaxError } from '../../src/compile/packet-text.js';

test('TCP, UDP, SCTP and UDPLite with IPv4 or bracketed IPv6 addresses and both ports', () => {
  assert.equal(parsePacket('tcp 203.0.113.5:4000 > 10.0.0.5:5432'), {
    family: 4,
    protocol: 6,
    src: '203.0.113.5',
    dst: '10.0.0.5',
    sport: 4000,
    dport: 5432,
  });
  assert.equal(parsePacket('udp [2001:DB8::1]:53 > [fd00::5]:5353'), {
    family: 6,
    protocol: 17,
    src: '2001:db8::1',
    dst: 'fd00::5',
    sport: 53,
    dport: 5353,
  });
  assert.equal(parsePacket('  SCTP 10.0.0.1:1>10.0.0.2:2 ').protocol, 132);
  assert.equal(parsePacket('udplite 10.0.0.1:1 > 10.0.0.2:2').protocol, 136);
});

test('ICMP and ICMPv6 with type and code (code 0 when left out), any protocol by number, later fragments', () => {
  assert.equal(parsePacket('icmp 10.0.0.1 > 10.0.0.2 type 8 code 0'), {
    family: 4,
    protocol: 1,
    src: '10.0.0.1',
    dst: '10.0.0.2',
    icmpType: 8,
    icmpCode: 0,
  });
  assert.equal(parsePacket('icmpv6 2001:db8::1 > fd00::5 type 128'), {
    family: 6,
    protocol: 58,
    src: '2001:db8::1',
    dst: 'fd00::5',
    icmpType: 128,
    icmpCode: 0,
  });
  assert.equal(parsePacket('proto 47 10.0.0.1 > 10.0.0.2'), {
    family: 4,
    protocol: 47,
    src: '10.0.0.1',
    dst: '10.0.0.2',
  });
  assert.equal(parsePacket('udp 10.0.0.1 > 10.0.0.2 frag'), {
    family: 4,
    protocol: 17,
    src: '10.0.0.1',
    dst: '10.0.0.2',
    laterFragment: true,
  });
  assert.equal(parsePacket('frag icmp 10.0.0.1 > 10.0.0.2').laterFragment, true);
});

test('printing and reading back give the same packet', () => {
  for (const text of [
    'tcp 203.0.113.5:4000 > 10.0.0.5:5432',
    'udp [2001:db8::1]:53 > [fd00::5]:5353',
    'icmp 10.0.0.1 > 10.0.0.2 type 3 code 4',
    'icmpv6 2001:db8::1 > fd00::5 type 128 code 0',
    'proto 47 10.0.0.1 > 10.0.0.2',
    'sctp 10.0.0.1 > 10.0.0.2 frag',
  ]) {
    assert.is(formatPacket(parsePacket(text)), text);
  }
});

test('malformed packets are refused with what is wrong and what to write', () => {
  const problem = (text: string): string => {
    try {
      parsePacket(text);
    } catch (e) {
      assert.instance(e, PacketSyntaxError);
      assert.is((e as PacketSyntaxError).code, 'packet-syntax');
      return (e as Error).message;
    }
    throw new Error(`"${text}" was accepted`);
  };
  assert.match(problem(''), /it is empty; write e\.g\. "tcp 203\.0\.113\.5:4000 > 10\.0\.0\.5:5432"/);
  assert.match(
    problem('gre 10.0.0.1 > 10.0.0.2'),
    /must start with the protocol: tcp, udp, sctp, udplite, icmp, icmpv6 or "proto <number>", not "gre"/,
  );
  assert.match(problem('tcp 10.0.0.1 > 10.0.0.2:80'), /tcp needs both ports/);
  assert.match(
    problem('tcp 10.0.0.1:70000 > 10.0.0.2:80'),
    /port "70000" in "10\.0\.0\.1:70000" is not a number from 0 to 65535/,
  );
  assert.match(
    problem('tcp 2001:db8::1:53 > fd00::1:80'),
    /e\.g\. "tcp \[2001:db8::1:53\]:40000 > \[fd00::1:80\]:80" \(an IPv6 address with a port goes in brackets\)/,
  );
  assert.match(problem('tcp 10.0.0.1:1 > [fd00::1]:2'), /the source is IPv4 and the destination IPv6/);
  assert.match(problem('tcp 10.0.0.1:1 10.0.0.2:2'), /after the protocol comes "<source> > <destination>"/);
  assert.match(problem('icmp fd00::1 > fd00::2 type 128'), /icmp is IPv4; write icmpv6/);
  assert.match(problem('icmp 10.0.0.1 > 10.0.0.2'), /needs its type/);
  assert.match(problem('icmp 10.0.0.1 > 10.0.0.2 type 300'), /"type" needs a number from 0 to 255/);
  assert.match(problem('udp 10.0.0.1:5 > 10.0.0.2:6 type 3'), /only icmp and icmpv6 packets have a type/);
  assert.match(problem('udp 10.0.0.1:5 > 10.0.0.2:6 frag'), /a later fragment carries no ports; leave them out/);
  assert.match(problem('proto 256 10.0.0.1 > 10.0.0.2'), /"proto" needs a protocol number from 0 to 255/);
  assert.match(problem('proto 47 10.0.0.1:5 > 10.0.0.2'), /protocol 47 has no ports/);
  assert.match(problem('tcp 10.0.0.256:1 > 10.0.0.2:2'), /"10\.0\.0\.256:1" is not an address/);
});

test.run();

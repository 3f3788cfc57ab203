// The packet notation of `explain` and policy tests: `tcp 203.0.113.5:4000 > 10.0.0.5:5432`, parsed and printed.
//
//   packet   := ["frag"] protocol address ">" address [icmp] ["frag"] ["reply"]
//   protocol := tcp | udp | sctp | udplite | icmp | icmpv6 | proto <0-255>
//   address  := IPv4 [":" port] | "[" IPv6 "]" [":" port] | IPv6
//   icmp     := type <0-255> [code <0-255>]        (code 0 when left out)
// Protocols with ports (tcp, udp, sctp, udplite) need both ports, except for `frag`: a later fragment carries no
// ports (and no ICMP header), so it is written without them. `reply` says the packet answers a connection this host
// opened (conntrack knows it): only such a packet passes by an outbound failsafe.
import { formatIp, parseIp, type IpFamily } from '../net/cidr.js';
import { NotrackError } from '../errors.js';
import type { PacketDescription } from './desired-state.js';
import { PORT_PROTOCOLS } from './named-ports.js';

export class PacketSyntaxError extends NotrackError {
  constructor(text: string, problem: string) {
    super('packet-syntax', `invalid packet "${text}": ${problem}`);
  }
}

const NAMES: Record<string, number> = { tcp: 6, udp: 17, sctp: 132, udplite: 136, icmp: 1, icmpv6: 58 };
const PRINTED: Record<number, string> = { 6: 'tcp', 17: 'udp', 132: 'sctp', 136: 'udplite' };
export const PACKET_EXAMPLE = 'tcp 203.0.113.5:4000 > 10.0.0.5:5432';

function number(text: string | undefined, max: number): number | null {
  if (text === undefined || !/^(0|[1-9][0-9]*)$/.test(text)) return null;
  const n = Number(text);
  return n <= max ? n : null;
}

interface Endpoint {
  family: IpFamily;
  address: string;
  port?: number;
}

function endpoint(token: string, fail: (p: string) => never): Endpoint {
  let host = token;
  let portText: string | undefined;
  const bracketed = token.match(/^\[([^\]]*)\](?::(.*))?$/);
  if (bracketed) {
    host = bracketed[1]!;
    portText = bracketed[2];
  } else if (token.split(':').length === 2) {
    [host, portText] = token.split(':') as [string, string];
  }
  const ip = parseIp(host);
  if (!ip) {
    const hint =
      !bracketed && token.split(':').length > 2 && /:\d+$/.test(token)
        ? '; write an IPv6 address with a port as [2001:db8::1]:53'
        : '';
    fail(`"${token}" is not an address (IPv4, IPv6, or either with a port: 10.0.0.1:80, [2001:db8::1]:53)${hint}`);
  }
  if (bracketed && ip.family !== 6) fail(`"${token}": brackets are for IPv6 addresses`);
  const out: Endpoint = { family: ip.family, address: formatIp(ip.family, ip.addr) };
  if (portText !== undefined) {
    const port = number(portText, 65535);
    if (port === null) fail(`port "${portText}" in "${token}" is not a number from 0 to 65535`);
    out.port = port;
  }
  return out;
}

/** Parses the notation above; throws PacketSyntaxError saying what is wrong and what to write. */
export function parsePacket(text: string): PacketDescription {
  const fail: (problem: string) => never = (problem) => {
    throw new PacketSyntaxError(text, problem);
  };
  let tokens = text
    .trim()
    .split(/\s+|(>)/)
    .filter((t): t is string => t !== undefined && t !== '');
  let reply = false;
  if (tokens[tokens.length - 1] === 'reply') {
    reply = true;
    tokens = tokens.slice(0, -1);
  }
  let laterFragment = false;
  if (tokens[0] === 'frag') {
    laterFragment = true;
    tokens = tokens.slice(1);
  }
  if (tokens[tokens.length - 1] === 'frag') {
    laterFragment = true;
    tokens = tokens.slice(0, -1);
  }
  if (tokens.length === 0) fail(`it is empty; write e.g. "${PACKET_EXAMPLE}"`);

  let protocol: number;
  let i = 1;
  const first = tokens[0]!.toLowerCase();
  if (first === 'proto') {
    const n = number(tokens[1], 255);
    if (n === null) fail(`"proto" needs a protocol number from 0 to 255${tokens[1] ? `, not "${tokens[1]}"` : ''}`);
    protocol = n;
    i = 2;
  } else if (first in NAMES) {
    protocol = NAMES[first]!;
  } else {
    fail(
      `it must start with the protocol: tcp, udp, sctp, udplite, icmp, icmpv6 or "proto <number>", not "${tokens[0]}"`,
    );
  }
  const [srcText, arrow, dstText] = [tokens[i], tokens[i + 1], tokens[i + 2]];
  if (srcText === undefined || arrow !== '>' || dstText === undefined) {
    fail(`after the protocol comes "<source> > <destination>", e.g. "${PACKET_EXAMPLE}"`);
  }
  const src = endpoint(srcText!, fail);
  const dst = endpoint(dstText!, fail);
  if (src.family !== dst.family)
    fail(`the source is IPv${src.family} and the destination IPv${dst.family}; a packet has one family`);
  const family = src.family;
  const packet: PacketDescription = { family, protocol, src: src.address, dst: dst.address };
  if (laterFragment) packet.laterFragment = true;
  if (reply) packet.reply = true;

  const rest = tokens.slice(i + 3);
  const isIcmp = (family === 4 && protocol === 1) || (family === 6 && protocol === 58);
  if (first === 'icmp' && family === 6) fail('icmp is IPv4; write icmpv6 for IPv6 addresses');
  if (first === 'icmpv6' && family === 4) fail('icmpv6 is IPv6; write icmp for IPv4 addresses');

  if (PORT_PROTOCOLS.includes(protocol)) {
    if (laterFragment) {
      if (src.port !== undefined || dst.port !== undefined) fail('a later fragment carries no ports; leave them out');
    } else {
      if (src.port === undefined || dst.port === undefined) {
        // 2001:db8::1:53 is itself an address: the port was most likely meant, and brackets say so.
        const example = family === 6 ? `[${src.address}]:40000 > [${dst.address}]:80` : '10.0.0.1:40000 > 10.0.0.2:80';
        fail(
          `${PRINTED[protocol]} needs both ports, e.g. "${PRINTED[protocol]} ${example}"` +
            `${family === 6 ? ' (an IPv6 address with a port goes in brackets)' : ''} (or "frag" for a later fragment)`,
        );
      }
      packet.sport = src.port!;
      packet.dport = dst.port!;
    }
  } else if (src.port !== undefined || dst.port !== undefined) {
    fail(`protocol ${protocol} has no ports; write the addresses alone`);
  }

  if (rest.length) {
    if (!isIcmp)
      fail(`unexpected "${rest.join(' ')}"${rest[0] === 'type' ? ': only icmp and icmpv6 packets have a type' : ''}`);
    if (laterFragment) fail('a later fragment carries no ICMP header; leave out type and code');
    if (rest[0] !== 'type') fail(`unexpected "${rest.join(' ')}"; write "type <n>" and optionally "code <n>"`);
    const type = number(rest[1], 255);
    if (type === null) fail('"type" needs a number from 0 to 255');
    let code = 0;
    if (rest.length > 2) {
      if (rest[2] !== 'code') fail(`unexpected "${rest.slice(2).join(' ')}"; only "code <n>" may follow the type`);
      const c = number(rest[3], 255);
      if (c === null) fail('"code" needs a number from 0 to 255');
      if (rest.length > 4) fail(`unexpected "${rest.slice(4).join(' ')}" after the code`);
      code = c!;
    }
    packet.icmpType = type!;
    packet.icmpCode = code;
  } else if (isIcmp && !laterFragment) {
    fail(
      `an ${first === 'proto' ? (family === 4 ? 'icmp' : 'icmpv6') : first} packet needs its type, e.g. "... type 8 code 0"`,
    );
  }
  return packet;
}

/** The notation of a packet, as `parsePacket` reads it back. */
export function formatPacket(p: PacketDescription): string {
  const isIcmp = (p.family === 4 && p.protocol === 1) || (p.family === 6 && p.protocol === 58);
  const name = PRINTED[p.protocol] ?? (isIcmp ? (p.family === 4 ? 'icmp' : 'icmpv6') : `proto ${p.protocol}`);
  const at = (address: string, port: number | undefined): string =>
    port === undefined ? address : p.family === 6 ? `[${address}]:${port}` : `${address}:${port}`;
  let text = `${name} ${at(p.src, p.sport)} > ${at(p.dst, p.dport)}`;
  if (isIcmp && p.icmpType !== undefined && !p.laterFragment) text += ` type ${p.icmpType} code ${p.icmpCode ?? 0}`;
  if (p.laterFragment) text += ' frag';
  if (p.reply) text += ' reply';
  return text;
}

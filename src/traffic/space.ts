// The packet space of one address family: eight fields, boxes (one set of values per field) and the universe.
//
// A packet is a point: protocol, later fragment or not, source and destination port, ICMP type and code, source and
// destination address. Fields a packet does not carry hold a sentinel value just past the real ones (port 65536,
// ICMP 256), as the policy program's field arrays keep a slot for "this packet has no ports". A rule that constrains
// ports therefore excludes packets without ports by the same set arithmetic as everything else, and the universe
// (the union of the four shapes below) says exactly which combinations exist:
//   ports      tcp, udp, sctp, udplite, not a later fragment: both ports, no ICMP fields
//   icmp       ICMP (IPv4) or ICMPv6 (IPv6), not a later fragment: type and code, no ports
//   plain      any other protocol, not a later fragment: neither (in IPv6 never an extension header's number)
//   fragment   a later fragment of any protocol: neither (its header is in the first fragment)
import { formatIp, type IpFamily } from '../net/cidr.js';
import type { PacketDescription } from '../compile/desired-state.js';
import { parseAddressValue } from '../compile/prefix-match.js';
import { PORT_PROTOCOLS } from '../compile/named-ports.js';
import { IPV6_EXTENSION_HEADERS } from '../compile/evaluate.js';
import { IntervalSet } from './interval-set.js';

/** Field indexes of a box. */
export const F = { proto: 0, frag: 1, sport: 2, dport: 3, icmpType: 4, icmpCode: 5, src: 6, dst: 7 } as const;
export type FieldIndex = (typeof F)[keyof typeof F];
export const FIELD_COUNT = 8;
export const FIELD_NAMES = ['proto', 'frag', 'sport', 'dport', 'icmpType', 'icmpCode', 'src', 'dst'] as const;

/** The port value of a packet without ports, and the ICMP value of a packet without an ICMP header. */
export const NO_PORT = 65536n;
export const NO_ICMP = 256n;

/** A set of packets of one family: every packet whose field values all lie in the field sets. Immutable. */
export type Box = readonly IntervalSet[];

export const icmpProtocol = (family: IpFamily): number => (family === 4 ? 1 : 58);
export const addressBits = (family: IpFamily): number => (family === 4 ? 32 : 128);

const PORT_PROTOCOL_SET = IntervalSet.of(PORT_PROTOCOLS.map((p) => [BigInt(p), BigInt(p)] as const));
// Never a whole packet's protocol in IPv6 (only a later fragment's next header, whose chain cannot be read).
const EXTENSION_SET = IntervalSet.of(IPV6_EXTENSION_HEADERS.map((p) => [BigInt(p), BigInt(p)] as const));
const REAL_PORTS = IntervalSet.range(0n, 65535n);
const REAL_ICMP = IntervalSet.range(0n, 255n);

/** What each field can hold, sentinels included. */
export interface FieldDomains {
  readonly any: Box;
  readonly realPorts: IntervalSet;
  readonly realIcmp: IntervalSet;
  readonly addresses: IntervalSet;
}

const domainsByFamily = new Map<IpFamily, FieldDomains>();

export function domains(family: IpFamily): FieldDomains {
  let d = domainsByFamily.get(family);
  if (!d) {
    const addresses = IntervalSet.range(0n, (1n << BigInt(addressBits(family))) - 1n);
    d = {
      any: [
        IntervalSet.range(0n, 255n),
        IntervalSet.range(0n, 1n),
        IntervalSet.range(0n, NO_PORT),
        IntervalSet.range(0n, NO_PORT),
        IntervalSet.range(0n, NO_ICMP),
        IntervalSet.range(0n, NO_ICMP),
        addresses,
        addresses,
      ],
      realPorts: REAL_PORTS,
      realIcmp: REAL_ICMP,
      addresses,
    };
    domainsByFamily.set(family, d);
  }
  return d;
}

/** The four shapes of packet that exist in a family (see the top of this file); disjoint, together everything. */
export interface UniverseShape {
  readonly name: 'ports' | 'icmp' | 'plain' | 'fragment';
  readonly box: Box;
}

const universes = new Map<IpFamily, UniverseShape[]>();

export function universe(family: IpFamily): readonly UniverseShape[] {
  let u = universes.get(family);
  if (!u) {
    const d = domains(family);
    const icmp = BigInt(icmpProtocol(family));
    const noPorts = IntervalSet.single(NO_PORT);
    const noIcmp = IntervalSet.single(NO_ICMP);
    const first = IntervalSet.single(0n);
    const all = d.addresses;
    u = [
      { name: 'ports', box: [PORT_PROTOCOL_SET, first, REAL_PORTS, REAL_PORTS, noIcmp, noIcmp, all, all] },
      { name: 'icmp', box: [IntervalSet.single(icmp), first, noPorts, noPorts, REAL_ICMP, REAL_ICMP, all, all] },
      {
        name: 'plain',
        box: [
          d.any[F.proto]!.subtract(PORT_PROTOCOL_SET)
            .subtract(IntervalSet.single(icmp))
            .subtract(family === 6 ? EXTENSION_SET : IntervalSet.empty()),
          first,
          noPorts,
          noPorts,
          noIcmp,
          noIcmp,
          all,
          all,
        ],
      },
      { name: 'fragment', box: [d.any[F.proto]!, IntervalSet.single(1n), noPorts, noPorts, noIcmp, noIcmp, all, all] },
    ];
    universes.set(family, u);
  }
  return u;
}

/** The intersection of two boxes, or null when it is empty. */
export function intersectBoxes(a: Box, b: Box): Box | null {
  const out: IntervalSet[] = [];
  for (let f = 0; f < FIELD_COUNT; f++) {
    const s = a[f]!.intersect(b[f]!);
    if (s.isEmpty) return null;
    out.push(s);
  }
  return out;
}

/** True when every packet of `inner` is in `outer`. */
export function boxContains(outer: Box, inner: Box): boolean {
  for (let f = 0; f < FIELD_COUNT; f++) if (!outer[f]!.contains(inner[f]!)) return false;
  return true;
}

export function boxKey(b: Box): string {
  return b.map((s) => s.key).join('|');
}

/** A packet as a point of its family's space (sentinels for the fields it does not carry). */
export function packetPoint(p: PacketDescription): bigint[] {
  const src = parseAddressValue(p.src);
  const dst = parseAddressValue(p.dst);
  if (!src || !dst || src.family !== p.family || dst.family !== p.family)
    throw new RangeError(`packet ${p.src} > ${p.dst} is not IPv${p.family}`);
  const frag = p.laterFragment === true;
  const ports = !frag && PORT_PROTOCOLS.includes(p.protocol);
  const icmp = !frag && p.protocol === icmpProtocol(p.family);
  return [
    BigInt(p.protocol),
    frag ? 1n : 0n,
    ports ? BigInt(p.sport ?? 0) : NO_PORT,
    ports ? BigInt(p.dport ?? 0) : NO_PORT,
    icmp ? BigInt(p.icmpType ?? 0) : NO_ICMP,
    icmp ? BigInt(p.icmpCode ?? 0) : NO_ICMP,
    BigInt(src.value),
    BigInt(dst.value),
  ];
}

/** An address of the family, as a number, in its canonical text. */
export function addressText(family: IpFamily, v: bigint): string {
  const bytes = new Uint8Array(addressBits(family) / 8);
  for (let i = bytes.length - 1; i >= 0; i--) {
    bytes[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return formatIp(family, bytes);
}

export function boxHasPoint(b: Box, point: readonly bigint[]): boolean {
  for (let f = 0; f < FIELD_COUNT; f++) if (!b[f]!.has(point[f]!)) return false;
  return true;
}

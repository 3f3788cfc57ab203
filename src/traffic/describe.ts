// Regions for people and for JSON: a box in words (`tcp to port 53 from 192.0.2.128/25 (set dos-deny-list)`), its
// addresses as CIDRs, its size, and the box as the plan's JSON writes it (absent fields mean any).
import type { IpFamily } from '../net/cidr.js';
import { IntervalSet } from './interval-set.js';
import { addressBits, addressText, domains, F, NO_ICMP, NO_PORT, type Box } from './space.js';

/** Names a set of addresses when it is (or lies inside) something the policy names: `set dos-deny-list`. */
export type AddressNamer = (family: IpFamily, addresses: IntervalSet) => string | null;

const PROTOCOL_NAMES: Record<number, string> = {
  1: 'icmp',
  6: 'tcp',
  17: 'udp',
  58: 'icmpv6',
  132: 'sctp',
  136: 'udplite',
};

/** The fewest CIDRs covering exactly the set. */
export function cidrsOf(family: IpFamily, set: IntervalSet): string[] {
  const bits = BigInt(addressBits(family));
  const out: string[] = [];
  for (let [lo, hi] of set.ranges()) {
    while (lo <= hi) {
      let size = 0n;
      // The largest aligned block starting at lo that stays inside the range.
      while (size < bits && lo % (1n << (size + 1n)) === 0n && lo + (1n << (size + 1n)) - 1n <= hi) size++;
      out.push(`${addressText(family, lo)}/${bits - size}`);
      lo += 1n << size;
    }
  }
  return out;
}

function join(words: string[], last = 'or'): string {
  return words.length <= 1 ? (words[0] ?? '') : `${words.slice(0, -1).join(', ')} ${last} ${words[words.length - 1]}`;
}

function protocolWords(set: IntervalSet): string {
  const all = IntervalSet.range(0n, 255n);
  if (set.equals(all)) return 'any protocol';
  const name = (v: bigint) => PROTOCOL_NAMES[Number(v)] ?? `protocol ${v}`;
  const values = (s: IntervalSet) => s.ranges().flatMap(([lo, hi]) => (hi - lo < 8n ? range(lo, hi) : []));
  if (set.size() <= 5n) return join(values(set).map(name));
  const rest = all.subtract(set);
  if (rest.size() <= 6n) return `any protocol except ${join(values(rest).map(name), 'and')}`;
  return `protocols ${set
    .ranges()
    .map(([lo, hi]) => (lo === hi ? `${lo}` : `${lo}-${hi}`))
    .join(', ')}`;
}

function range(lo: bigint, hi: bigint): bigint[] {
  const out: bigint[] = [];
  for (let v = lo; v <= hi; v++) out.push(v);
  return out;
}

/** Ports or ICMP values in words, `full` being every real value: null when the set is all of them. */
function valueWords(set: IntervalSet, full: IntervalSet, one: string, many: string): string | null {
  if (set.equals(full)) return null;
  const text = (s: IntervalSet) => s.ranges().map(([lo, hi]) => (lo === hi ? `${lo}` : `${lo}-${hi}`));
  const rest = full.subtract(set);
  if (rest.rangeCount < set.rangeCount) return `any ${one} except ${join(text(rest), 'and')}`;
  return set.size() === 1n ? `${one} ${set.min}` : `${many} ${join(text(set), 'and')}`;
}

/** How many CIDRs of an address set are listed before "and N more". */
const LISTED_CIDRS = 3;

function addressWords(family: IpFamily, set: IntervalSet, namer: AddressNamer | undefined): string | null {
  const all = domains(family).addresses;
  if (set.equals(all)) return null;
  const listed = (s: IntervalSet) => {
    const cidrs = cidrsOf(family, s);
    const shown = cidrs.slice(0, LISTED_CIDRS).join(', ');
    const name = namer?.(family, s);
    const more = cidrs.length > LISTED_CIDRS ? ` and ${cidrs.length - LISTED_CIDRS} more` : '';
    return `${shown}${more}${name ? ` (${name})` : ''}`;
  };
  const rest = all.subtract(set);
  // "Anywhere but the deny list" reads better than the 1,100 ranges between its prefixes.
  if (rest.rangeCount < set.rangeCount) return `anywhere except ${listed(rest)}`;
  return listed(set);
}

/** One box in words, e.g. `tcp to port 53 from 192.0.2.128/25 (set dos-deny-list)`. */
export function describeBox(family: IpFamily, box: Box, namer?: AddressNamer): string {
  const d = domains(family);
  const parts: string[] = [];
  const frag = box[F.frag]!;
  const proto = protocolWords(box[F.proto]!);
  parts.push(frag.equals(IntervalSet.single(1n)) ? `later fragments of ${proto}` : proto);
  if (!box[F.icmpType]!.has(NO_ICMP)) {
    const type = valueWords(box[F.icmpType]!, d.realIcmp, 'type', 'types');
    const code = valueWords(box[F.icmpCode]!, d.realIcmp, 'code', 'codes');
    if (type) parts.push(type);
    if (code) parts.push(code);
  }
  const ports = !box[F.sport]!.has(NO_PORT);
  // "to <address>, <port>" then "from <address>, <port>", each part only when it is not "any".
  for (const [word, addressField, portField] of [
    ['to', F.dst, F.dport],
    ['from', F.src, F.sport],
  ] as const) {
    const address = addressWords(family, box[addressField]!, namer);
    const port = ports ? valueWords(box[portField]!, d.realPorts, 'port', 'ports') : null;
    if (address || port) parts.push(`${word} ${[address, port].filter(Boolean).join(', ')}`);
  }
  if (frag.equals(IntervalSet.single(0n)) && box[F.sport]!.has(NO_PORT) && box[F.icmpType]!.has(NO_ICMP))
    parts.push('(not a later fragment)');
  return parts.join(' ');
}

/** Counts people can read: exact below ten million, powers of two above. */
export function countText(n: bigint): string {
  if (n < 10_000_000n) return n.toLocaleString('en-US');
  const bits = n.toString(2).length - 1;
  return 1n << BigInt(bits) === n ? `2^${bits}` : `about 2^${bits}`;
}

export interface RegionSize {
  sources: bigint;
  destinations: bigint;
  /** Source ports times destination ports, summed over the boxes with ports; 0 when no packet has ports. */
  portPairs: bigint;
}

/** The region's size: its source and destination addresses, and its port pairs. */
export function regionSize(boxes: readonly Box[]): RegionSize {
  let src = IntervalSet.empty(),
    dst = IntervalSet.empty(),
    portPairs = 0n;
  for (const b of boxes) {
    src = src.union(b[F.src]!);
    dst = dst.union(b[F.dst]!);
    if (!b[F.sport]!.has(NO_PORT)) portPairs += b[F.sport]!.size() * b[F.dport]!.size();
  }
  return { sources: src.size(), destinations: dst.size(), portPairs };
}

/** A box as the plan's JSON writes it: every field that is not "any", ports and addresses as lists. */
export interface MatchBox {
  src?: string[];
  dst?: string[];
  protocols?: number[];
  sport?: [number, number][];
  dport?: [number, number][];
  icmpType?: [number, number][];
  icmpCode?: [number, number][];
  laterFragment?: boolean;
}

export function matchBox(family: IpFamily, box: Box): MatchBox {
  const d = domains(family);
  const out: MatchBox = {};
  const pairs = (s: IntervalSet): [number, number][] => s.ranges().map(([lo, hi]) => [Number(lo), Number(hi)]);
  if (!box[F.src]!.equals(d.addresses)) out.src = cidrsOf(family, box[F.src]!);
  if (!box[F.dst]!.equals(d.addresses)) out.dst = cidrsOf(family, box[F.dst]!);
  if (!box[F.proto]!.equals(d.any[F.proto]!))
    out.protocols = box[F.proto]!.ranges().flatMap(([lo, hi]) => range(lo, hi).map(Number));
  // A box's ports are all real or all absent (absent ones are implied by its protocols and fragment).
  for (const [f, key, full] of [
    [F.sport, 'sport', d.realPorts],
    [F.dport, 'dport', d.realPorts],
    [F.icmpType, 'icmpType', d.realIcmp],
    [F.icmpCode, 'icmpCode', d.realIcmp],
  ] as const) {
    const s = box[f]!;
    if (s.has(f === F.sport || f === F.dport ? NO_PORT : NO_ICMP) || s.equals(full)) continue;
    out[key] = pairs(s);
  }
  const frag = box[F.frag]!;
  if (frag.rangeCount === 1 && frag.size() === 1n) out.laterFragment = frag.min === 1n;
  return out;
}

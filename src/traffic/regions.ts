// Regions: unions of disjoint boxes, merged into few readable ones, and a concrete example packet of a box.
import type { IpFamily } from '../net/cidr.js';
import type { PacketDescription } from '../compile/desired-state.js';
import type { Direction, ResourceSet } from '../model/resources.js';
import { parseAddressValue } from '../compile/prefix-match.js';
import { IntervalSet } from './interval-set.js';
import { addressText, boxKey, F, FIELD_COUNT, NO_ICMP, NO_PORT, type Box } from './space.js';

/**
 * Merges disjoint boxes: two boxes equal in every field but one become one box holding the union of that field.
 * Repeated over every field until nothing merges, so a region ends as few boxes as this rule allows. Exact: the
 * union of the result is the union of the input.
 */
export function mergeBoxes(input: readonly Box[]): Box[] {
  let boxes = [...input];
  for (let changed = true; changed && boxes.length > 1;) {
    changed = false;
    for (let f = 0; f < FIELD_COUNT; f++) {
      const groups = new Map<string, Box[]>();
      for (const b of boxes) {
        const key = b.map((s, i) => (i === f ? '' : s.key)).join('|');
        const g = groups.get(key);
        if (g) g.push(b);
        else groups.set(key, [b]);
      }
      if (groups.size === boxes.length) continue;
      changed = true;
      boxes = [...groups.values()].map((g) => {
        if (g.length === 1) return g[0]!;
        const merged = [...g[0]!];
        merged[f] = IntervalSet.of(g.flatMap((b) => b[f]!.ranges()));
        return merged;
      });
    }
  }
  return boxes.sort((a, b) => compareBoxes(a, b));
}

function compareBoxes(a: Box, b: Box): number {
  for (let f = 0; f < FIELD_COUNT; f++) {
    const x = a[f]!.min,
      y = b[f]!.min;
    if (x !== y) return x < y ? -1 : 1;
  }
  const ka = boxKey(a),
    kb = boxKey(b);
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

/** Values a person recognises first, tried in order before falling back to the set's least value. */
const NICE_PORTS = [40000n, 50000n, 1024n, 0n];
const NICE_SERVICE_PORTS = [443n, 80n, 53n, 8080n, 1024n];
const NICE_PROTOCOLS = [6n, 17n, 47n, 50n, 1n, 58n, 132n, 136n];

function pick(set: IntervalSet, preferred: readonly bigint[]): bigint {
  for (const v of preferred) if (set.has(v)) return v;
  return set.min;
}

/** Documentation addresses (RFC 5737, RFC 3849), tried when no hint lies in the set. */
const NICE_ADDRESSES: Record<IpFamily, bigint[]> = {
  4: ['192.0.2.10', '198.51.100.10', '203.0.113.10'].map((a) => parseAddress(a)),
  6: ['2001:db8::10', '2001:db8:ffff::10'].map((a) => parseAddress(a)),
};

function parseAddress(text: string): bigint {
  const v = parseAddressValue(text);
  if (!v) throw new Error(`bad address ${text}`);
  return BigInt(v.value);
}

/**
 * An address of the set: a hint (the interface's own address) or a documentation address when one lies in it, else
 * one that is not the first of a range of more than one (network addresses look odd).
 */
function pickAddress(family: IpFamily, set: IntervalSet, hints: readonly bigint[]): bigint {
  for (const v of [...hints, ...NICE_ADDRESSES[family]]) if (set.has(v)) return v;
  const [lo, hi] = set.ranges()[0]!;
  return hi > lo ? lo + 1n : lo;
}

/** Addresses to prefer in examples: the interface's own on the host's side. */
export interface ExampleHints {
  src?: readonly bigint[];
  dst?: readonly bigint[];
}

/**
 * The interface's own addresses (its endpoint's `expectedIPs`, else the `*` endpoint's) on the host's side of a packet
 * of the direction: the destination of what arrives, the source of what leaves.
 */
export function ownAddressHints(
  revisions: readonly (ResourceSet | null)[],
  host: string,
  iface: string,
  family: IpFamily,
  direction: Direction,
): ExampleHints {
  for (const r of revisions) {
    const eps = (r?.hostEndpoints ?? []).filter((h) => h.node === host);
    const ep = eps.find((h) => h.interfaceName === iface) ?? eps.find((h) => h.interfaceName === '*');
    if (!ep) continue;
    const own = ep.expectedIPs
      .filter((a) => a.family === family)
      .map((a) => a.addr.reduce((v, b) => (v << 8n) | BigInt(b), 0n));
    return direction === 'ingress' ? { dst: own } : { src: own };
  }
  return {};
}

/**
 * The box of a region to draw its example from: the one with the most familiar protocol (TCP, then UDP …, in
 * NICE_PROTOCOLS' order), first fragments before later ones, else the first. A region of "any protocol" is cut into
 * boxes by packet shape, and its first box holds the protocols without ports: drawn from it, the example of a rule
 * that names no protocol read as GRE (`proto 47`), which is in the region but not what a reader expects.
 */
export function exampleBox(boxes: readonly Box[]): Box {
  let best = boxes[0]!;
  let bestRank = Infinity;
  for (const box of boxes) {
    const proto = NICE_PROTOCOLS.findIndex((p) => box[F.proto]!.has(p));
    const rank =
      (box[F.frag]!.min === 1n ? NICE_PROTOCOLS.length + 1 : 0) + (proto < 0 ? NICE_PROTOCOLS.length : proto);
    if (rank < bestRank) [best, bestRank] = [box, rank];
  }
  return best;
}

/** One packet of the box, in the form explain and the evaluators take. */
export function examplePacket(family: IpFamily, box: Box, hints: ExampleHints = {}): PacketDescription {
  const protocol = Number(pick(box[F.proto]!, NICE_PROTOCOLS));
  const p: PacketDescription = {
    family,
    protocol,
    src: addressText(family, pickAddress(family, box[F.src]!, hints.src ?? [])),
    dst: addressText(family, pickAddress(family, box[F.dst]!, hints.dst ?? [])),
  };
  if (box[F.frag]!.min === 1n) p.laterFragment = true;
  // A box never mixes packets with and without ports (the shapes differ in more than one field), so the least
  // value says which kind it holds.
  if (box[F.sport]!.min !== NO_PORT) {
    p.sport = Number(pick(box[F.sport]!, NICE_PORTS));
    p.dport = Number(pick(box[F.dport]!, NICE_SERVICE_PORTS));
  }
  if (box[F.icmpType]!.min !== NO_ICMP) {
    p.icmpType = Number(pick(box[F.icmpType]!, [8n, 128n]));
    p.icmpCode = Number(box[F.icmpCode]!.min);
  }
  return p;
}

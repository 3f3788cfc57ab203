// A prefix list's addresses as sorted numeric ranges, so a million-member set is never held as BigInts to be asked a
// small question: its ranges inside a few addresses, its size, whether it holds some addresses, and which members
// two versions of it differ by.
//
// IPv4 members are packed in Float64Arrays (an address and a length fit a double exactly: start * 64 + length), one
// 8-byte key per member and 16 bytes per merged range. IPv6 members keep the BigInt IntervalSet: their sets are small
// in practice, and one exact type covers 128 bits.
import { formatCidr, formatIpv4Word, parseCidr, type Cidr, type IpFamily } from '../net/cidr.js';
import { packedTexts, type PackedPrefixes } from '../compile/packed-prefixes.js';
import { IntervalSet } from './interval-set.js';

/** The sorted, merged address ranges of a prefix list, with its members for diffs. Immutable. */
export interface PrefixIndex {
  readonly family: IpFamily;
  /** Every address of the list. Built on first use (the only call that holds one BigInt pair per range). */
  ranges(): IntervalSet;
  /** The addresses of the list that lie in `focus`: exact, and proportional to the ranges met, not to the list. */
  within(focus: IntervalSet): IntervalSet;
  /** How many addresses. */
  size(): bigint;
  /** True when every address of `addresses` is in the list. */
  containsAll(addresses: IntervalSet): boolean;
}

const TWO32 = 2 ** 32;

/** Addresses in an IPv4 prefix, by its length. */
const BLOCK = Float64Array.from({ length: 33 }, (_, len) => 2 ** (32 - len));

/** An IPv4 address and prefix length as one sortable double: start * 64 + length. */
const v4Key = (start: number, length: number): number => start * 64 + length;
const keyStart = (key: number): number => Math.floor(key / 64);
const keyLength = (key: number): number => key % 64;
const keyEnd = (key: number): number => keyStart(key) + 2 ** (32 - keyLength(key)) - 1;

/** `a.b.c.d/n` in canonical form, read without allocating; -1 when the text is anything else. */
function scanV4(text: string): number {
  let start = 0,
    octet = 0,
    digits = 0,
    dots = 0;
  let i = 0;
  for (; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 46 || c === 47) {
      if (digits === 0 || octet > 255) return -1;
      start = start * 256 + octet;
      octet = 0;
      digits = 0;
      if (c === 47) break;
      dots++;
      continue;
    }
    // Decimal digits, no leading zero (the full parser refuses them, so it decides).
    if (c < 48 || c > 57 || (digits === 1 && octet === 0)) return -1;
    octet = octet * 10 + (c - 48);
    digits++;
  }
  if (i === text.length) {
    // No length: a host.
    if (digits === 0 || octet > 255 || dots !== 3) return -1;
    return v4Key(start * 256 + octet, 32);
  }
  if (dots !== 3) return -1;
  let length = 0;
  for (i++, digits = 0; i < text.length; i++, digits++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57 || (digits === 1 && length === 0)) return -1;
    length = length * 10 + (c - 48);
  }
  if (digits === 0 || length > 32) return -1;
  // Host bits are cleared, as parseCidr does.
  const block = 2 ** (32 - length);
  return v4Key(Math.floor(start / block) * block, length);
}

function v4KeyOfCidr(c: Cidr): number {
  const a = c.addr;
  const start = a[0]! * 16777216 + a[1]! * 65536 + a[2]! * 256 + a[3]!;
  return v4Key(start, c.prefix);
}

/** IPv4 members sorted by address (shorter first on a tie): their starts and prefix lengths. */
interface V4Members {
  readonly count: number;
  readonly starts: ArrayLike<number>;
  readonly lens: ArrayLike<number>;
  /** No member overlaps another (a canonical packed list): then every member is a range of its own. */
  readonly disjoint: boolean;
}

class V4Index implements PrefixIndex {
  readonly family = 4 as const;
  /** Merged inclusive ranges: lo0, hi0, lo1, hi1 … with hi(i) + 1 < lo(i + 1). Made on first use. */
  private merged: Float64Array | undefined;
  private full: IntervalSet | undefined;
  private count: bigint | undefined;

  constructor(readonly members: V4Members) {}

  private end(i: number): number {
    return this.members.starts[i]! + BLOCK[this.members.lens[i]!]! - 1;
  }

  private get bounds(): Float64Array {
    if (this.merged) return this.merged;
    // Local arrays and a table of block sizes: this runs once over a million members, mostly before V8 optimises it.
    const { count, starts, lens } = this.members;
    const bounds = new Float64Array(count * 2);
    let n = 0;
    for (let i = 0; i < count; i++) {
      const lo = starts[i]!,
        hi = lo + BLOCK[lens[i]!]! - 1;
      if (n > 0 && lo <= bounds[n - 1]! + 1) {
        if (hi > bounds[n - 1]!) bounds[n - 1] = hi;
      } else {
        bounds[n++] = lo;
        bounds[n++] = hi;
      }
    }
    this.merged = n === bounds.length ? bounds : bounds.slice(0, n);
    return this.merged;
  }

  ranges(): IntervalSet {
    // Its bounds stay doubles until something reads them as bigints (a sweep reads the doubles).
    this.full ??= IntervalSet.fromSortedNumbers(this.bounds);
    return this.full;
  }

  /** The index of the first range of `b` (bounds, or members' starts and ends) whose end is at or after `v`. */
  private static firstEndingFrom(count: number, endOf: (i: number) => number, v: number): number {
    let lo = 0,
      hi = count;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (endOf(mid) < v) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  within(focus: IntervalSet): IntervalSet {
    // Disjoint members are read where they meet the focus (no merged list of a million ranges is made for a focused
    // diff); else from the merged doubles, even once `full` was made (intersecting it reads every range as BigInts).
    const m = this.members;
    const b = m.disjoint ? null : this.bounds;
    const count = b ? b.length / 2 : m.count;
    const startOf = b ? (r: number) => b[2 * r]! : (r: number) => m.starts[r]!;
    const endOf = b ? (r: number) => b[2 * r + 1]! : (r: number) => this.end(r);
    const out: bigint[] = [];
    for (const [flo, fhi] of focus.ranges()) {
      if (flo >= BigInt(TWO32)) break;
      const lo = Number(flo),
        hi = Number(fhi < BigInt(TWO32) ? fhi : BigInt(TWO32 - 1));
      for (let r = V4Index.firstEndingFrom(count, endOf, lo); r < count && startOf(r) <= hi; r++) {
        const from = BigInt(Math.max(startOf(r), lo)),
          to = BigInt(Math.min(endOf(r), hi));
        // Adjacent members are one range of the set.
        if (out.length > 0 && out[out.length - 1]! + 1n === from) out[out.length - 1] = to;
        else out.push(from, to);
      }
    }
    // Pieces of distinct focus ranges never touch: focus ranges are apart, so sorted and apart as they come.
    return IntervalSet.fromSortedBounds(out);
  }

  size(): bigint {
    if (this.count === undefined) {
      const b = this.bounds;
      let n = 0;
      for (let i = 0; i < b.length; i += 2) n += b[i + 1]! - b[i]! + 1;
      this.count = BigInt(n);
    }
    return this.count;
  }

  containsAll(addresses: IntervalSet): boolean {
    const b = this.bounds;
    const endOf = (r: number) => b[2 * r + 1]!;
    for (const [lo, hi] of addresses.ranges()) {
      if (hi >= BigInt(TWO32)) return false;
      const r = V4Index.firstEndingFrom(b.length / 2, endOf, Number(lo));
      if (2 * r >= b.length || b[2 * r]! > Number(lo) || b[2 * r + 1]! < Number(hi)) return false;
    }
    return true;
  }
}

/** Members from sorted keys (start * 64 + length). */
function keyMembers(keys: Float64Array): V4Members {
  const starts = new Float64Array(keys.length);
  const lens = new Uint8Array(keys.length);
  for (let i = 0; i < keys.length; i++) {
    starts[i] = keyStart(keys[i]!);
    lens[i] = keyLength(keys[i]!);
  }
  return { count: keys.length, starts, lens, disjoint: false };
}

class V6Index implements PrefixIndex {
  readonly family = 6 as const;
  private count: bigint | undefined;

  constructor(
    private readonly set: IntervalSet,
    /** The members' canonical texts, for diffs. */
    readonly members: readonly string[],
  ) {}

  ranges(): IntervalSet {
    return this.set;
  }

  within(focus: IntervalSet): IntervalSet {
    return this.set.intersect(focus);
  }

  size(): bigint {
    if (this.count === undefined) this.count = this.set.size();
    return this.count;
  }

  containsAll(addresses: IntervalSet): boolean {
    return this.set.contains(addresses);
  }
}

/** The keys sorted (canonical lists come sorted), without duplicates. */
function sortedKeys(keys: Float64Array): Float64Array {
  let out = keys;
  let sorted = true;
  for (let i = 1; i < out.length && sorted; i++) if (out[i]! < out[i - 1]!) sorted = false;
  if (!sorted) out = out.sort();
  let n = 0;
  for (let i = 0; i < out.length; i++) if (n === 0 || out[i] !== out[n - 1]) out[n++] = out[i]!;
  return n === out.length ? out : out.slice(0, n);
}

/** The ranges of IPv6 prefixes, as BigInts. */
function v6Ranges(cidrs: readonly Cidr[]): IntervalSet {
  const ranges: [bigint, bigint][] = [];
  for (const c of cidrs) {
    let start = 0n;
    for (const b of c.addr) start = (start << 8n) | BigInt(b);
    ranges.push([start, start + (1n << BigInt(128 - c.prefix)) - 1n]);
  }
  return IntervalSet.of(ranges);
}

/** The index of the prefixes of `family` among `texts` (others, and anything that is no prefix, are left out). */
export function indexPrefixTexts(family: IpFamily, texts: readonly string[]): PrefixIndex {
  if (family === 4) {
    const keys = new Float64Array(texts.length);
    let n = 0;
    for (const t of texts) {
      let k = scanV4(t);
      if (k < 0) {
        // Not in canonical form (or not IPv4): the full parser decides.
        const c = parseCidr(t);
        if (!c || c.family !== 4) continue;
        k = v4KeyOfCidr(c);
      }
      keys[n++] = k;
    }
    return new V4Index(keyMembers(sortedKeys(n === keys.length ? keys : keys.slice(0, n))));
  }
  const cidrs: Cidr[] = [];
  const members: string[] = [];
  for (const t of texts) {
    const c = parseCidr(t);
    if (c && c.family === 6) {
      cidrs.push(c);
      members.push(t);
    }
  }
  return new V6Index(v6Ranges(cidrs), members);
}

/**
 * The index of packed prefixes: IPv4 straight from their words (no text is made, nothing copied when they are
 * canonical, as the compiler packs them), IPv6 through their text.
 */
export function indexPacked(p: PackedPrefixes): PrefixIndex {
  if (p.family === 6) return indexPrefixTexts(6, packedTexts(p));
  let canonical = true;
  for (let i = 1, lastEnd = -1; i <= p.count && canonical; i++) {
    const start = p.words[i - 1]!;
    if (start <= lastEnd) canonical = false;
    lastEnd = start + 2 ** (32 - p.lens[i - 1]!) - 1;
  }
  if (canonical) return new V4Index({ count: p.count, starts: p.words, lens: p.lens, disjoint: true });
  const keys = new Float64Array(p.count);
  for (let i = 0; i < p.count; i++) keys[i] = v4Key(p.words[i]!, p.lens[i]!);
  return new V4Index(keyMembers(sortedKeys(keys)));
}

/** The index of the CIDRs of `family` among `cidrs`. */
export function indexCidrs(family: IpFamily, cidrs: readonly Cidr[]): PrefixIndex {
  const own = cidrs.filter((c) => c.family === family);
  if (family === 4) return new V4Index(keyMembers(sortedKeys(Float64Array.from(own, v4KeyOfCidr))));
  return new V6Index(v6Ranges(own), own.map(formatCidr));
}

/** The members `after` holds and `before` does not (added), and the reverse (removed), in address order. */
export function changedMembers(before: PrefixIndex, after: PrefixIndex): { added: string[]; removed: string[] } {
  const added: string[] = [],
    removed: string[] = [];
  if (before instanceof V4Index && after instanceof V4Index) {
    const text = (k: number): string => `${formatIpv4Word(keyStart(k))}/${keyLength(k)}`;
    mergeMembers(
      before,
      after,
      (k) => removed.push(text(k)),
      (k) => added.push(text(k)),
    );
    return { added, removed };
  }
  const b = new Set(members(before)),
    a = new Set(members(after));
  return { added: [...a].filter((m) => !b.has(m)), removed: [...b].filter((m) => !a.has(m)) };
}

/** Walks two indexes' members in order: `onlyA` and `onlyB` get the keys of the members one of them holds. */
function mergeMembers(a: V4Index, b: V4Index, onlyA: (key: number) => void, onlyB: (key: number) => void): void {
  // By start, then length (the keys' order), on the arrays themselves: two million members take one pass.
  const { count: x, starts: as, lens: al } = a.members;
  const { count: y, starts: bs, lens: bl } = b.members;
  let i = 0,
    j = 0;
  while (i < x && j < y) {
    const sa = as[i]!,
      sb = bs[j]!;
    if (sa < sb || (sa === sb && al[i]! < bl[j]!)) onlyA(v4Key(sa, al[i++]!));
    else if (sb < sa || bl[j]! < al[i]!) onlyB(v4Key(sb, bl[j++]!));
    else (i++, j++);
  }
  for (; i < x; i++) onlyA(v4Key(as[i]!, al[i]!));
  for (; j < y; j++) onlyB(v4Key(bs[j]!, bl[j]!));
}

/** The members' canonical texts. */
function members(index: PrefixIndex): readonly string[] {
  if (index instanceof V6Index) return index.members;
  const v4 = index as V4Index;
  const out: string[] = new Array<string>(v4.members.count);
  for (let i = 0; i < out.length; i++) out[i] = `${formatIpv4Word(v4.members.starts[i]!)}/${v4.members.lens[i]!}`;
  return out;
}

/**
 * The addresses of the members that one list holds and the other does not: every address the two lists disagree
 * on lies in them (an address in one list's member p and in none of the other's makes p a member of one list only).
 * A superset of the symmetric difference, small when the lists differ by few members.
 */
export function changedMemberRanges(a: PrefixIndex, b: PrefixIndex): IntervalSet {
  if (a.family !== b.family) return a.ranges().union(b.ranges());
  if (a instanceof V4Index && b instanceof V4Index) {
    const ranges: [bigint, bigint][] = [];
    const range = (k: number) => ranges.push([BigInt(keyStart(k)), BigInt(keyEnd(k))]);
    mergeMembers(a, b, range, range);
    return IntervalSet.of(ranges);
  }
  const { added, removed } = changedMembers(a, b);
  return indexPrefixTexts(a.family, [...added, ...removed]).ranges();
}

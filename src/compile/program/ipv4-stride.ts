// The IPv4 address table the policy program reads: a DIR-16-8-8 multibit trie in one array map of 256-slot groups.
//
// Why not the kernel's LPM trie: it walks one node per prefix bit level, a cache miss each once the table is larger
// than the cache (10,000 /24s, 100,000 prefixes); with packets from many sources that is most of a drop's cost. Here
// a lookup reads one slot per level, at most three: the first 16 bits index a flat table of 65,536 slots (elements
// 0..255 of the map: element = first octet, slot = second octet), a slot either holds a leaf or points to a group of
// 256 slots for the third octet, whose slots may point to a group for the fourth. Prefixes up to /16 are one read,
// up to /24 two, longer three (DPDK's rte_lpm does the same with a 2^24 first table: one read up to /24, but 64 MiB
// per table; with 2^16 it is 256 KiB, and the groups hold what is longer).
//
// Slot values (u32):
//   STRIDE_GROUP | g                  the map element g (>= 256) is the group for the next octet
//   STRIDE_GROUP | STRIDE_BITMAP | b  in the first table: wide bitmap b; in a third-octet group: bitmap group b
//   TERMINAL | entry word             this field alone decides: the entry word of the deciding entry (classifier.ts)
//   otherwise                         a record id
// Memory: 1 KiB per group. Prefixes are expanded (controlled prefix expansion): a /20 fills 16 slots of its group,
// a /8 256 slots of the first table.
//
// Bitmap groups. A deny list of N /32 hosts makes one fourth-octet group per distinct /24, and nearly all of them hold
// two values only: "in the set" and what the rest of the /24 finds. As 1 KiB groups, 1M random hosts in one /8 fill
// 65,536 groups (64 MiB) and every packet from a new source misses the cache and the TLB on its own page. So a
// fourth-octet group with at most two values is stored as a 40-byte bitmap group in a second array map (value 0,
// value 1, then 256 bits: bit o set means octet o finds value 1): the same hosts take 2.5 MiB, on 640 pages. A group
// with one value is no group at all: its slot holds the value. Groups with three or more values stay 1 KiB groups.
// Wide bitmaps. A /16 crowded with such hosts (at least WIDE_MIN_GROUPS fourth-octet groups, two values in all) takes
// one 8 KiB bitmap of its 65,536 addresses in a third array map, which its first-table slot points to: a lookup is
// then two reads (the first table, then one word of the bitmap) instead of three, and 1M hosts in a /8 take 2 MiB.
import { PolicyProgramError } from './limits.js';

/** Slots per group, and bytes per group (the array map's value size). */
export const STRIDE_SLOTS = 256;
export const STRIDE_GROUP_BYTES = STRIDE_SLOTS * 4;
/** Elements of the first table (65,536 slots). */
export const STRIDE_ROOT_ELEMENTS = 256;
/** A slot that points to a group. Record ids stay below it; terminal values (bit 31) never set it. */
export const STRIDE_GROUP = 0x4000_0000;
/** With STRIDE_GROUP: the group is a bitmap group. Record ids stay below it too (MAX_RECORD_BYTES keeps them far lower). */
export const STRIDE_BITMAP = 0x2000_0000;
/** A bitmap group: u32 value 0, u32 value 1, u32 bits[8] (bit o of the 256: octet o finds value 1). */
export const STRIDE_BITMAP_WORDS = 10;
export const STRIDE_BITMAP_BYTES = STRIDE_BITMAP_WORDS * 4;
/** A wide bitmap: u32 value 0, u32 value 1, u32 bits[2048] (bit a of the 65,536: the /16's address a finds value 1). */
export const STRIDE_WIDE_WORDS = 2 + 2048;
export const STRIDE_WIDE_BYTES = STRIDE_WIDE_WORDS * 4;
/** The fewest fourth-octet groups of a two-valued /16 that make it a wide bitmap: then 8 KiB is at most 2.3x its
 * bitmap groups (1 KiB + 40 bytes each) and saves a read. */
export const WIDE_MIN_GROUPS = 64;
/** The most groups a table may have: 2 GiB of kernel memory would be far past any sane deny list. */
const MAX_ELEMENTS = 1 << 20;

export interface StrideTable {
  readonly kind: 'stride';
  /** `elements` groups of STRIDE_SLOTS u32, back to back: the array map's values in key order. */
  readonly slots: Uint32Array;
  readonly elements: number;
  /** `bitmapCount` bitmap groups of STRIDE_BITMAP_WORDS u32, back to back: the bitmap map's values in key order. */
  readonly bitmaps: Uint32Array;
  readonly bitmapCount: number;
  /** `wideCount` wide bitmaps of STRIDE_WIDE_WORDS u32, back to back: the wide map's values in key order. */
  readonly wide: Uint32Array;
  readonly wideCount: number;
}

/** Up to two distinct values, and whether more were seen. */
class TwoValues {
  a = 0;
  b = 0;
  seen = 0;
  more = false;
  add(v: number): void {
    if (this.seen === 0) {
      this.a = this.b = v;
      this.seen = 1;
    } else if (v !== this.a && v !== this.b) {
      if (this.seen === 1) {
        this.b = v;
        this.seen = 2;
      } else this.more = true;
    }
  }
}

/** A fourth-octet group whose prefixes nest: its values are read from its slots. */
const NESTED = 0xffff;

const isGroup = (v: number): boolean => v >= STRIDE_GROUP && v < 0x8000_0000;

/**
 * Builds the table from LPM entries (8-byte keys: u32 prefix length, then the address in network order) and their
 * slot values; addresses under no prefix get `defaultValue`. Within a slot's range, a prefix applies after every
 * prefix it lies in, so a longer prefix overwrites the slots of the shorter one, which is longest-prefix match.
 *
 * One /16 at a time: its third-octet group and its fourth-octet groups are filled in scratch buffers (256 KiB at
 * most), then each fourth-octet group is written in its final form (a value, a 40-byte bitmap group or a 1 KiB group,
 * or the whole /16 as a wide bitmap), so no 1 KiB group per /24 holding a host is ever made (47 MB for the bench's
 * 1M-prefix set). The outputs grow by doubling as the walk writes them and are cut to size at the end: they are small
 * beside the input (the bench's 1M prefixes make under 1 MB of groups), and one walk does the work once.
 */
export function buildStrideTable(input: {
  keys: Buffer;
  values: ArrayLike<number>;
  count: number;
  defaultValue: number;
  /** When given, entry i's slot value is valueTable[values[i]] (values are record ids, and this is what a field's
   *  map holds for each: no slot value per prefix to make for a million prefixes of a few records). */
  valueTable?: Uint32Array;
}): StrideTable {
  const { keys, values, count, defaultValue, valueTable } = input;
  const valueAt =
    valueTable === undefined ? (i: number): number => values[i]! >>> 0 : (i: number): number => valueTable[values[i]!]!;
  const order = buildOrder(keys, count);

  // The entry at build position k: keys in sweep order are walked as they lie (`order` is null).
  const ix = (k: number): number => (order === null ? k : order[k]!);

  // The first table, with the prefixes up to /16 (first in `order`, or anywhere in sweep order), each after those it
  // lies in.
  let slots: Uint32Array = new Uint32Array(STRIDE_ROOT_ELEMENTS * 2 * STRIDE_SLOTS);
  slots.fill(defaultValue, 0, STRIDE_ROOT_ELEMENTS * STRIDE_SLOTS);
  let longStart = 0;
  for (; longStart < count; longStart++) {
    const at = ix(longStart) * 8;
    const len = keys[at]!;
    if (len > 16) {
      if (order !== null) break;
      continue;
    }
    const start = (keys[at + 4]! << 8) | keys[at + 5]!;
    slots.fill(valueAt(ix(longStart)), start, start + (1 << (16 - len)));
  }
  if (order === null) longStart = 0;

  // Scratch for one /16: its third-octet group, the fourth-octet groups at their third octet, which octets have one.
  const third = new Uint32Array(STRIDE_SLOTS);
  const fourth = new Uint32Array(STRIDE_SLOTS * STRIDE_SLOTS);
  const hasFourth = new Uint8Array(STRIDE_SLOTS);
  const fourthList = new Uint8Array(STRIDE_SLOTS);
  // Per fourth-octet group: its longer prefixes (order[groupFrom..groupTo)), and when none of them lies in another
  // (hosts, mostly), the first octet none covers (256: every octet is covered), else NESTED.
  const groupFrom = new Uint32Array(STRIDE_SLOTS);
  const groupTo = new Uint32Array(STRIDE_SLOTS);
  const groupGap = new Uint16Array(STRIDE_SLOTS);
  /** Fills the scratch from the entries order[from..to) of the /16 `top16`; returns its fourth-octet group count. */
  const fill = (top16: number, from: number, to: number): number => {
    third.fill(slots[top16]!);
    hasFourth.fill(0);
    let n = 0;
    let k = from;
    while (k < to) {
      // A prefix up to /24: in build order before the longer ones; in sweep order before those it covers, so a
      // fourth-octet group starts from its final third-octet value either way.
      const first = ix(k);
      if (keys[first * 8]! <= 24) {
        const o3 = keys[first * 8 + 6]!;
        third.fill(valueAt(first), o3, o3 + (1 << (24 - keys[first * 8]!)));
        k++;
        continue;
      }
      const o3 = keys[first * 8 + 6]!;
      const base = o3 * STRIDE_SLOTS;
      fourth.fill(third[o3]!, base, base + STRIDE_SLOTS);
      hasFourth[o3] = 1;
      fourthList[n++] = o3;
      groupFrom[o3] = k;
      let end = 0;
      let gap = 0;
      for (; k < to && keys[ix(k) * 8 + 6] === o3 && keys[ix(k) * 8]! > 24; k++) {
        const i = ix(k);
        const len = keys[i * 8]!;
        const o4 = keys[i * 8 + 7]!;
        // A host is most of a large deny list: one store, not a call to fill per host.
        if (len === 32) fourth[base + o4] = valueAt(i);
        else fourth.fill(valueAt(i), base + o4, base + o4 + (1 << (32 - len)));
        // A prefix that starts before the previous one ends lies in it (or the keys came in another order): the
        // group's values are then read from its slots.
        if (o4 < end) gap = NESTED;
        else if (gap === o4) gap = o4 + (1 << (32 - len));
        end = o4 + (1 << (32 - len));
      }
      groupTo[o3] = k;
      groupGap[o3] = gap;
    }
    return n;
  };
  /**
   * Feeds `seen` the values of fourth-octet group `o3` in slot order, from its prefixes when they do not nest (the
   * value under the group's first uncovered octet, then each prefix's), else from its 256 slots.
   */
  const groupValues = (o3: number, seen: TwoValues): void => {
    const gap = groupGap[o3]!;
    if (gap === NESTED) {
      for (let k = o3 * STRIDE_SLOTS; k < (o3 + 1) * STRIDE_SLOTS; k++) seen.add(fourth[k]!);
      return;
    }
    let under = gap < STRIDE_SLOTS;
    for (let k = groupFrom[o3]!; k < groupTo[o3]! && !seen.more; k++) {
      const i = ix(k);
      if (under && gap < keys[i * 8 + 7]!) {
        seen.add(third[o3]!);
        under = false;
      }
      seen.add(valueAt(i));
    }
    if (under) seen.add(third[o3]!);
  };
  /** The values of the /16 in the scratch when they are exactly two (then it may be a wide bitmap), else undefined. */
  const twoValued = (): TwoValues | undefined => {
    const seen = new TwoValues();
    for (let j = 0; j < STRIDE_SLOTS && !seen.more; j++) {
      if (!hasFourth[j]) seen.add(third[j]!);
      else groupValues(j, seen);
    }
    return seen.more || seen.seen < 2 ? undefined : seen;
  };
  /** Writes wide bitmap `index` of a two-valued /16 from its scratch: bit a set when its address a finds two.b. */
  const writeWide = (wide: Uint32Array, index: number, two: TwoValues): void => {
    const at = index * STRIDE_WIDE_WORDS;
    wide[at] = two.a;
    wide[at + 1] = two.b;
    for (let j = 0; j < STRIDE_SLOTS; j++) {
      const words = at + 2 + j * (STRIDE_SLOTS / 32);
      if (!hasFourth[j] || groupGap[j] !== NESTED) {
        // No group, or one whose prefixes do not nest: what its third-octet slot finds, then each prefix's value.
        if (third[j] === two.b) wide.fill(0xffff_ffff, words, words + STRIDE_SLOTS / 32);
        if (!hasFourth[j]) continue;
        for (let k = groupFrom[j]!; k < groupTo[j]!; k++) {
          const i = ix(k);
          const on = valueAt(i) === two.b;
          if (on !== (third[j] === two.b)) setBits(wide, words, keys[i * 8 + 7]!, 1 << (32 - keys[i * 8]!), on);
        }
        continue;
      }
      for (let k = 0; k < STRIDE_SLOTS; k++) {
        if (fourth[j * STRIDE_SLOTS + k] === two.b) wide[words + (k >>> 5)]! |= 1 << (k & 31);
      }
    }
  };

  let elements = STRIDE_ROOT_ELEMENTS;
  let bitmapCount = 0;
  let wideCount = 0;
  let bitmaps: Uint32Array = new Uint32Array(STRIDE_BITMAP_WORDS * 64);
  let wide: Uint32Array = new Uint32Array(0);
  // Past MAX_ELEMENTS nothing more is written: the walk goes on counting, for the error to say how many.
  let writing = true;
  /** Room for `need` groups, else the end of writing. */
  const roomForGroups = (need: number): void => {
    if (need > MAX_ELEMENTS) writing = false;
    if (writing && need * STRIDE_SLOTS > slots.length) slots = grown(slots, need * STRIDE_SLOTS);
  };
  const top16At = (k: number): number => (keys[ix(k) * 8 + 4]! << 8) | keys[ix(k) * 8 + 5]!;
  for (let k = longStart; k < count;) {
    if (keys[ix(k) * 8]! <= 16) {
      k++; // (in sweep order: in the first table already)
      continue;
    }
    const top16 = top16At(k);
    let end = k + 1;
    while (end < count && keys[ix(end) * 8]! > 16 && top16At(end) === top16) end++;
    const n = fill(top16, k, end);
    k = end;
    const two = n >= WIDE_MIN_GROUPS ? twoValued() : undefined;
    if (two) {
      if (writing) {
        if ((wideCount + 1) * STRIDE_WIDE_WORDS > wide.length)
          wide = grown(wide, Math.max(4, wideCount * 2) * STRIDE_WIDE_WORDS);
        writeWide(wide, wideCount, two);
        slots[top16] = (STRIDE_GROUP | STRIDE_BITMAP | wideCount) >>> 0;
      }
      wideCount++;
      continue;
    }
    const g3 = elements++;
    roomForGroups(elements + n);
    if (writing) {
      slots.set(third, g3 * STRIDE_SLOTS);
      slots[top16] = (STRIDE_GROUP + g3) >>> 0;
    }
    for (let f = 0; f < n; f++) {
      const o3 = fourthList[f]!;
      const base = o3 * STRIDE_SLOTS;
      const a = fourth[base]!;
      let b = a;
      let more = false;
      for (let j = base + 1; !more && j < base + STRIDE_SLOTS; j++) {
        const v = fourth[j]!;
        if (v === a || v === b) continue;
        if (b === a) b = v;
        else more = true;
      }
      let slot: number;
      if (more) {
        const g4 = elements++;
        if (writing) slots.set(fourth.subarray(base, base + STRIDE_SLOTS), g4 * STRIDE_SLOTS);
        slot = STRIDE_GROUP + g4;
      } else if (a === b) {
        slot = a;
      } else {
        if (writing && (bitmapCount + 1) * STRIDE_BITMAP_WORDS > bitmaps.length)
          bitmaps = grown(bitmaps, bitmapCount * 2 * STRIDE_BITMAP_WORDS);
        if (writing) writeBitmap(bitmaps, bitmapCount, a, b, fourth, base);
        slot = STRIDE_GROUP | STRIDE_BITMAP | bitmapCount++;
      }
      if (writing) slots[g3 * STRIDE_SLOTS + o3] = slot >>> 0;
    }
  }
  if (!writing) {
    throw new PolicyProgramError(
      'policy-program-too-large',
      `the IPv4 address table needs ${elements} groups of ${STRIDE_GROUP_BYTES} bytes, more than ${MAX_ELEMENTS}`,
    );
  }
  return {
    kind: 'stride',
    slots: cut(slots, elements * STRIDE_SLOTS),
    elements,
    bitmaps: cut(bitmaps, bitmapCount * STRIDE_BITMAP_WORDS),
    bitmapCount,
    wide: cut(wide, wideCount * STRIDE_WIDE_WORDS),
    wideCount,
  };
}

/** A zeroed array of at least `need` (and twice `a`'s length) with `a` at its start. */
function grown(a: Uint32Array, need: number): Uint32Array {
  const out = new Uint32Array(Math.max(need, a.length * 2));
  out.set(a);
  return out;
}

/** The first `length` values, as an array of exactly that length (the maps are filled from whole arrays). */
const cut = (a: Uint32Array, length: number): Uint32Array => (a.length === length ? a : a.slice(0, length));

/**
 * The entry indexes in build order: first the prefixes up to /16, then by /16, within a /16 first its prefixes up to
 * /24, then by /24 its longer ones; within each part, a prefix after those it lies in. Null for keys in sweep order
 * (by address, shorter first on a tie: what buildAddressTable makes), which the build walks as they lie (a /16's
 * longer prefixes are adjacent, a prefix comes before those it covers): no index of a million entries to make. Others
 * are put in order by three counting sorts.
 */
function buildOrder(keys: Buffer, count: number): Uint32Array | null {
  let last = -1;
  let lastLen = -1;
  for (let i = 0; i < count; i++) {
    const a = ((keys[i * 8 + 4]! << 24) | (keys[i * 8 + 5]! << 16) | (keys[i * 8 + 6]! << 8) | keys[i * 8 + 7]!) >>> 0;
    const len = keys[i * 8]!;
    if (a < last || (a === last && len < lastLen)) return sortForBuild(keys, count);
    last = a;
    lastLen = len;
  }
  return null;
}

/**
 * The entry indexes in build order for keys in any order: first the prefixes up to /16, shortest first; then by
 * /16, within a /16 first its prefixes up to /24 shortest first, then by /24 its longer ones shortest first. Three
 * stable counting sorts (least significant key first), linear in the entries.
 */
function sortForBuild(keys: Buffer, count: number): Uint32Array {
  let from = new Uint32Array(count);
  for (let i = 0; i < count; i++) from[i] = i;
  let to = new Uint32Array(count);
  const pass = (buckets: number, key: (i: number) => number): void => {
    const start = new Uint32Array(buckets + 1);
    for (let k = 0; k < count; k++) start[key(from[k]!) + 1]!++;
    for (let b = 0; b < buckets; b++) start[b + 1]! += start[b]!;
    for (let k = 0; k < count; k++) to[start[key(from[k]!)]!++] = from[k]!;
    [from, to] = [to, from];
  };
  pass(33, (i) => keys[i * 8]!);
  pass(257, (i) => (keys[i * 8]! <= 24 ? 0 : 1 + keys[i * 8 + 6]!));
  pass(65537, (i) => (keys[i * 8]! <= 16 ? 0 : 1 + ((keys[i * 8 + 4]! << 8) | keys[i * 8 + 5]!)));
  return from;
}

/** Writes bitmap group `index`: value a, value b, and a set bit for each fourth octet that finds b. */
function writeBitmap(
  bitmaps: Uint32Array,
  index: number,
  a: number,
  b: number,
  group: Uint32Array,
  base: number,
): void {
  const at = index * STRIDE_BITMAP_WORDS;
  bitmaps[at] = a;
  bitmaps[at + 1] = b;
  for (let o = 0; o < STRIDE_SLOTS; o++) if (group[base + o] === b) bitmaps[at + 2 + (o >>> 5)]! |= 1 << (o & 31);
}

/** Sets (or clears) bits from..from+count of the bitmap at `words` (an aligned prefix: within one word, or whole words). */
function setBits(bitmap: Uint32Array, words: number, from: number, count: number, on: boolean): void {
  if (count >= 32) {
    bitmap.fill(on ? 0xffff_ffff : 0, words + (from >>> 5), words + ((from + count) >>> 5));
    return;
  }
  const mask = (((1 << count) - 1) << (from & 31)) >>> 0;
  const w = words + (from >>> 5);
  bitmap[w] = on ? (bitmap[w]! | mask) >>> 0 : (bitmap[w]! & ~mask) >>> 0;
}

/** The slot value an address (host-order number) finds: the reference for tests of the table and the program. */
export function strideLookup(t: StrideTable, addr: number): number {
  let v = t.slots[addr >>> 16]!;
  if (isGroup(v) && v & STRIDE_BITMAP) {
    const at = (v - STRIDE_GROUP - STRIDE_BITMAP) * STRIDE_WIDE_WORDS;
    const a = addr & 0xffff;
    return t.wide[at + ((t.wide[at + 2 + (a >>> 5)]! >>> (a & 31)) & 1)]!;
  }
  if (isGroup(v)) v = t.slots[(v - STRIDE_GROUP) * STRIDE_SLOTS + ((addr >>> 8) & 255)]!;
  if (isGroup(v) && v & STRIDE_BITMAP) {
    const at = (v - STRIDE_GROUP - STRIDE_BITMAP) * STRIDE_BITMAP_WORDS;
    const o = addr & 255;
    return t.bitmaps[at + ((t.bitmaps[at + 2 + (o >>> 5)]! >>> (o & 31)) & 1)]!;
  }
  if (isGroup(v)) v = t.slots[(v - STRIDE_GROUP) * STRIDE_SLOTS + (addr & 255)]!;
  return v;
}

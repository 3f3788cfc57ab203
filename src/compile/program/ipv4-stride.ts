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

const isGroup = (v: number): boolean => v >= STRIDE_GROUP && v < 0x8000_0000;

/**
 * Builds the table from LPM entries (8-byte keys: u32 prefix length, then the address in network order) and their
 * slot values; addresses under no prefix get `defaultValue`. Entries are inserted shortest first, so a longer prefix
 * overwrites the slots of the shorter one it lies in, which is longest-prefix match.
 */
export function buildStrideTable(input: {
  keys: Buffer;
  values: ArrayLike<number>;
  count: number;
  defaultValue: number;
}): StrideTable {
  const { keys, values, count, defaultValue } = input;
  // Counting sort by prefix length.
  const byLen = new Uint32Array(34);
  for (let i = 0; i < count; i++) byLen[keys[i * 8]! + 1]!++;
  for (let l = 0; l < 33; l++) byLen[l + 1]! += byLen[l]!;
  const order = new Uint32Array(count);
  for (let i = 0; i < count; i++) order[byLen[keys[i * 8]!]!++] = i;

  // The groups the build makes, counted first (a group per /16 holding a longer prefix, one per /24 holding a longer
  // one) so that the table is allocated once at its size: growing by doubling held both copies at the peak.
  const thirdOctet = new Uint8Array(1 << 13);
  const fourthOctet = new Uint8Array(1 << 21);
  let groups = 0;
  for (let i = 0; i < count; i++) {
    const at = i * 8;
    const len = keys[at]!;
    if (len <= 16) continue;
    const top16 = (keys[at + 4]! << 8) | keys[at + 5]!;
    if (!(thirdOctet[top16 >>> 3]! & (1 << (top16 & 7)))) {
      thirdOctet[top16 >>> 3]! |= 1 << (top16 & 7);
      groups++;
    }
    if (len <= 24) continue;
    const top24 = (top16 << 8) | keys[at + 6]!;
    if (!(fourthOctet[top24 >>> 3]! & (1 << (top24 & 7)))) {
      fourthOctet[top24 >>> 3]! |= 1 << (top24 & 7);
      groups++;
    }
  }
  let slots = new Uint32Array((STRIDE_ROOT_ELEMENTS + Math.min(groups, MAX_ELEMENTS) + 1) * STRIDE_SLOTS);
  slots.fill(defaultValue, 0, STRIDE_ROOT_ELEMENTS * STRIDE_SLOTS);
  let elements = STRIDE_ROOT_ELEMENTS;

  /** The group the slot at `at` points to, made (filled with the slot's leaf) when it holds a leaf. */
  const groupAt = (at: number): number => {
    const v = slots[at]!;
    if (isGroup(v)) return (v - STRIDE_GROUP) * STRIDE_SLOTS;
    if (elements >= MAX_ELEMENTS) {
      throw new PolicyProgramError(
        'policy-program-too-large',
        `the IPv4 address table needs more than ${MAX_ELEMENTS} groups of ${STRIDE_GROUP_BYTES} bytes`,
      );
    }
    if ((elements + 1) * STRIDE_SLOTS > slots.length) {
      const grown = new Uint32Array(slots.length * 2);
      grown.set(slots);
      slots = grown;
    }
    const g = elements++;
    slots.fill(v, g * STRIDE_SLOTS, (g + 1) * STRIDE_SLOTS);
    slots[at] = (STRIDE_GROUP + g) >>> 0;
    return g * STRIDE_SLOTS;
  };

  for (let k = 0; k < count; k++) {
    const i = order[k]!;
    const at = i * 8;
    const len = keys[at]!;
    const addr = ((keys[at + 4]! << 24) | (keys[at + 5]! << 16) | (keys[at + 6]! << 8) | keys[at + 7]!) >>> 0;
    const value = values[i]! >>> 0;
    if (len <= 16) {
      const start = addr >>> 16;
      slots.fill(value, start, start + (1 << (16 - len)));
      continue;
    }
    const g1 = groupAt(addr >>> 16);
    const third = (addr >>> 8) & 255;
    if (len <= 24) {
      slots.fill(value, g1 + third, g1 + third + (1 << (24 - len)));
      continue;
    }
    const g2 = groupAt(g1 + third);
    const fourth = addr & 255;
    // A host is most of a large deny list: one store, not a call to fill per host.
    if (len === 32) slots[g2 + fourth] = value;
    else slots.fill(value, g2 + fourth, g2 + fourth + (1 << (32 - len)));
  }
  return compactFourthOctet(slots, elements);
}

/**
 * Replaces crowded two-valued /16s by wide bitmaps and the fourth-octet groups that hold at most two values by bitmap
 * groups (one value: by the value itself), and closes the gaps they leave, in place: the kept groups move down in
 * their order, so a group never overwrites one not yet moved, and every pointer is rewritten through the renumbering.
 */
function compactFourthOctet(slots: Uint32Array, elements: number): StrideTable {
  const rootSlots = STRIDE_ROOT_ELEMENTS * STRIDE_SLOTS;
  const isPlainGroup = (v: number): boolean => isGroup(v) && (v & STRIDE_BITMAP) === 0;
  // Groups a wide bitmap replaces, and the wide bitmaps.
  const dropped = new Uint8Array(elements);
  let wide = new Uint32Array(0);
  let wideCount = 0;
  for (let s = 0; s < rootSlots; s++) {
    const v = slots[s]!;
    if (!isGroup(v)) continue;
    const base = (v - STRIDE_GROUP) * STRIDE_SLOTS;
    const values = new TwoValues();
    let groups = 0;
    for (let j = base; j < base + STRIDE_SLOTS && !values.more; j++) {
      const w = slots[j]!;
      if (!isGroup(w)) {
        values.add(w);
        continue;
      }
      groups++;
      const g = (w - STRIDE_GROUP) * STRIDE_SLOTS;
      for (let k = g; k < g + STRIDE_SLOTS; k++) values.add(slots[k]!);
    }
    if (values.more || values.seen < 2 || groups < WIDE_MIN_GROUPS) continue;
    if ((wideCount + 1) * STRIDE_WIDE_WORDS > wide.length) {
      const grown = new Uint32Array(Math.max(16, wideCount * 2) * STRIDE_WIDE_WORDS);
      grown.set(wide);
      wide = grown;
    }
    const at = wideCount * STRIDE_WIDE_WORDS;
    wide[at] = values.a;
    wide[at + 1] = values.b;
    const setBit = (a: number): void => {
      wide[at + 2 + (a >>> 5)]! |= 1 << (a & 31);
    };
    dropped[v - STRIDE_GROUP] = 1;
    for (let j = 0; j < STRIDE_SLOTS; j++) {
      const w = slots[base + j]!;
      if (!isGroup(w)) {
        if (w === values.b) for (let k = 0; k < STRIDE_SLOTS; k++) setBit(j * STRIDE_SLOTS + k);
        continue;
      }
      dropped[w - STRIDE_GROUP] = 1;
      const g = (w - STRIDE_GROUP) * STRIDE_SLOTS;
      for (let k = 0; k < STRIDE_SLOTS; k++) if (slots[g + k] === values.b) setBit(j * STRIDE_SLOTS + k);
    }
    slots[s] = (STRIDE_GROUP | STRIDE_BITMAP | wideCount++) >>> 0;
  }
  // Fourth-octet groups are those a second-level group (one a first-table slot points to) points to.
  const fourth = new Uint8Array(elements);
  for (let s = 0; s < rootSlots; s++) {
    const v = slots[s]!;
    if (!isPlainGroup(v)) continue;
    const base = (v - STRIDE_GROUP) * STRIDE_SLOTS;
    for (let j = base; j < base + STRIDE_SLOTS; j++) {
      const w = slots[j]!;
      if (isGroup(w)) fourth[w - STRIDE_GROUP] = 1;
    }
  }
  // New slot value for each group pointer: a new element number, a bitmap group, or a leaf.
  const target = new Uint32Array(elements);
  let bitmaps = new Uint32Array(STRIDE_BITMAP_WORDS * 64);
  let bitmapCount = 0;
  let kept = STRIDE_ROOT_ELEMENTS;
  for (let g = STRIDE_ROOT_ELEMENTS; g < elements; g++) {
    if (dropped[g]) continue;
    const base = g * STRIDE_SLOTS;
    const a = slots[base]!;
    let b = a;
    let two = fourth[g] === 1;
    for (let j = base + 1; two && j < base + STRIDE_SLOTS; j++) {
      const v = slots[j]!;
      if (v === a || v === b) continue;
      if (b === a) b = v;
      else two = false;
    }
    if (!two) {
      target[g] = (STRIDE_GROUP + kept++) >>> 0;
      continue;
    }
    if (a === b) {
      target[g] = a;
      continue;
    }
    if ((bitmapCount + 1) * STRIDE_BITMAP_WORDS > bitmaps.length) {
      const grown = new Uint32Array(bitmaps.length * 2);
      grown.set(bitmaps);
      bitmaps = grown;
    }
    const at = bitmapCount * STRIDE_BITMAP_WORDS;
    bitmaps[at] = a;
    bitmaps[at + 1] = b;
    for (let o = 0; o < STRIDE_SLOTS; o++) if (slots[base + o] === b) bitmaps[at + 2 + (o >>> 5)]! |= 1 << (o & 31);
    target[g] = (STRIDE_GROUP | STRIDE_BITMAP | bitmapCount++) >>> 0;
  }
  const rewrite = (from: number, to: number): void => {
    for (let j = from; j < to; j++) {
      const v = slots[j]!;
      if (isPlainGroup(v)) slots[j] = target[v - STRIDE_GROUP]!;
    }
  };
  rewrite(0, rootSlots);
  for (let g = STRIDE_ROOT_ELEMENTS; g < elements; g++) {
    const t = target[g]!;
    if (dropped[g] || !isPlainGroup(t)) continue;
    const to = (t - STRIDE_GROUP) * STRIDE_SLOTS;
    if (to !== g * STRIDE_SLOTS) slots.copyWithin(to, g * STRIDE_SLOTS, (g + 1) * STRIDE_SLOTS);
    rewrite(to, to + STRIDE_SLOTS);
  }
  return {
    kind: 'stride',
    // Copies, not views: the build's buffers (tens of MB for a 1M-host list before compaction) are freed now.
    slots: slots.slice(0, kept * STRIDE_SLOTS),
    elements: kept,
    bitmaps: bitmaps.slice(0, bitmapCount * STRIDE_BITMAP_WORDS),
    bitmapCount,
    wide: wide.slice(0, wideCount * STRIDE_WIDE_WORDS),
    wideCount,
  };
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

// The IPv6 address table the policy program reads: one hash table of (prefix length, masked address), searched by a
// binary search over the distinct prefix lengths (Waldvogel, Varghese, Turner, Plattner: "Scalable High Speed IP
// Routing Lookups", SIGCOMM 1997).
//
// Why not the kernel's LPM trie: it walks one node per prefix bit level that branches, up to 128, each a cache miss
// once the trie outgrows the cache (100,000 /128 hosts: about 17 dependent node reads per lookup). Why not a multibit
// trie of array groups as for IPv4: a /128 host under 16-then-8-bit strides needs 14 levels, and an isolated host one
// 1 KiB group per level below where it parts from its neighbours (100,000 random hosts in a /32: about 1 GiB); path
// compression would fix the memory but not the 14 dependent reads. Here:
// - each distinct prefix length L present is a node of a binary search tree over the sorted lengths, shaped by how
//   many prefixes each length holds (buildTree), never more than one level deeper than a balanced one;
// - every prefix is one element, key = (L, address masked to L bits), value = the slot value it finds;
// - a prefix of length L also leaves a marker at each length M < L where the search for L turns longer, so that a
//   probe at M hits whenever some longer prefix below may match; a marker's value is the best match of its own M
//   bits (the longest prefix of length <= M covering them, or the miss value);
// - a lookup starts at the root with best = the miss value: a hit records the element's value and goes to the
//   longer lengths, a miss to the shorter ones; at the bottom, best is the longest-prefix match.
// A lookup is at most ceil(log2(D + 1)) + 1 hash probes for D distinct lengths (2 lengths: 2; 5: 4; all 129: 9),
// whatever the number of prefixes, and each probe is one jhash and one bucket chain of about one element. Memory: one
// element per prefix plus at most one marker per prefix and tree level above its length, shared by every prefix with
// the same leading M bits (90,000 /128 hosts and 10,000 /64 nets: 100,000 elements, no marker, about 100 bytes each
// in the kernel).
// A miss is the common case of a lookup (every probe on the way to a shorter length, and every packet from an
// address in no set), and in a big table each probe's bucket is a cache miss: so each probe first reads one bit of
// a small filter (about 8 bits per element, one hash of the key: an array map of 128 KiB for 100,000 elements), and
// a clear bit is a miss without touching the hash. About one absent key in eight gets past it.
// The tree is known at compile time, so the program emits it unrolled (field-lookup.ts): no loop for the verifier.
import { PolicyProgramError } from './limits.js';

/** The key: u32 prefix length (host order), then the 16 address bytes in network order, masked to the length. */
export const LENGTH_KEY_BYTES = 20;

/** A node of the search tree: a prefix length, the nodes to go to on a hit (longer) and a miss (shorter), or -1. */
export interface LengthNode {
  readonly len: number;
  readonly longer: number;
  readonly shorter: number;
}

export interface LengthTable {
  readonly kind: 'lengths';
  /** The search tree; node 0 is the root (empty when there is no prefix: every address finds `missValue`). */
  readonly tree: readonly LengthNode[];
  /** `count` keys of LENGTH_KEY_BYTES, back to back: prefixes and markers. */
  readonly keys: Buffer;
  readonly values: Uint32Array;
  readonly count: number;
  /** Elements that are markers only (count - markers are prefixes). */
  readonly markers: number;
  /** The value of addresses under no prefix. */
  readonly missValue: number;
  /**
   * The miss filter: 2^filterBits bits, bit filterBit(len, key words) set for every element, so that a probe whose
   * bit is clear is a miss without touching the hash (whose buckets and elements are cache misses in a big table).
   */
  readonly filter: Uint32Array;
  readonly filterBits: number;
}

/** Multipliers of the filter's hash (odd; multiplicative hashing keeps the top bits, which depend on every input bit). */
export const FILTER_SEED = 0x9e3779b1;
export const FILTER_MUL = 0x85ebca77;
/** Filter sizes: about 8 bits per element (one hash: about 12% of absent keys pass), within one array value. */
const FILTER_MIN_BITS = 12;
const FILTER_MAX_BITS = 25;

/**
 * The filter bit of a key: h = len * FILTER_SEED, then for each of the ceil(len / 32) address words (as a
 * little-endian load of its network-order bytes reads it, masked) h = (h ^ word) * FILTER_MUL, all mod 2^32; the
 * bit is h's top `bits` bits. The program computes the same (field-lookup.ts).
 */
export function filterBit(len: number, wordsLE: ArrayLike<number>, bits: number): number {
  let h = Math.imul(len, FILTER_SEED);
  for (let w = 0; w < Math.ceil(len / 32); w++) h = Math.imul(h ^ wordsLE[w]!, FILTER_MUL);
  return (h >>> 0) >>> (32 - bits);
}

/** The most probes a lookup makes: the depth of the search tree. */
export function treeDepth(tree: readonly LengthNode[]): number {
  const depth = (n: number): number => (n < 0 ? 0 : 1 + Math.max(depth(tree[n]!.longer), depth(tree[n]!.shorter)));
  return tree.length === 0 ? 0 : depth(0);
}

/**
 * The search tree over the sorted lengths, shaped by how many prefixes each length holds: of the trees no deeper than
 * a balanced one plus a level, the one with the least (probes to reach each prefix's length) + (markers: a prefix
 * leaves one at each node where its search turns longer) + (probes of an address under no prefix, weighted as all
 * prefixes together). A set of 90,000 /128 hosts and 10,000 /64 nets gets /128 at the root: a host is one probe and
 * leaves no marker, where the balanced tree (/64 at the root) makes every host two probes and a marker.
 * Dynamic programming over intervals of lengths: O(D^3 * depth) for D lengths, D <= 129.
 */
function buildTree(lengths: readonly number[], weights: readonly number[]): LengthNode[] {
  const d = lengths.length;
  if (d === 0) return [];
  const maxDepth = Math.ceil(Math.log2(d + 1)) + 1;
  const prefixSum = new Float64Array(d + 1);
  for (let i = 0; i < d; i++) prefixSum[i + 1] = prefixSum[i]! + weights[i]!;
  const w = (lo: number, hi: number): number => (lo > hi ? 0 : prefixSum[hi + 1]! - prefixSum[lo]!);
  const misses = prefixSum[d]!;
  // Per (interval lo..hi, depth left, on the miss spine or not): the least cost, -1 until computed, and its root.
  // The miss spine is the path of an address under no prefix: from the root, always to the shorter lengths.
  const size = d * d * (maxDepth + 1) * 2;
  const cost = new Float64Array(size).fill(-1);
  const root = new Int16Array(size);
  const at = (lo: number, hi: number, depth: number, spine: number): number =>
    ((lo * d + hi) * (maxDepth + 1) + depth) * 2 + spine;
  const solve = (lo: number, hi: number, depth: number, spine: number): number => {
    if (lo > hi) return 0;
    if (hi - lo + 1 > 2 ** depth - 1) return Infinity;
    const i = at(lo, hi, depth, spine);
    if (cost[i]! >= 0) return cost[i]!;
    let best = Infinity;
    let bestK = lo;
    for (let k = lo; k <= hi; k++) {
      const c =
        w(lo, hi) +
        (spine ? misses : 0) +
        w(k + 1, hi) +
        solve(lo, k - 1, depth - 1, spine) +
        solve(k + 1, hi, depth - 1, 0);
      if (c < best) {
        best = c;
        bestK = k;
      }
    }
    cost[i] = best;
    root[i] = bestK;
    return best;
  };
  solve(0, d - 1, maxDepth, 1);
  const nodes: { len: number; longer: number; shorter: number }[] = [];
  const make = (lo: number, hi: number, depth: number, spine: number): number => {
    if (lo > hi) return -1;
    const k = root[at(lo, hi, depth, spine)]!;
    const n = nodes.length;
    nodes.push({ len: lengths[k]!, longer: -1, shorter: -1 });
    nodes[n]!.shorter = make(lo, k - 1, depth - 1, spine);
    nodes[n]!.longer = make(k + 1, hi, depth - 1, 0);
    return n;
  };
  make(0, d - 1, maxDepth, 1);
  return nodes;
}

/** Word w (0..3, most significant first) of an address masked to `len` bits. */
function maskWord(word: number, w: number, len: number): number {
  const bits = Math.max(0, Math.min(32, len - 32 * w));
  return bits === 0 ? 0 : bits === 32 ? word >>> 0 : (word & (0xffffffff << (32 - bits))) >>> 0;
}

/**
 * Builds the table from LPM entries (20-byte keys: u32 prefix length, then the address in network order) and their
 * slot values; addresses under no prefix find `missValue`. Host bits set in a key are ignored. Of equal prefixes the
 * last one given wins (as the IPv4 table's fill order does).
 */
export function buildLengthTable(input: {
  keys: Buffer;
  values: ArrayLike<number>;
  count: number;
  missValue: number;
}): LengthTable {
  const { keys, values, count, missValue } = input;
  // Prefixes as words (masked), lengths and values.
  const words = new Uint32Array(count * 4);
  const lens = new Uint8Array(count);
  const present = new Uint32Array(129);
  for (let i = 0; i < count; i++) {
    const at = i * LENGTH_KEY_BYTES;
    const len = keys.readUInt32LE(at);
    if (len > 128) {
      throw new PolicyProgramError('policy-program-bad-input', `an IPv6 prefix length of ${len} is past 128`);
    }
    lens[i] = len;
    present[len]!++;
    for (let w = 0; w < 4; w++) words[i * 4 + w] = maskWord(keys.readUInt32BE(at + 4 + w * 4), w, len);
  }
  const lengths: number[] = [];
  for (let l = 0; l <= 128; l++) if (present[l]) lengths.push(l);
  const tree = buildTree(
    lengths,
    lengths.map((l) => present[l]!),
  );
  // The lengths where the search for each length turns longer: its markers go there.
  const markerLengths: number[][] = [];
  for (const len of lengths) {
    const path: number[] = [];
    for (let n = 0; n >= 0 && tree.length > 0;) {
      const node = tree[n]!;
      if (node.len === len) break;
      if (node.len < len) path.push(node.len);
      n = node.len < len ? node.longer : node.shorter;
    }
    markerLengths[len] = path;
  }

  // Sweep order: by address, then shorter first (an ancestor before what it covers), then by index (the last of equal
  // prefixes is the one kept).
  const order = Array.from({ length: count }, (_, i) => i);
  order.sort((a, b) => {
    for (let w = 0; w < 4; w++) {
      const d = words[a * 4 + w]! - words[b * 4 + w]!;
      if (d !== 0) return d;
    }
    return lens[a]! - lens[b]! || a - b;
  });

  // Elements: room for every prefix and a marker each to start with, grown when markers need more.
  let out = Buffer.alloc(Math.max(1, count * 2) * LENGTH_KEY_BYTES);
  let outValues = new Uint32Array(out.length / LENGTH_KEY_BYTES);
  let n = 0;
  let markers = 0;
  // The last element written at each length (its masked words), to write each marker once.
  const lastAt = new Int32Array(129).fill(-1);
  const sameAsLast = (len: number, i: number): boolean => {
    const e = lastAt[len]!;
    if (e < 0) return false;
    for (let w = 0; w < 4; w++) {
      if (out.readUInt32BE(e * LENGTH_KEY_BYTES + 4 + w * 4) !== maskWord(words[i * 4 + w]!, w, len)) return false;
    }
    return true;
  };
  const write = (len: number, i: number, value: number): void => {
    if (n === outValues.length) {
      const grown = Buffer.alloc(out.length * 2);
      out.copy(grown);
      out = grown;
      const values2 = new Uint32Array(outValues.length * 2);
      values2.set(outValues);
      outValues = values2;
    }
    const at = n * LENGTH_KEY_BYTES;
    out.writeUInt32LE(len, at);
    for (let w = 0; w < 4; w++) out.writeUInt32BE(maskWord(words[i * 4 + w]!, w, len), at + 4 + w * 4);
    outValues[n] = value >>> 0;
    lastAt[len] = n++;
  };
  const covers = (a: number, b: number): boolean => {
    for (let w = 0; w < 4; w++) if (maskWord(words[b * 4 + w]!, w, lens[a]!) !== words[a * 4 + w]) return false;
    return true;
  };
  // The open ancestors of the current prefix (indexes), shortest first.
  const stack: number[] = [];
  for (let k = 0; k < count; k++) {
    const i = order[k]!;
    const next = order[k + 1];
    // Equal prefixes are adjacent, in the order given: only the last one counts.
    if (next !== undefined && lens[next] === lens[i] && covers(i, next)) continue;
    while (stack.length > 0 && !covers(stack[stack.length - 1]!, i)) stack.pop();
    const len = lens[i]!;
    // (No marker at this length has the same bits: the prefixes that leave one lie under this prefix, and so come
    // after it in sweep order.)
    write(len, i, values[i]!);
    // Every prefix sharing a marker's bits is in one run of the sweep order, so the last element written at that
    // length tells whether the marker is there already.
    for (const m of markerLengths[len]!) {
      if (sameAsLast(m, i)) continue;
      // The best match of the marker's bits: the longest ancestor no longer than m.
      let best = missValue;
      for (let s = stack.length - 1; s >= 0; s--) {
        if (lens[stack[s]!]! <= m) {
          best = values[stack[s]!]!;
          break;
        }
      }
      write(m, i, best);
      markers++;
    }
    stack.push(i);
  }
  let filterBits = FILTER_MIN_BITS;
  while (filterBits < FILTER_MAX_BITS && 2 ** filterBits < n * 8) filterBits++;
  const filter = new Uint32Array(2 ** (filterBits - 5));
  const le = new Uint32Array(4);
  for (let e = 0; e < n; e++) {
    const at = e * LENGTH_KEY_BYTES;
    for (let w = 0; w < 4; w++) le[w] = out.readUInt32LE(at + 4 + w * 4);
    const bit = filterBit(out.readUInt32LE(at), le, filterBits);
    filter[bit >>> 5]! |= 1 << (bit & 31);
  }
  return {
    kind: 'lengths',
    tree,
    filter,
    filterBits,
    keys: out.subarray(0, n * LENGTH_KEY_BYTES),
    values: outValues.subarray(0, n),
    count: n,
    markers,
    missValue: missValue >>> 0,
  };
}

/**
 * The slot value an address (16 bytes, network order) finds: the search the program runs, over a Map of the
 * table's elements. The reference for tests of the table and the program.
 */
export function lengthLookup(t: LengthTable, addr: Uint8Array, index?: Map<string, number>): number {
  const byKey = index ?? lengthIndex(t);
  let best = t.missValue;
  const key = Buffer.alloc(LENGTH_KEY_BYTES);
  for (let n = t.tree.length > 0 ? 0 : -1; n >= 0;) {
    const node = t.tree[n]!;
    key.fill(0);
    key.writeUInt32LE(node.len, 0);
    for (let w = 0; w < 4; w++) {
      const word = (addr[w * 4]! << 24) | (addr[w * 4 + 1]! << 16) | (addr[w * 4 + 2]! << 8) | addr[w * 4 + 3]!;
      key.writeUInt32BE(maskWord(word >>> 0, w, node.len), 4 + w * 4);
    }
    const le = [0, 1, 2, 3].map((w) => key.readUInt32LE(4 + w * 4));
    const bit = filterBit(node.len, le, t.filterBits);
    const v = (t.filter[bit >>> 5]! >>> (bit & 31)) & 1 ? byKey.get(key.toString('hex')) : undefined;
    if (v === undefined) n = node.shorter;
    else {
      best = v;
      n = node.longer;
    }
  }
  return best;
}

/** The table's elements by key (hex), for lengthLookup. */
export function lengthIndex(t: LengthTable): Map<string, number> {
  const m = new Map<string, number>();
  for (let i = 0; i < t.count; i++) {
    m.set(t.keys.subarray(i * LENGTH_KEY_BYTES, (i + 1) * LENGTH_KEY_BYTES).toString('hex'), t.values[i]!);
  }
  return m;
}

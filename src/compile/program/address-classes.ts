// The classes of one address field (source or destination) of one family: an LPM table from prefix to record id.
//
// Every prefix of every set that an entry uses on this side goes into one sorted sweep. A prefix's signature is the
// list of sets that contain it (the sets listing it or a shorter prefix that covers it, found with a stack of
// open ancestors); addresses with equal signatures are indistinguishable to every entry, so each distinct
// signature is one class, and its record has the bits of the entries whose `inSets`/`notInSets` accept it.
// Addresses under no prefix have the empty signature: the default record, used when the LPM lookup misses.
// A prefix whose record equals what the lookup would give without it (its nearest emitted ancestor's, or the
// default) is left out, so a 1M-prefix set costs 1M trie entries but only one record.
import type { IpFamily } from '../../net/cidr.js';
import { v4Order, type PackedPrefixes } from '../packed-prefixes.js';
import { PolicyProgramError } from './limits.js';
import { clearBit, newVector, setBit, type RecordTable } from './records.js';

/** What one entry asks of the address on this side, with sets as indexes into the side's set list. */
export interface AddressConstraint {
  inSets: number[];
  notInSets: number[];
}

/** The LPM trie of an address field and the record used when it misses. */
export interface AddressTable {
  readonly kind: 'address';
  /** 8 (IPv4) or 20 (IPv6): u32 prefix length (host order) then the address in network order. */
  readonly keySize: number;
  /** Trie entries: `count` keys of `keySize` bytes, back to back. */
  readonly keys: Buffer;
  /** The record id stored under each key. */
  readonly values: Uint32Array;
  readonly count: number;
  /** The record of addresses under no prefix (the trie has no /0 entry unless a set holds one). */
  readonly defaultRecord: number;
  /** Distinct signatures seen (classes before records with equal vectors were merged). */
  readonly classes: number;
  /** Prefixes read from the sets (with duplicates across sets). */
  readonly prefixes: number;
}

interface ParsedPrefixes {
  /** Address words, 1 (IPv4) or 4 (IPv6) per prefix, most significant first. */
  words: Uint32Array;
  lens: Uint8Array;
  /** The set each came from: 2 bytes a prefix while there are fewer than 65,536 sets. */
  owner: Uint16Array | Uint32Array;
  count: number;
}

function ownerArray(sets: number, length: number): Uint16Array | Uint32Array {
  return sets <= 0x10000 ? new Uint16Array(length) : new Uint32Array(length);
}

/** The members of every set one after the other (duplicates across sets kept), with the set each came from. */
function parseAll(
  family: IpFamily,
  sets: readonly { id: string; members: PackedPrefixes }[],
  skip = -1,
): ParsedPrefixes {
  const per = family === 4 ? 1 : 4;
  let total = 0;
  sets.forEach((s, si) => {
    if (s.members.family !== family && s.members.count > 0)
      throw new PolicyProgramError('policy-program-bad-input', `set ${s.id} is not an IPv${family} set`);
    if (si !== skip) total += s.members.count;
  });
  const words = new Uint32Array(total * per);
  const lens = new Uint8Array(total);
  const owner = ownerArray(sets.length, total);
  let k = 0;
  sets.forEach((set, si) => {
    if (si === skip) return;
    const m = set.members;
    words.set(m.words.subarray(0, m.count * per), k * per);
    lens.set(m.lens.subarray(0, m.count), k);
    owner.fill(si, k, k + m.count);
    k += m.count;
  });
  return { words, lens, owner, count: total };
}

/** Indexes of the prefixes in sweep order: by address, then shorter first (an ancestor before what it covers). */
function sweepOrder(p: ParsedPrefixes, family: IpFamily): Uint32Array {
  if (family === 4) {
    const order = v4Order(p.words, p.lens, p.count);
    if (order) return order;
    const identity = new Uint32Array(p.count);
    for (let i = 0; i < p.count; i++) identity[i] = i;
    return identity;
  }
  const list = Array.from({ length: p.count }, (_, i) => i);
  list.sort((a, b) => {
    for (let w = 0; w < 4; w++) {
      const d = p.words[a * 4 + w]! - p.words[b * 4 + w]!;
      if (d !== 0) return d;
    }
    return p.lens[a]! - p.lens[b]!;
  });
  return Uint32Array.from(list);
}

/** The fewest prefixes a set needs to be merged into the others rather than copied and sorted with them. */
const MERGE_MIN = 4096;

/**
 * The IPv4 prefixes of every set already in sweep order, when one set holds most of them and its members are in
 * that order (a canonical set is): the other sets are put in order among themselves, then merged with it in one
 * pass. The same order as sweepOrder over parseAll (ties in set order), without the index arrays and passes of a
 * merge of the sorted runs: for a 1M-prefix set, 8 MB less fresh memory (every page a fault) and two passes fewer.
 * Undefined when that does not apply.
 */
function mergedV4(
  sets: readonly { id: string; members: PackedPrefixes }[],
  mergeMin: number,
): ParsedPrefixes | undefined {
  let big = -1;
  let total = 0;
  sets.forEach((s, si) => {
    total += s.members.count;
    if (big < 0 || s.members.count > sets[big]!.members.count) big = si;
  });
  if (big < 0) return undefined;
  const b = sets[big]!.members;
  const nb = b.count;
  if (nb < mergeMin || nb * 2 < total || b.family !== 4) return undefined;
  const bw = b.words;
  const bl = b.lens;
  for (let i = 1; i < nb; i++) {
    if (bw[i - 1]! > bw[i]! || (bw[i - 1] === bw[i] && bl[i - 1]! > bl[i]!)) return undefined;
  }
  const rest = parseAll(4, sets, big);
  const restOrder = v4Order(rest.words, rest.lens, rest.count);
  const rw = rest.words;
  const rl = rest.lens;
  const ro = rest.owner;
  const nr = rest.count;
  const words = new Uint32Array(total);
  const lens = new Uint8Array(total);
  const owner = ownerArray(sets.length, total);
  let bi = 0;
  let ri = 0;
  for (let k = 0; k < total; k++) {
    const r = ri < nr ? (restOrder === null ? ri : restOrder[ri]!) : -1;
    // The big set's prefix first when it sorts first: by address, then length, then set order.
    const fromBig =
      r < 0 ||
      (bi < nb && (bw[bi]! < rw[r]! || (bw[bi] === rw[r] && (bl[bi]! < rl[r]! || (bl[bi] === rl[r] && big < ro[r]!)))));
    if (fromBig) {
      words[k] = bw[bi]!;
      lens[k] = bl[bi]!;
      owner[k] = big;
      bi++;
    } else {
      words[k] = rw[r]!;
      lens[k] = rl[r]!;
      owner[k] = ro[r]!;
      ri++;
    }
  }
  return { words, lens, owner, count: total };
}

/** True when prefix a (length la) covers prefix b (length lb >= la). */
function covers(words: Uint32Array, per: number, a: number, la: number, b: number): boolean {
  let bits = la;
  for (let w = 0; w < per && bits > 0; w++) {
    const take = Math.min(32, bits);
    const mask = take === 32 ? 0xffffffff : (0xffffffff << (32 - take)) >>> 0;
    if (((words[a * per + w]! ^ words[b * per + w]!) & mask) >>> 0 !== 0) return false;
    bits -= take;
  }
  return true;
}

function sameAddress(words: Uint32Array, per: number, a: number, b: number): boolean {
  for (let w = 0; w < per; w++) if (words[a * per + w] !== words[b * per + w]) return false;
  return true;
}

function unionSorted(a: readonly number[], b: readonly number[]): number[] {
  const out: number[] = [];
  let i = 0,
    j = 0;
  while (i < a.length || j < b.length) {
    const x = i < a.length ? a[i]! : Infinity;
    const y = j < b.length ? b[j]! : Infinity;
    if (x === y) {
      out.push(x);
      i++;
      j++;
    } else if (x < y) {
      out.push(x);
      i++;
    } else {
      out.push(y);
      j++;
    }
  }
  return out;
}

interface AddressClassInput {
  family: IpFamily;
  /** The sets entries use on this side, in index order. */
  sets: readonly { id: string; members: PackedPrefixes }[];
  /** Per bit position; null for an entry that does not constrain this side, undefined for a padding bit. */
  constraints: readonly (AddressConstraint | null | undefined)[];
  records: RecordTable;
  /** The fewest prefixes of one set that make it merged with the others (tests); MERGE_MIN by default. */
  mergeMin?: number;
}

/** Builds the LPM table of one address field. */
export function buildAddressTable(input: AddressClassInput): AddressTable {
  const { family, sets, constraints, records } = input;
  const per = family === 4 ? 1 : 4;
  const keySize = 4 + per * 4;

  // Who uses each set, and the vector of the empty signature.
  const inUsers: number[][] = sets.map(() => []);
  const notUsers: number[][] = sets.map(() => []);
  const outside = newVector(records.shape);
  constraints.forEach((c, e) => {
    if (c === undefined) return;
    if (c === null || c.inSets.length === 0) setBit(outside, e);
    if (c === null) return;
    for (const s of new Set(c.inSets)) inUsers[s]!.push(e);
    for (const s of new Set(c.notInSets)) notUsers[s]!.push(e);
  });
  const defaultRecord = records.intern(outside);

  // Signatures are interned objects, and the signature of "parent + one set" is memoized, so the sweep of a set
  // with a million prefixes allocates nothing per prefix.
  interface Signature {
    key: string;
    sets: number[];
    record: number;
    extended: Map<number, Signature>;
  }
  const bySignature = new Map<string, Signature>();
  const work = newVector(records.shape);
  const signatureOf = (sig: number[]): Signature => {
    const key = sig.join(',');
    const known = bySignature.get(key);
    if (known) return known;
    work.set(outside);
    const member = new Set(sig);
    for (const s of sig) {
      for (const e of inUsers[s]!) if (constraints[e]!.inSets.every((x) => member.has(x))) setBit(work, e);
    }
    for (const s of sig) for (const e of notUsers[s]!) clearBit(work, e);
    const made: Signature = { key, sets: sig, record: records.intern(work), extended: new Map() };
    bySignature.set(key, made);
    return made;
  };
  const empty = signatureOf([]);
  const extend = (parent: Signature, set: number): Signature => {
    let next = parent.extended.get(set);
    if (!next) {
      next = parent.sets.includes(set) ? parent : signatureOf(unionSorted(parent.sets, [set]));
      parent.extended.set(set, next);
    }
    return next;
  };

  const merged = family === 4 ? mergedV4(sets, input.mergeMin ?? MERGE_MIN) : undefined;
  const parsed = merged ?? parseAll(family, sets);
  // Prefixes merged in order are swept as they lie.
  const order = merged ? null : sweepOrder(parsed, family);
  const at = (k: number): number => (order === null ? k : order[k]!);
  const { words, lens, owner } = parsed;
  const keys = Buffer.alloc(parsed.count * keySize);
  const values = new Uint32Array(parsed.count);
  let count = 0;

  // The stack of open ancestors: prefix index and its signature (whose record a lookup inside it yields).
  const stackIdx = new Int32Array(130);
  const stackSig: Signature[] = [];
  let depth = 0;
  // Sets that list a prefix with no ancestor: the common case of a big set, kept out of the Map.
  const alone: (Signature | undefined)[] = new Array(sets.length);
  const lenOf = lens;
  let i = 0;
  while (i < parsed.count) {
    const first = at(i);
    const len = lenOf[first]!;
    if (per === 1) {
      // IPv4 inline: the top of the stack covers `first` when the address bits above its length agree.
      const a = words[first]!;
      while (depth > 0) {
        const top = stackIdx[depth - 1]!;
        const tl = lenOf[top]!;
        if (tl === 0 || (words[top]! ^ a) >>> (32 - tl) === 0) break;
        depth--;
      }
    } else {
      while (depth > 0 && !covers(words, per, stackIdx[depth - 1]!, lenOf[stackIdx[depth - 1]!]!, first)) depth--;
    }
    const parent = depth > 0 ? stackSig[depth - 1]! : empty;
    // Every set listing exactly this prefix (they are adjacent in sweep order).
    const o = owner[first]!;
    let sig = depth > 0 ? extend(parent, o) : (alone[o] ??= extend(empty, o));
    let j = i + 1;
    while (j < parsed.count && lenOf[at(j)] === len && sameAddress(words, per, at(j), first)) {
      sig = extend(sig, owner[at(j)]!);
      j++;
    }
    if (sig.record !== parent.record) {
      const at = count * keySize;
      keys[at] = len;
      for (let w = 0; w < per; w++) {
        const v = words[first * per + w]!;
        const b = at + 4 + w * 4;
        keys[b] = v >>> 24;
        keys[b + 1] = (v >>> 16) & 255;
        keys[b + 2] = (v >>> 8) & 255;
        keys[b + 3] = v & 255;
      }
      values[count] = sig.record;
      count++;
    }
    stackIdx[depth] = first;
    stackSig[depth] = sig;
    depth++;
    i = j;
  }
  return {
    kind: 'address',
    keySize,
    keys: keys.subarray(0, count * keySize),
    values: values.subarray(0, count),
    count,
    defaultRecord,
    classes: bySignature.size,
    prefixes: parsed.count,
  };
}

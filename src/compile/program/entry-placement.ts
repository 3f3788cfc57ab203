// Where each entry's bit goes: entries grouped by the fields they constrain, each group in evaluation order, and the
// Log entries in a group of their own at the end; plus the entry table the program reads per bit.
//
// Why groups: a record's summary says which words hold an entry accepting the packet's value of ONE field. Entries
// that do not constrain a field accept every value, so with rules of different shapes interleaved (port rules,
// address rules, ...) every word is a candidate in every field and the AND of the summaries says nothing. Grouped by
// shape, a field's wildcard bits fill whole words of the groups that ignore it, and the summaries of the fields a
// group does constrain stay sparse there, so the AND of summaries points at real matches.
//
// The price: matches are no longer found in evaluation order across groups. The program keeps the best deciding
// entry found so far (lowest original index); within a group the first match is the group's best, so it then skips
// the rest of the group, and when no later group holds an entry earlier than the best, it skips to the Log group.
// Log entries are in evaluation order in their group, so the Log entries that come before the best deciding entry
// are exactly a prefix of that group: the program records those (and stops at the first one past it).
import type { IngressEntry } from '../desired-state.js';
import { entryWord } from './entry-word.js';

/** Groups smaller than this are merged into one mixed group: alignment to whole words would waste more than it saves. */
const MIN_GROUP_ENTRIES = 64;

/** u32 words per bit in the entry table. */
export const TABLE_WORDS = 4;
/** Offsets (bytes) in one bit's table slot. */
export const TABLE_INFO = 0;
export const TABLE_ORIGINAL = 4;
export const TABLE_LOG_LIMIT = 8;
export const TABLE_CONTINUE = 12;

interface EntryGroup {
  /** First bit (a multiple of 64). */
  readonly start: number;
  readonly count: number;
  /** The constrained-fields signature (bit i: field i of the caller's list); -1 for the mixed group and the Log group. */
  readonly signature: number;
  readonly log: boolean;
}

export interface EntryPlacement {
  /** Bit positions, padding included. */
  readonly bits: number;
  /** Original index -> bit. */
  readonly bitOf: Int32Array;
  /** Bit -> original index, -1 for padding. */
  readonly entryAt: Int32Array;
  readonly groups: readonly EntryGroup[];
  /** First bit of the Log group (the end of the deciding groups, a multiple of 64). */
  readonly logStart: number;
  /**
   * TABLE_WORDS u32 per bit:
   *   info      entryWord(): the verdict's jump slot (0 for Log) and the rule counter; 0 for padding
   *   original  the entry's index in evaluation order
   *   logLimit  deciding entries: the bit where the Log entries that come after it in evaluation order begin
   *   continue  deciding entries: the word where the scan goes on once this entry is the best so far: the next
   *             group, or the Log group when no later group holds an entry earlier than this one
   */
  readonly table: Uint32Array;
}

const align = (bit: number): number => Math.ceil(bit / 64) * 64;

/**
 * Lays out one family's entries; `signature(e)` says which fields an entry constrains (a bit per field).
 * `minGroupEntries` (tests) changes MIN_GROUP_ENTRIES.
 */
export function placeEntries(
  list: readonly IngressEntry[],
  signature: (e: IngressEntry) => number,
  minGroupEntries = MIN_GROUP_ENTRIES,
): EntryPlacement {
  const bySignature = new Map<number, number[]>();
  const logs: number[] = [];
  list.forEach((e, i) => {
    if (e.action === 'Log') {
      logs.push(i);
      return;
    }
    const sig = signature(e);
    const g = bySignature.get(sig);
    if (g) g.push(i);
    else bySignature.set(sig, [i]);
  });
  const decided: { signature: number; members: number[] }[] = [];
  const mixed: number[] = [];
  for (const [sig, members] of bySignature) {
    if (members.length >= minGroupEntries) decided.push({ signature: sig, members });
    else mixed.push(...members);
  }
  if (mixed.length > 0) decided.push({ signature: -1, members: mixed.sort((a, b) => a - b) });
  // Earliest entry first: the group holding the first rules is scanned first, so the early exit comes soonest.
  decided.sort((a, b) => a.members[0]! - b.members[0]!);

  const bitOf = new Int32Array(list.length);
  const groups: EntryGroup[] = [];
  let bit = 0;
  for (const g of decided) {
    bit = align(bit);
    groups.push({ start: bit, count: g.members.length, signature: g.signature, log: false });
    for (const i of g.members) bitOf[i] = bit++;
  }
  const logStart = align(bit);
  bit = logStart;
  if (logs.length > 0) groups.push({ start: logStart, count: logs.length, signature: -1, log: true });
  for (const i of logs) bitOf[i] = bit++;
  const bits = bit;

  const entryAt = new Int32Array(bits).fill(-1);
  bitOf.forEach((b, i) => (entryAt[b] = i));

  // Lowest original index of the deciding groups from g on.
  const suffixMin = new Array<number>(decided.length + 1).fill(Infinity);
  for (let g = decided.length - 1; g >= 0; g--) suffixMin[g] = Math.min(decided[g]!.members[0]!, suffixMin[g + 1]!);

  // Log entries before each original index.
  const logsBefore = new Int32Array(list.length + 1);
  list.forEach((e, i) => (logsBefore[i + 1] = logsBefore[i]! + (e.action === 'Log' ? 1 : 0)));

  const table = new Uint32Array(Math.max(1, bits) * TABLE_WORDS);
  list.forEach((e, i) => {
    const at = bitOf[i]! * TABLE_WORDS;
    table[at] = entryWord(e);
    table[at + 1] = i;
  });
  decided.forEach((g, gi) => {
    const next = gi + 1 < decided.length ? groups[gi + 1]!.start / 64 : logStart / 64;
    for (const i of g.members) {
      const at = bitOf[i]! * TABLE_WORDS;
      table[at + 2] = logStart + logsBefore[i]!;
      table[at + 3] = i < suffixMin[gi + 1]! ? logStart / 64 : next;
    }
  });
  return { bits, bitOf, entryAt, groups, logStart, table };
}

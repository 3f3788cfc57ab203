// The packet space partitioned by what decides each packet: a walk down one field at a time, splitting the values of
// that field into classes (values that the same remaining boxes accept), as a multi-valued decision diagram does.
//
// A class is a union of ranges, not one range: the 1,100 prefixes of a deny list that only the deny rule names are
// one class, so the walk branches by how many distinct rule sets a field has, never by how many prefixes. Three
// cuts keep the walk small, and none of them loses exactness:
//   - a box that covers every field not yet split decides all that is left: boxes after it never decide there;
//   - when the first remaining box of each list covers the rest, one cell holds everything below;
//   - in a diff, when both lists hold the same boxes with the same deciders in the same order, nothing below differs.
// Every cell the walk reports is a box (one set per field); the cells are disjoint and together cover the space.
import type { Decider, DecisionList } from './decisions.js';
import { boundsMeet, IntervalSet } from './interval-set.js';
import { F, intersectBoxes, universe, type Box, type FieldIndex } from './space.js';

/**
 * The order fields are split in: protocol and fragment first (they fix which other fields a packet has), then ports
 * and ICMP (few values, many rules), addresses last (big sets, by then few boxes remain).
 */
const ORDER: readonly FieldIndex[] = [F.proto, F.frag, F.dport, F.sport, F.icmpType, F.icmpCode, F.dst, F.src];

interface Candidate {
  box: Box;
  /** Index of the decision item in its list. */
  item: number;
  /** The first depth from which the box holds every value of every field still to split. */
  coverFrom: number;
  /** Equal signatures: the same box deciding the same way (compared across the two lists of a diff). */
  sig: number;
}

/** Statistics of a walk, for the benchmark and the docs. */
export interface WalkStats {
  nodes: number;
  cells: number;
}

class Walker {
  readonly stats: WalkStats = { nodes: 0, cells: 0 };
  private readonly cands: Candidate[] = [];
  private readonly cell: IntervalSet[];
  private nBase = 0;

  constructor(
    private readonly ubox: Box,
    private readonly lists: readonly DecisionList[],
    private readonly leaf: (cell: Box, first: (number | null)[]) => void,
    private readonly sigs: Map<string, number>,
    private readonly sameBelow: boolean,
    private readonly sweeps: Map<string, SweepResult>,
  ) {
    this.cell = [...ubox];
  }

  /** Candidate ids of each list, in evaluation order; the lists' ids are consecutive. */
  load(): number[][] {
    const out: number[][] = [];
    this.lists.forEach((list, li) => {
      const ids: number[] = [];
      list.items.forEach((it, item) => {
        for (const b of it.boxes) {
          const box = intersectBoxes(b, this.ubox);
          if (!box) continue;
          let coverFrom = ORDER.length;
          while (coverFrom > 0 && box[ORDER[coverFrom - 1]!]!.equals(this.ubox[ORDER[coverFrom - 1]!]!)) coverFrom--;
          // Signatures only serve the cut of a diff (a walk of one list compares nothing): 40,000 keys for the
          // shapes of a 10,000-rule list otherwise.
          let sig = -1;
          if (this.sameBelow) {
            const sigKey = `${it.decider.key}#${box.map(token).join('|')}`;
            sig = this.sigs.get(sigKey) ?? this.sigs.size;
            if (sig === this.sigs.size) this.sigs.set(sigKey, sig);
          }
          ids.push(this.cands.push({ box, item, coverFrom, sig }) - 1);
        }
      });
      if (li === 0) this.nBase = this.cands.length;
      out.push(ids);
    });
    return out;
  }

  /** Drops the ids after the first box that covers everything left at `depth`: they never decide below. */
  private truncate(ids: number[], depth: number): number[] {
    for (let i = 0; i < ids.length; i++) if (this.cands[ids[i]!]!.coverFrom <= depth) return ids.slice(0, i + 1);
    return ids;
  }

  walk(depth: number, lists: number[][]): void {
    this.stats.nodes++;
    const cut = lists.map((ids) => this.truncate(ids, depth));
    if (this.sameBelow && cut.length === 2) {
      const [a, b] = cut as [number[], number[]];
      if (a.length === b.length && a.every((id, i) => this.cands[id]!.sig === this.cands[b[i]!]!.sig)) return;
    }
    const settled = cut.every((ids) => ids.length === 0 || this.cands[ids[0]!]!.coverFrom <= depth);
    if (settled || depth === ORDER.length) {
      this.stats.cells++;
      this.leaf(
        [...this.cell],
        cut.map((ids) => (ids.length ? this.cands[ids[0]!]!.item : null)),
      );
      return;
    }
    const field = ORDER[depth]!;
    for (const cls of this.classes(field, cut)) {
      this.cell[field] = cls.set;
      this.walk(depth + 1, cls.lists);
    }
    this.cell[field] = this.ubox[field]!;
  }

  /**
   * The values of `field` split into classes: sets of values accepted by the same boxes. Boxes accepting every
   * value go to every class; the others are swept over their ranges' ends.
   */
  private classes(field: FieldIndex, lists: number[][]): { set: IntervalSet; lists: number[][] }[] {
    const dom = this.ubox[field]!;
    const always: number[] = [];
    const splitting: number[] = [];
    for (const ids of lists)
      for (const id of ids) (this.cands[id]!.box[field]!.equals(dom) ? always : splitting).push(id);
    const regroup = (members: number[]): number[][] => {
      const merged = mergeSorted(members, always);
      return lists.length === 1
        ? [merged]
        : [merged.filter((id) => id < this.nBase), merged.filter((id) => id >= this.nBase)];
    };
    if (splitting.length === 0) return [{ set: dom, lists }];

    const sets = splitting.map((id) => this.cands[id]!.box[field]!);
    // A large sweep is remembered: the walks of the four packet shapes meet the same address sets (a deny list of a
    // million prefixes) and would sweep them four times.
    let ranges = 0;
    for (const set of sets) ranges += set.rangeCount;
    const key = ranges >= MEMO_RANGES ? `${field}|${token(dom)}|${sets.map(token).join(',')}` : null;
    let sweep = key === null ? undefined : this.sweeps.get(key);
    if (!sweep) {
      sweep = sweepApart(sets, dom) ?? sweepNumbers(sets, dom) ?? sweepBigints(sets, dom);
      if (key !== null) this.sweeps.set(key, sweep);
    }
    const out: { set: IntervalSet; lists: number[][] }[] = [];
    for (const g of sweep.groups) out.push({ set: g.set, lists: regroup(g.members.map((k) => splitting[k]!)) });
    if (!sweep.rest.isEmpty) out.push({ set: sweep.rest, lists: regroup([]) });
    return out;
  }
}

/** Sweeps over at least this many ranges are remembered for the walk's other shapes. */
const MEMO_RANGES = 4096;

/**
 * A sweep's classes: members are positions in the list of sets swept (ascending, as the candidate ids are); `rest`: the
 * values of the domain no set holds.
 */
interface SweepResult {
  groups: { set: IntervalSet; members: number[] }[];
  rest: IntervalSet;
}

const identities = new WeakMap<IntervalSet, number>();
let nextIdentity = 0;

/**
 * A set as a short text for signatures and memo keys: its content when short; a large set by identity, since its
 * content key would be megabytes of text. Equal tokens mean equal sets; a large set both revisions share is one
 * object (sets are indexed once per id), so it still compares equal across them.
 */
function token(s: IntervalSet): string {
  if (s.rangeCount <= 64) return s.key;
  let id = identities.get(s);
  if (id === undefined) {
    id = nextIdentity++;
    identities.set(s, id);
  }
  return `#${id}`;
}

/** Appends [lo, hi] to sorted bounds, merged with the last range when they touch. */
function appendBigints(bounds: bigint[], lo: bigint, hi: bigint): void {
  const n = bounds.length;
  if (n > 0 && bounds[n - 1]! + 1n === lo) bounds[n - 1] = hi;
  else bounds.push(lo, hi);
}

/**
 * Sorted bounds in doubles, grown by doubling: a JS array pushed to two million times cost a deny list's sweep more
 * than its sort.
 */
class NumberBounds {
  private buf: Float64Array;
  private n = 0;

  constructor(capacity = 8) {
    this.buf = new Float64Array(Math.max(2, capacity));
  }

  /** Appends [lo, hi], merged with the last range when they touch. */
  append(lo: number, hi: number): void {
    const n = this.n;
    if (n > 0 && this.buf[n - 1]! + 1 === lo) {
      this.buf[n - 1] = hi;
      return;
    }
    if (n + 2 > this.buf.length) {
      const grown = new Float64Array(this.buf.length * 2);
      grown.set(this.buf);
      this.buf = grown;
    }
    this.buf[n] = lo;
    this.buf[n + 1] = hi;
    this.n = n + 2;
  }

  /** The bounds, exactly as long as they are (a copy when the spare room would be large). */
  done(): Float64Array {
    return this.n * 2 > this.buf.length ? this.buf.subarray(0, this.n) : this.buf.slice(0, this.n);
  }
}

/** Sets with at least this many ranges are merged in as sorted runs instead of sorted again with the others. */
const RUN_RANGES = 1024;

/** One sorted array from sorted runs, merged in pairs (a million-range set is already sorted: no sort of it). */
function mergeRuns(runs: Float64Array[]): Float64Array {
  let level = runs.filter((r) => r.length > 0);
  if (level.length === 0) return new Float64Array(0);
  while (level.length > 1) {
    const next: Float64Array[] = [];
    for (let r = 0; r + 1 < level.length; r += 2) {
      const a = level[r]!,
        b = level[r + 1]!;
      const out = new Float64Array(a.length + b.length);
      let i = 0,
        j = 0,
        o = 0;
      while (i < a.length && j < b.length) out[o++] = a[i]! <= b[j]! ? a[i++]! : b[j++]!;
      while (i < a.length) out[o++] = a[i++]!;
      while (j < b.length) out[o++] = b[j++]!;
      next.push(out);
    }
    if (level.length % 2 === 1) next.push(level[level.length - 1]!);
    level = next;
  }
  return level[0]!;
}

/**
 * The sweep in doubles, for fields whose values fit them exactly (everything but IPv6 addresses): each range end is
 * one packed key (position * stride + set), so a million-range deny list is swept without a BigInt comparison. A
 * set's keys come in order already: large sets are merged in as runs, only the small ones are sorted together.
 * Null when the packing would not be exact.
 */
function sweepNumbers(sets: readonly IntervalSet[], dom: IntervalSet): SweepResult | null {
  const max = dom.max;
  const stride = 2 ** Math.ceil(Math.log2(sets.length + 1));
  if ((Number(max) + 2) * stride > Number.MAX_SAFE_INTEGER || max > 2n ** 52n) return null;
  let small = 0;
  let n = 0;
  for (const set of sets) {
    n += set.rangeCount;
    if (set.rangeCount < RUN_RANGES) small += set.rangeCount;
  }
  const startRuns = [new Float64Array(small)],
    endRuns = [new Float64Array(small)];
  let s = 0;
  sets.forEach((set, k) => {
    const big = set.rangeCount >= RUN_RANGES;
    const starts = big ? new Float64Array(set.rangeCount) : startRuns[0]!;
    const ends = big ? new Float64Array(set.rangeCount) : endRuns[0]!;
    let at = big ? 0 : s;
    const b = set.numbers();
    if (b) {
      for (let i = 0; i < b.length; i += 2, at++) {
        starts[at] = b[i]! * stride + k;
        ends[at] = (b[i + 1]! + 1) * stride + k;
      }
    } else {
      const bounds = set.bounds;
      for (let i = 0; i < bounds.length; i += 2, at++) {
        starts[at] = Number(bounds[i]!) * stride + k;
        ends[at] = (Number(bounds[i + 1]!) + 1) * stride + k;
      }
    }
    if (big) {
      startRuns.push(starts);
      endRuns.push(ends);
    } else s = at;
  });
  startRuns[0]!.sort();
  endRuns[0]!.sort();
  const starts = mergeRuns(startRuns),
    ends = mergeRuns(endRuns);
  // The sets lie within the domain: over one range, what no box accepts is the gaps the sweep steps over, found on
  // the way (a list of everything covered, then subtracted, costs a million BigInts for a deny list).
  const whole = dom.rangeCount === 1;
  const found = new Grouper<number, NumberBounds>(
    () => new NumberBounds(),
    (g, lo, hi) => g.append(lo, hi),
    !whole,
  );
  const gaps = new NumberBounds(whole ? 2 * n + 2 : 2);
  let next = Number(dom.min);
  const active: number[] = [];
  const posOf = (key: number): number => Math.floor(key / stride);
  for (let i = 0, j = 0; i < n || j < n;) {
    const pos = Math.min(i < n ? posOf(starts[i]!) : Infinity, j < n ? posOf(ends[j]!) : Infinity);
    for (; i < n && posOf(starts[i]!) === pos; i++) {
      const k = starts[i]! - pos * stride;
      insertAt(active, lowerBound(active, k), k);
    }
    for (; j < n && posOf(ends[j]!) === pos; j++) {
      const k = ends[j]! - pos * stride;
      removeAt(active, lowerBound(active, k));
    }
    if (active.length === 0 || (i >= n && j >= n)) continue;
    const end = Math.min(i < n ? posOf(starts[i]!) : Infinity, j < n ? posOf(ends[j]!) : Infinity) - 1;
    found.add(active, pos, end);
    if (whole) {
      if (pos > next) gaps.append(next, pos - 1);
      next = end + 1;
    }
  }
  if (whole && next <= Number(max)) gaps.append(next, Number(max));
  return {
    groups: [...found.groups.values()].map((g) => ({
      set: IntervalSet.fromSortedNumbers(g.bounds.done()),
      members: g.members,
    })),
    rest: whole
      ? IntervalSet.fromSortedNumbers(gaps.done())
      : dom.subtract(IntervalSet.fromSortedNumbers(found.covered.done())),
  };
}

/** Whether the few ranges of `small` meet the sorted bounds `big` (a binary search per range). */
function rangesMeet(small: ArrayLike<number>, big: ArrayLike<number>): boolean {
  for (let r = 0; r < small.length; r += 2) {
    let lo = 0,
      hi = big.length / 2;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (big[2 * mid + 1]! < small[r]!) lo = mid + 1;
      else hi = mid;
    }
    if (lo < big.length / 2 && big[2 * lo]! <= small[r + 1]!) return true;
  }
  return false;
}

/** `a` without the values of `b`, both sorted disjoint bounds in doubles. */
function subtractNumbers(a: ArrayLike<number>, b: ArrayLike<number>): Float64Array {
  const out = new NumberBounds(a.length + b.length + 2);
  let j = 0;
  for (let i = 0; i < a.length; i += 2) {
    let lo = a[i]!;
    const hi = a[i + 1]!;
    while (j < b.length && b[j + 1]! < lo) j += 2;
    for (let k = j; k < b.length && b[k]! <= hi && lo <= hi; k += 2) {
      if (b[k]! > lo) out.append(lo, b[k]! - 1);
      lo = b[k + 1]! + 1;
    }
    if (lo <= hi) out.append(lo, hi);
  }
  return out.done();
}

/**
 * The sweep when large sets (a deny list of a million ranges) share no value with any other set: each such set is a
 * class of its own, as it is, and only the others are swept; the values no set holds are the others' gaps without
 * the large sets. Exact, the same classes in the same order (by their least value, as the sweep meets them) as the
 * full sweep; null when no large set stands apart or the domain is not one range of doubles.
 */
function sweepApart(sets: readonly IntervalSet[], dom: IntervalSet): SweepResult | null {
  if (dom.rangeCount !== 1 || dom.max > 2n ** 52n) return null;
  // Small sets built from BigInts are read as doubles (exact: the domain fits them).
  const bounds = sets.map((s) => s.numbers() ?? Float64Array.from(s.bounds, Number));
  const large = sets.map((s) => s.rangeCount >= RUN_RANGES);
  const apart = sets.map(
    (_, k) =>
      large[k]! &&
      bounds.every(
        (other, o) => o === k || (large[o] ? !boundsMeet(bounds[k]!, other) : !rangesMeet(other, bounds[k]!)),
      ),
  );
  if (!apart.some(Boolean)) return null;
  const rest = sets.filter((_, k) => !apart[k]);
  const index = sets.map((_, k) => k).filter((k) => !apart[k]);
  const swept = rest.length > 0 ? sweepNumbers(rest, dom) : { groups: [], rest: dom };
  if (!swept) return null;
  const groups = [
    ...swept.groups.map((g) => ({ set: g.set, members: g.members.map((m) => index[m]!) })),
    ...sets.flatMap((set, k) => (apart[k] ? [{ set, members: [k] }] : [])),
  ].sort((a, b) => (a.set.min < b.set.min ? -1 : 1));
  let gaps: ArrayLike<number> = swept.rest.numbers() ?? Float64Array.from(swept.rest.bounds, Number);
  for (let k = 0; k < sets.length; k++) if (apart[k]) gaps = subtractNumbers(gaps, bounds[k]!);
  return { groups, rest: IntervalSet.fromSortedNumbers(gaps) };
}

/** The sweep in BigInts (IPv6 addresses). */
function sweepBigints(sets: readonly IntervalSet[], dom: IntervalSet): SweepResult {
  const events: { pos: bigint; id: number; start: boolean }[] = [];
  sets.forEach((set, id) => {
    const b = set.bounds;
    for (let i = 0; i < b.length; i += 2) {
      events.push({ pos: b[i]!, id, start: true }, { pos: b[i + 1]! + 1n, id, start: false });
    }
  });
  events.sort((x, y) => (x.pos < y.pos ? -1 : x.pos > y.pos ? 1 : 0));
  const found = new Grouper<bigint, bigint[]>(
    () => [],
    (g, lo, hi) => appendBigints(g, lo, hi),
  );
  const active: number[] = [];
  for (let i = 0; i < events.length;) {
    const pos = events[i]!.pos;
    for (; i < events.length && events[i]!.pos === pos; i++) {
      const e = events[i]!;
      const at = lowerBound(active, e.id);
      if (e.start) insertAt(active, at, e.id);
      else removeAt(active, at);
    }
    if (active.length === 0 || i >= events.length) continue;
    found.add(active, pos, events[i]!.pos - 1n);
  }
  return {
    groups: [...found.groups.values()].map((g) => ({
      set: IntervalSet.fromSortedBounds(g.bounds),
      members: g.members,
    })),
    rest: dom.subtract(IntervalSet.fromSortedBounds(found.covered)),
  };
}

/**
 * A sweep's ranges collected per set of boxes that hold them (in the order first met), and all of them together, in
 * bounds of type B (a growing array of doubles or of bigints).
 */
class Grouper<T extends number | bigint, B> {
  readonly groups = new Map<string, { bounds: B; members: number[] }>();
  readonly covered: B;

  constructor(
    private readonly make: () => B,
    private readonly append: (bounds: B, lo: T, hi: T) => void,
    /** Whether to collect `covered` (a caller that finds the gaps itself needs no list of a million ranges). */
    private readonly collectCovered = true,
  ) {
    this.covered = make();
  }

  /** The group of the last add: a deny list's ranges meet the same few boxes one after another. */
  private last: { bounds: B; members: number[] } | null = null;

  /** [lo, hi] is held by exactly the boxes `active` (ascending). */
  add(active: readonly number[], lo: T, hi: T): void {
    let g = this.last;
    if (!g || !sameMembers(g.members, active)) {
      // A key string per range costs more than the rest of the sweep for a million ranges: only when the boxes change.
      const key = active.join(',');
      let found = this.groups.get(key);
      if (!found) {
        found = { bounds: this.make(), members: [...active] };
        this.groups.set(key, found);
      }
      g = this.last = found;
    }
    this.append(g.bounds, lo, hi);
    if (this.collectCovered) this.append(this.covered, lo, hi);
  }
}

function sameMembers(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

// In place: splice returns a new array each call, two million of them for a deny list's sweep.
function insertAt(list: number[], at: number, v: number): void {
  list.push(v);
  for (let i = list.length - 1; i > at; i--) list[i] = list[i - 1]!;
  list[at] = v;
}

function removeAt(list: number[], at: number): void {
  for (let i = at; i < list.length - 1; i++) list[i] = list[i + 1]!;
  list.pop();
}

function lowerBound(list: number[], v: number): number {
  let lo = 0,
    hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (list[mid]! < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function mergeSorted(a: number[], b: number[]): number[] {
  if (b.length === 0) return a;
  if (a.length === 0) return b;
  const out: number[] = [];
  let i = 0,
    j = 0;
  while (i < a.length || j < b.length) {
    if (j >= b.length || (i < a.length && a[i]! < b[j]!)) out.push(a[i++]!);
    else out.push(b[j++]!);
  }
  return out;
}

/**
 * Walks the packets of `within` (default: the whole space of the lists' family), calling `leaf` for every cell with
 * the index of the item of each list that decides it (null: that list's fallback decides). `sameBelow` cuts subtrees
 * where both of two lists hold the same boxes in the same order (only when their fallbacks are alike).
 */
export function walkLists(
  lists: readonly DecisionList[],
  leaf: (box: Box, first: (number | null)[]) => void,
  options: { within?: readonly Box[]; sameBelow?: boolean } = {},
): WalkStats {
  const family = lists[0]!.family;
  if (lists.some((l) => l.family !== family)) throw new Error('a walk compares lists of one family');
  const stats: WalkStats = { nodes: 0, cells: 0 };
  const sigs = new Map<string, number>();
  const sweeps = new Map<string, SweepResult>();
  const starts: Box[] = [];
  for (const shape of universe(family)) {
    for (const w of options.within ?? [shape.box]) {
      const b = intersectBoxes(shape.box, w);
      if (b) starts.push(b);
    }
  }
  for (const start of starts) {
    const w = new Walker(start, lists, leaf, sigs, options.sameBelow ?? false, sweeps);
    w.walk(0, w.load());
    stats.nodes += w.stats.nodes;
    stats.cells += w.stats.cells;
  }
  return stats;
}

/**
 * Walks the whole space of one list's family (or the packets of `within`): every cell with the index of the item
 * that decides it (null: the fallback decides).
 */
export function partition(
  list: DecisionList,
  cell: (box: Box, item: number | null) => void,
  within?: readonly Box[],
): WalkStats {
  return walkLists([list], (box, first) => cell(box, first[0] ?? null), within ? { within } : {});
}

/**
 * Walks the space where two lists of one family may decide differently (or the packets of `within`), and reports
 * every cell where they do, with what decides it before and after. Cells not reported are decided alike (by the same
 * rule, the same way).
 */
export function diffPartition(
  before: DecisionList,
  after: DecisionList,
  changed: (box: Box, before: Decider, after: Decider) => void,
  within?: readonly Box[],
): WalkStats {
  return walkLists(
    [before, after],
    (box, [b, a]) => {
      const db = b === null || b === undefined ? before.fallback : before.items[b]!.decider;
      const da = a === null || a === undefined ? after.fallback : after.items[a]!.decider;
      if (db.key !== da.key) changed(box, db, da);
    },
    // Equal boxes in equal order decide alike only when what decides the rest is alike too.
    { sameBelow: before.fallback.key === after.fallback.key, ...(within ? { within } : {}) },
  );
}

// The partition walk against brute force: random decision lists (a few small boxes and one to three source sets of
// thousands of ranges, swept and remembered across shapes), over the whole space and inside boxes whose address sets are several
// ranges. The cells add up to the region's size, every sampled packet lies in exactly one cell, and that cell's item
// is the first whose boxes hold it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Decider, DecisionItem, DecisionList } from '../../src/traffic/decisions.js';
import { IntervalSet } from '../../src/traffic/interval-set.js';
import { partition } from '../../src/traffic/partition.js';
import { boxHasPoint, F, intersectBoxes, universe, type Box } from '../../src/traffic/space.js';
import { mulberry32, type Rng } from '../support/seeded-random.js';

const SEED = Number(process.env['NOTRACK_SEED'] ?? Date.now() % 1e9);
const ALL_V4 = (1n << 32n) - 1n;

const decider = (i: number): Decider => ({ outcome: 'deny', reason: 'rule', rule: null, failsafe: null, key: `${i}` });

/**
 * Ranges of addresses: `count` disjoint ones of random sizes, inside 10.0.0.0/8 so that boxes overlap, or inside
 * `base`/8 (a large set apart from every other, as a deny list often is, is then a class of its own).
 */
function addresses(rng: Rng, count: number, base = 10n): IntervalSet {
  const ranges: [bigint, bigint][] = [];
  for (let i = 0; i < count; i++) {
    const lo = (base << 24n) + BigInt(Math.floor(rng() * 2 ** 20)) * 16n;
    ranges.push([lo, lo + BigInt(Math.floor(rng() * 64))]);
  }
  return IntervalSet.of(ranges);
}

function randomBox(rng: Rng, big: boolean): Box {
  const shapes = universe(4);
  const box = [...shapes[Math.floor(rng() * shapes.length)]!.box];
  if (big) box[F.src] = addresses(rng, 6000, rng() < 0.5 ? 10n : BigInt(20 + Math.floor(rng() * 3)));
  else {
    if (rng() < 0.7) box[F.src] = addresses(rng, 1 + Math.floor(rng() * 4));
    if (rng() < 0.3) box[F.dst] = addresses(rng, 1);
    if (rng() < 0.3 && !box[F.dport]!.has(65536n))
      box[F.dport] = IntervalSet.range(80n, 80n + BigInt(Math.floor(rng() * 400)));
  }
  return box;
}

function randomList(rng: Rng): DecisionList {
  const items: DecisionItem[] = [];
  const n = 3 + Math.floor(rng() * 12);
  // One to three sets of thousands of ranges: each is merged into the sweep as a sorted run of its own.
  const bigAt = new Set(Array.from({ length: 1 + Math.floor(rng() * 3) }, () => Math.floor(rng() * n)));
  for (let i = 0; i < n; i++) items.push({ decider: decider(i), boxes: [randomBox(rng, bigAt.has(i))] });
  return { family: 4, direction: 'ingress', items, logs: [], fallback: decider(-1), counters: [] };
}

/** A packet of the space: often inside one of the list's boxes, sometimes anywhere. */
function samplePoint(rng: Rng, list: DecisionList, within: readonly Box[] | undefined): bigint[] | null {
  const region = within ?? universe(4).map((s) => s.box);
  const pickIn = (set: IntervalSet): bigint => {
    const ranges = set.ranges();
    const [lo, hi] = ranges[Math.floor(rng() * ranges.length)]!;
    return lo + BigInt(Math.floor(rng() * Number(hi - lo + 1n)));
  };
  const base = region[Math.floor(rng() * region.length)]!;
  const item = list.items[Math.floor(rng() * list.items.length)]!;
  const target = rng() < 0.8 ? (intersectBoxes(base, item.boxes[0]!) ?? base) : base;
  return target.map(pickIn);
}

function check(seed: number, withinRanges: boolean): void {
  const rng = mulberry32(seed);
  const list = randomList(rng);
  const within = withinRanges
    ? universe(4).map((s) => {
        const box = [...s.box];
        box[F.src] = addresses(rng, 3).union(IntervalSet.range(ALL_V4 - 1000n, ALL_V4));
        return box as Box;
      })
    : undefined;
  const cells: { box: Box; item: number | null }[] = [];
  partition(list, (box, item) => cells.push({ box, item }), within);
  // Disjoint cells that cover the region add up to its size exactly (the region's boxes are disjoint shapes).
  const size = (b: Box): bigint => b.reduce((n, set) => n * set.size(), 1n);
  const total = (boxes: readonly Box[]): bigint => boxes.reduce((n, b) => n + size(b), 0n);
  assert.is(total(cells.map((c) => c.box)), total(within ?? universe(4).map((s) => s.box)), `seed ${seed}: sizes`);
  for (let k = 0; k < 3000; k++) {
    const p = samplePoint(rng, list, within);
    if (!p) continue;
    const holders = cells.filter((c) => boxHasPoint(c.box, p));
    const inRegion = (within ?? universe(4).map((s) => s.box)).some((b) => boxHasPoint(b, p));
    if (!inRegion) {
      assert.is(holders.length, 0, `seed ${seed}: a packet outside the walked region lies in no cell`);
      continue;
    }
    assert.is(holders.length, 1, `seed ${seed}: packet ${p.join(',')} lies in exactly one cell`);
    const first = list.items.findIndex((it) => it.boxes.some((b) => boxHasPoint(b, p)));
    assert.is(
      holders[0]!.item,
      first < 0 ? null : first,
      `seed ${seed}: packet ${p.join(',')} decided by the first item`,
    );
  }
}

test('cells of the whole space: disjoint, covering, each decided by the first item that holds it', () => {
  for (let i = 0; i < 6; i++) check(SEED + i, false);
});

test('cells inside boxes whose source addresses are several ranges (the domain is not one range)', () => {
  for (let i = 0; i < 6; i++) check(SEED + 100 + i, true);
});

test.run();

// The interval sets the packet-space engine is built on, checked against plain sets of small numbers.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { IntervalSet } from '../../src/traffic/interval-set.js';
import { mulberry32, type Rng } from '../support/seeded-random.js';

const UNIVERSE = 40;

function randomSet(r: Rng): [IntervalSet, Set<number>] {
  const plain = new Set<number>();
  const ranges: [bigint, bigint][] = [];
  for (let n = Math.floor(r() * 5); n > 0; n--) {
    const lo = Math.floor(r() * UNIVERSE);
    const hi = Math.min(UNIVERSE - 1, lo + Math.floor(r() * 8));
    ranges.push([BigInt(lo), BigInt(hi)]);
    for (let v = lo; v <= hi; v++) plain.add(v);
  }
  return [IntervalSet.of(ranges), plain];
}

const members = (s: IntervalSet): number[] => {
  const out: number[] = [];
  for (let v = 0; v < UNIVERSE; v++) if (s.has(BigInt(v))) out.push(v);
  return out;
};
const sorted = (s: Set<number>): number[] => [...s].sort((a, b) => a - b);

test('intersection, union, difference, containment and overlap agree with plain sets on 2,000 random pairs', () => {
  const r = mulberry32(7);
  for (let i = 0; i < 2000; i++) {
    const [a, pa] = randomSet(r);
    const [b, pb] = randomSet(r);
    assert.equal(members(a.intersect(b)), sorted(new Set([...pa].filter((v) => pb.has(v)))));
    assert.equal(members(a.union(b)), sorted(new Set([...pa, ...pb])));
    assert.equal(members(a.subtract(b)), sorted(new Set([...pa].filter((v) => !pb.has(v)))));
    assert.is(
      a.contains(b),
      [...pb].every((v) => pa.has(v)),
    );
    assert.is(
      a.meets(b),
      [...pb].some((v) => pa.has(v)),
    );
    assert.is(a.size(), BigInt(pa.size));
    // Canonical: equal content, equal key, whatever the ranges written.
    assert.is(a.union(b).key, b.union(a).key);
  }
});

test('a set built from doubles answers as the same set built from bigints, in every operation and either order', () => {
  const r = mulberry32(11);
  const asNumbers = (s: IntervalSet): IntervalSet =>
    IntervalSet.fromSortedNumbers(Float64Array.from(s.bounds, (v) => Number(v)));
  for (let i = 0; i < 1000; i++) {
    const [a] = randomSet(r);
    const [b] = randomSet(r);
    const [na, nb] = [asNumbers(a), asNumbers(b)];
    assert.is(na.isEmpty, a.isEmpty);
    assert.is(na.rangeCount, a.rangeCount);
    if (!a.isEmpty) assert.equal([na.min, na.max], [a.min, a.max]);
    for (const [x, y] of [
      [na, b],
      [a, nb],
      [na, nb],
    ] as const) {
      assert.is(x.intersect(y).key, a.intersect(b).key);
      assert.is(x.subtract(y).key, a.subtract(b).key);
      assert.is(x.union(y).key, a.union(b).key);
      assert.is(x.equals(y), a.equals(b));
      assert.is(x.contains(y), a.contains(b));
      assert.is(x.meets(y), a.meets(b));
    }
    assert.equal(members(na), members(a));
    assert.is(na.size(), a.size());
    assert.ok(na.equals(a) && a.equals(na));
  }
});

test('ranges that touch merge into one, so equal sets have one form', () => {
  const s = IntervalSet.of([
    [5n, 9n],
    [0n, 4n],
    [11n, 12n],
  ]);
  assert.equal(s.ranges(), [
    [0n, 9n],
    [11n, 12n],
  ]);
  assert.ok(IntervalSet.range(3n, 2n).isEmpty);
});

test.run();

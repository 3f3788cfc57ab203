// The numeric prefix index against the BigInt IntervalSet it stands in for: random prefix lists of every length,
// nested, overlapping, unsorted and repeated, IPv4 and IPv6; every question the traffic engine asks of it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseCidr, type IpFamily } from '../../src/net/cidr.js';
import { IntervalSet } from '../../src/traffic/interval-set.js';
import {
  changedMemberRanges,
  changedMembers,
  indexCidrs,
  indexPacked,
  indexPrefixTexts,
} from '../../src/traffic/prefix-index.js';
import { packedTexts, packTexts } from '../../src/compile/packed-prefixes.js';
import { addressText } from '../../src/traffic/space.js';
import { mulberry32, type Rng } from '../support/seeded-random.js';

const SEED = process.env.NOTRACK_SEED !== undefined ? Number(process.env.NOTRACK_SEED) : Date.now() % 1_000_000_007;

const int = (r: Rng, lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));

/** A random address near a few centres, so prefixes nest and overlap often. */
function randomPrefix(r: Rng, family: IpFamily): string {
  const bits = family === 4 ? 32 : 128;
  const centre = BigInt(int(r, 0, 3)) << BigInt(bits - 3);
  const offset = BigInt(int(r, 0, 0xffff)) << BigInt(int(r, 0, bits - 16));
  const length = r() < 0.3 ? int(r, 0, bits) : int(r, bits - 12, bits);
  const mask = ((1n << BigInt(bits)) - 1n) ^ ((1n << BigInt(bits - length)) - 1n);
  const addr = (centre | offset) & ((1n << BigInt(bits)) - 1n);
  return `${addressText(family, addr & mask)}/${length}`;
}

/** The reference: each prefix as a BigInt range, merged by IntervalSet. */
function reference(family: IpFamily, texts: readonly string[]): IntervalSet {
  const bits = family === 4 ? 32 : 128;
  const ranges: [bigint, bigint][] = [];
  for (const t of texts) {
    const c = parseCidr(t)!;
    let start = 0n;
    for (const b of c.addr) start = (start << 8n) | BigInt(b);
    ranges.push([start, start + (1n << BigInt(bits - c.prefix)) - 1n]);
  }
  return IntervalSet.of(ranges);
}

function randomFocus(r: Rng, family: IpFamily): IntervalSet {
  const lists = Array.from({ length: int(r, 1, 4) }, () => randomPrefix(r, family));
  return reference(family, lists);
}

test(`ranges, size, within and containsAll equal the BigInt sets' (seed ${SEED})`, () => {
  const r = mulberry32(SEED);
  for (let round = 0; round < 300; round++) {
    const family: IpFamily = round % 3 === 2 ? 6 : 4;
    const texts = Array.from({ length: int(r, 0, 60) }, () => randomPrefix(r, family));
    if (r() < 0.3 && texts.length) texts.push(texts[0]!); // repeated
    const where = `seed ${SEED}, round ${round}: ${texts.join(' ')}`;
    const want = reference(family, texts);
    for (const index of [
      indexPrefixTexts(family, texts),
      indexCidrs(
        family,
        texts.map((t) => parseCidr(t)!),
      ),
    ]) {
      assert.ok(index.ranges().equals(want), where);
      assert.is(index.size(), want.size(), where);
      for (let q = 0; q < 5; q++) {
        const focus = randomFocus(r, family);
        assert.ok(index.within(focus).equals(want.intersect(focus)), `${where} within ${focus.key}`);
        assert.is(index.containsAll(focus), want.contains(focus), `${where} contains ${focus.key}`);
      }
    }
  }
});

test(`changed members are exactly the members in one list only, and cover every address the lists disagree on (seed ${SEED})`, () => {
  const r = mulberry32(SEED + 1);
  for (let round = 0; round < 300; round++) {
    const family: IpFamily = round % 3 === 2 ? 6 : 4;
    // Canonical lists as the compiler writes them: the sets' texts are sorted and unique there, here any order.
    const base = [...new Set(Array.from({ length: int(r, 0, 40) }, () => randomPrefix(r, family)))];
    const head = base.filter(() => r() > 0.1);
    for (let i = int(r, 0, 3); i > 0; i--) head.push(randomPrefix(r, family));
    const where = `seed ${SEED}, round ${round}`;
    const [b, h] = [indexPrefixTexts(family, base), indexPrefixTexts(family, head)];
    const { added, removed } = changedMembers(b, h);
    const canon = (t: string) => reference(family, [t]).key;
    const inBase = new Set(base.map(canon)),
      inHead = new Set(head.map(canon));
    assert.equal(new Set(added.map(canon)), new Set([...inHead].filter((k) => !inBase.has(k))), where);
    assert.equal(new Set(removed.map(canon)), new Set([...inBase].filter((k) => !inHead.has(k))), where);
    const disagree = reference(family, base)
      .subtract(reference(family, head))
      .union(reference(family, head).subtract(reference(family, base)));
    assert.ok(changedMemberRanges(b, h).contains(disagree), where);
  }
});

test(`a packed list indexes as its text does, in both families (seed ${SEED})`, () => {
  const r = mulberry32(SEED + 3);
  for (let i = 0; i < 100; i++) {
    for (const family of [4, 6] as const) {
      const texts = Array.from({ length: int(r, 0, 40) }, () => randomPrefix(r, family));
      // A packed list is canonical (nested members dropped): the same addresses, and the members of its own text.
      const list = packTexts(family, texts);
      const [packed, text] = [indexPacked(list), indexPrefixTexts(family, packedTexts(list))];
      assert.is(packed.ranges().key, reference(family, texts).key);
      assert.equal(changedMembers(packed, text), { added: [], removed: [] });
      assert.is(packed.size(), text.size());
      // A fresh index answers `within` from its members where they meet the focus (adjacent members are one range).
      for (let q = 0; q < 5; q++) {
        const fresh = indexPacked(list);
        const focus = randomFocus(r, family);
        const want = reference(family, texts);
        assert.ok(fresh.within(focus).equals(want.intersect(focus)), `within ${focus.key} of ${texts.join(' ')}`);
        assert.is(fresh.containsAll(focus), want.contains(focus));
      }
      // Two packed revisions: the changed members' addresses hold every address they disagree on.
      const other = packTexts(family, [...packedTexts(list).filter(() => r() > 0.2), randomPrefix(r, family)]);
      const disagree = reference(family, packedTexts(list))
        .subtract(reference(family, packedTexts(other)))
        .union(reference(family, packedTexts(other)).subtract(reference(family, packedTexts(list))));
      assert.ok(changedMemberRanges(indexPacked(list), indexPacked(other)).contains(disagree));
    }
  }
});

test(`a packed list out of canonical order (nested, unsorted) is indexed by its addresses all the same (seed ${SEED})`, () => {
  const r = mulberry32(SEED + 4);
  for (let i = 0; i < 100; i++) {
    const texts = Array.from({ length: int(r, 1, 40) }, () => randomPrefix(r, 4));
    const cidrs = texts.map((t) => parseCidr(t)!);
    const list = {
      family: 4 as const,
      count: cidrs.length,
      words: Uint32Array.from(
        cidrs,
        (c) => ((c.addr[0]! << 24) | (c.addr[1]! << 16) | (c.addr[2]! << 8) | c.addr[3]!) >>> 0,
      ),
      lens: Uint8Array.from(cidrs, (c) => c.prefix),
    };
    const index = indexPacked(list);
    const want = reference(4, texts);
    assert.is(index.ranges().key, want.key, texts.join(' '));
    const focus = randomFocus(r, 4);
    assert.ok(indexPacked(list).within(focus).equals(want.intersect(focus)), texts.join(' '));
  }
});

test('a one-member change of a 200,000-member list is found as that member', () => {
  const quad = (n: number) => `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
  const base = Array.from({ length: 200_000 }, (_, i) => `${quad((32 << 24) + i * 5)}/32`);
  const head = base.map((t, i) => (i === 777 ? '36.1.2.3/32' : t));
  const { added, removed } = changedMembers(indexPrefixTexts(4, base), indexPrefixTexts(4, head));
  assert.equal(added, ['36.1.2.3/32']);
  assert.equal(removed, [base[777]!]);
});

test.run();

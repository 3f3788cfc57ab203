// The packed form of a set's prefixes gives what the text path gave: the same canonical text and the same set id for
// random sets (IPv4 and IPv6, duplicates, nested prefixes, host bits), and survives its stored encoding.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { cidrContains, formatCidr, parseCidr, type Cidr, type IpFamily } from '../../src/net/cidr.js';
import { decodePacked, encodePacked, packCidrs, packedTexts, v4Order } from '../../src/compile/packed-prefixes.js';
import { PackedPrefixSet, packedMembers } from '../../src/compile/prefix-set.js';
import { prefixSetId, SetTable } from '../../src/compile/sets.js';
import { desiredStateHash } from '../../src/compile/hash.js';
import type { DesiredState } from '../../src/compile/desired-state.js';
import { mulberry32 } from '../support/seeded-random.js';

/** Random CIDRs around a few anchors: nested, overlapping, duplicated, host bits set, both families mixed. */
function randomCidrs(rnd: () => number, n: number): Cidr[] {
  const anchors4 = Array.from({ length: 3 }, () => Math.floor(rnd() * 2 ** 32));
  const anchors6 = Array.from({ length: 3 }, () => Array.from({ length: 16 }, () => Math.floor(rnd() * 256)));
  const out: Cidr[] = [];
  for (let i = 0; i < n; i++) {
    if (i > 0 && rnd() < 0.1) {
      out.push(out[Math.floor(rnd() * out.length)]!); // a duplicate
      continue;
    }
    let text: string;
    if (rnd() < 0.7) {
      const a = (anchors4[Math.floor(rnd() * 3)]! ^ Math.floor(rnd() * 2 ** Math.floor(rnd() * 33))) >>> 0;
      text = `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}/${Math.floor(rnd() * 33)}`;
    } else {
      const b = [...anchors6[Math.floor(rnd() * 3)]!];
      for (let k = 8 + Math.floor(rnd() * 8); k < 16; k++) b[k] = Math.floor(rnd() * 256);
      const groups = Array.from({ length: 8 }, (_, g) => ((b[2 * g]! << 8) | b[2 * g + 1]!).toString(16));
      text = `${groups.join(':')}/${Math.floor(rnd() * 129)}`;
    }
    out.push(parseCidr(text)!); // parseCidr clears host bits, as the model's nets are
  }
  return out;
}

/** The text path as it was: sort by address then length, drop what an earlier prefix contains, format each. */
function canonicalByText(cidrs: readonly Cidr[], family: IpFamily): string[] {
  const key = (c: Cidr): bigint => c.addr.reduce((n, b) => (n << 8n) | BigInt(b), 0n);
  const list = cidrs.filter((c) => c.family === family);
  list.sort((x, y) => (key(x) < key(y) ? -1 : key(x) > key(y) ? 1 : x.prefix - y.prefix));
  const kept: Cidr[] = [];
  for (const c of list) if (!kept.some((k) => cidrContains(k, c))) kept.push(c);
  return kept.map(formatCidr);
}

test('random sets: the packed form gives the text path’s canonical text and the same set id', () => {
  for (let seed = 1; seed <= 150; seed++) {
    const rnd = mulberry32(seed);
    const cidrs = randomCidrs(rnd, 1 + Math.floor(rnd() * 120));
    for (const family of [4, 6] as const) {
      const expected = canonicalByText(cidrs, family);
      const packed = packCidrs(cidrs, family);
      assert.equal(packedTexts(packed), expected, `seed ${seed}, IPv${family}`);
      const set = PackedPrefixSet.of(packed, 'o');
      assert.is(set.id, prefixSetId(family, expected), `seed ${seed}, IPv${family}: the id of the text path`);
      assert.is(
        set.digest,
        createHash('sha256')
          .update(`ipv${family}\n${expected.join('\n')}`)
          .digest('hex'),
        `seed ${seed}: the digest is the sha256 of the canonical text`,
      );
      assert.equal(set.prefixes, expected, 'the lazy text equals it too');
      const back = decodePacked(family, encodePacked(packed));
      assert.equal(packedTexts(back), expected, `seed ${seed}, IPv${family}: the stored encoding round-trips`);
    }
  }
});

test('sweep order: lists of one to forty sorted runs (merged or radix sorted) and shuffled lists, ties kept in input order', () => {
  const r = mulberry32(4242);
  for (let round = 0; round < 60; round++) {
    const runs = 1 + Math.floor(r() * 40);
    const words: number[] = [];
    const lens: number[] = [];
    for (let k = 0; k < runs; k++) {
      // A sorted run with duplicates and equal addresses of several lengths, from a few anchors (runs overlap).
      const run = Array.from({ length: Math.floor(r() * 300) }, () => {
        const len = r() < 0.3 ? 32 : Math.floor(r() * 33);
        const a = ((Math.floor(r() * 4) << 30) | (Math.floor(r() * 64) << 8)) >>> 0;
        return [len === 0 ? 0 : ((a >>> (32 - len)) << (32 - len)) >>> 0, len] as const;
      }).sort((x, y) => x[0] - y[0] || x[1] - y[1]);
      for (const [w, l] of run) {
        words.push(w);
        lens.push(l);
      }
    }
    if (round % 3 === 0) {
      for (let i = words.length - 1; i > 0; i--) {
        const j = Math.floor(r() * (i + 1));
        [words[i], words[j], lens[i], lens[j]] = [words[j]!, words[i]!, lens[j]!, lens[i]!];
      }
    }
    const expected = words.map((_, i) => i).sort((a, b) => words[a]! - words[b]! || lens[a]! - lens[b]! || a - b);
    const order = v4Order(Uint32Array.from(words), Uint8Array.from(lens), words.length);
    assert.equal(order ? [...order] : expected.map((_, i) => i), expected, `round ${round}, ${runs} runs`);
  }
});

test('edge prefixes: /0, /32 and /128, the top of the address space, an empty set', () => {
  const cidrs = ['255.255.255.255/32', '0.0.0.0/0', '255.255.255.0/24', 'ffff::/16', '::/0', '::1/128'].map((t) =>
    parseCidr(t)!,
  );
  assert.equal(packedTexts(packCidrs(cidrs, 4)), ['0.0.0.0/0']);
  assert.equal(packedTexts(packCidrs(cidrs, 6)), ['::/0']);
  const top = ['255.255.255.255/32', '255.255.255.254/31', '1.2.3.4/32'].map((t) => parseCidr(t)!);
  assert.equal(packedTexts(packCidrs(top, 4)), ['1.2.3.4/32', '255.255.255.254/31']);
  const empty = packCidrs([], 4);
  assert.is(empty.count, 0);
  assert.is(PackedPrefixSet.of(empty, 'o').id, prefixSetId(4, []));
  assert.equal(decodePacked(4, encodePacked(empty)).count, 0);
});

test('a stored encoding that is torn, out of order, nested or has host bits is refused', () => {
  const enc = (rows: number[][]): string => Buffer.from(rows.flat()).toString('base64');
  assert.throws(
    () =>
      decodePacked(
        4,
        enc([
          [10, 0, 0, 0, 8],
          [11, 0, 0],
        ]),
      ),
    /whole number/,
  );
  assert.throws(
    () =>
      decodePacked(
        4,
        enc([
          [11, 0, 0, 0, 8],
          [10, 0, 0, 0, 8],
        ]),
      ),
    /not canonical/,
  );
  assert.throws(
    () =>
      decodePacked(
        4,
        enc([
          [10, 0, 0, 0, 8],
          [10, 1, 0, 0, 16],
        ]),
      ),
    /not canonical/,
  );
  assert.throws(() => decodePacked(4, enc([[10, 0, 0, 1, 24]])), /not canonical/);
  assert.throws(() => decodePacked(4, enc([[10, 0, 0, 0, 33]])), /length 33/);
});

test('a plain PrefixSet (text only) is packed for the address tables; a selector’s list makes one set per table', () => {
  const plain = { id: prefixSetId(4, ['10.0.0.0/8']), family: 4 as const, prefixes: ['10.0.0.0/8'], origin: 'o' };
  assert.equal(packedTexts(packedMembers(plain)), ['10.0.0.0/8']);
  const list = packCidrs([parseCidr('192.0.2.0/24')!], 4);
  const a = new SetTable();
  const id = a.add(list, 'first user');
  assert.is(a.add(list, 'second user'), id);
  const b = new SetTable();
  assert.is(b.add(list, 'other host'), id);
  assert.is(a.get(id).origin, 'first user');
  assert.is(b.get(id).origin, 'other host', 'each table describes the set by its own first user');
});

test('the state hash covers the members: a one-prefix change changes it, equal content gives equal hashes', () => {
  const stateWith = (texts: string[]): DesiredState => {
    const set = PackedPrefixSet.of(
      packCidrs(
        texts.map((t) => parseCidr(t)!),
        4,
      ),
      'o',
    );
    return {
      formatVersion: 1,
      host: 'h',
      hash: '',
      sets: { [set.id]: set },
      interfaces: [],
    } as unknown as DesiredState;
  };
  const base = Array.from({ length: 1000 }, (_, i) => `10.${i >> 8}.${i & 255}.0/24`);
  const changed = [...base.slice(0, 999), '11.0.0.0/24'];
  assert.is(desiredStateHash(stateWith(base)), desiredStateHash(stateWith([...base].reverse())));
  assert.is.not(desiredStateHash(stateWith(base)), desiredStateHash(stateWith(changed)));
});

test.run();

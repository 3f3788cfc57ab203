// The IPv6 address table (per-length hash searched by binary search on lengths) against brute-force longest-prefix
// match, and the classifier's IPv6 maps.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { DesiredState, IngressEntry } from '../../src/compile/desired-state.js';
import { evaluatePacket } from '../../src/compile/evaluate.js';
import { buildClassifier, TERMINAL } from '../../src/compile/program/classifier.js';
import { ENTRY_COUNTER_MASK } from '../../src/compile/program/entry-word.js';
import {
  buildLengthTable,
  lengthIndex,
  lengthLookup,
  treeDepth,
  LENGTH_KEY_BYTES,
  type LengthTable,
} from '../../src/compile/program/ipv6-lengths.js';
import { policyMapContents, policyMaps } from '../../src/compile/program/maps.js';
import { mulberry32, type Rng } from '../support/seeded-random.js';
import {
  ingressEntry,
  ingressState,
  IPV6_ALL,
  ipv6Bytes,
  ipv6Mask,
  ipv6Text,
  randomBits,
  sideMatch,
} from '../support/ipv6-policy.js';

type Prefix = [value: bigint, len: number];

const ALL = IPV6_ALL;
const mask = ipv6Mask;
const randomBig = randomBits;
const bytesOf = ipv6Bytes;
const text = ipv6Text;

function lpmKeys(prefixes: Prefix[]): Buffer {
  const keys = Buffer.alloc(prefixes.length * LENGTH_KEY_BYTES);
  prefixes.forEach(([net, len], i) => {
    keys.writeUInt32LE(len, i * LENGTH_KEY_BYTES);
    Buffer.from(bytesOf(net)).copy(keys, i * LENGTH_KEY_BYTES + 4);
  });
  return keys;
}

function bruteLpm(prefixes: Prefix[], values: number[], addr: bigint, miss: number): number {
  let best = -1;
  let value = miss;
  prefixes.forEach(([net, len], i) => {
    if (len >= best && (addr & mask(len)) === net) {
      best = len;
      value = values[i]!;
    }
  });
  return value;
}

const ANCHORS: Prefix[] = [
  [0x20010db8n << 96n, 32],
  [0xfd00n << 112n, 16],
  [(0x20010db8n << 96n) | (0xabcdn << 64n), 64],
];

/** Random prefixes of every length 0..128, most nested in or overlapping the anchors, each length present. */
function randomPrefixes(r: Rng, n: number): Prefix[] {
  const seen = new Set<string>();
  const out: Prefix[] = [];
  const add = (net: bigint, len: number): void => {
    const key = `${net}/${len}`;
    if (!seen.has(key)) {
      seen.add(key);
      out.push([net, len]);
    }
  };
  // One chain of nested prefixes of every length along one address.
  const spine = randomBig(r, 128);
  for (let len = 0; len <= 128; len++) add(spine & mask(len), len);
  while (out.length < n) {
    const len = Math.floor(r() * 129);
    const [anchor, alen] = ANCHORS[Math.floor(r() * ANCHORS.length)]!;
    const base = r() < 0.85 ? anchor | (randomBig(r, 128) & ~mask(alen)) : randomBig(r, 128);
    add(base & mask(len), len);
  }
  return out;
}

function check(t: LengthTable, prefixes: Prefix[], values: number[], addrs: bigint[], miss: number, what: string) {
  const index = lengthIndex(t);
  for (const a of addrs) {
    assert.is(lengthLookup(t, bytesOf(a), index), bruteLpm(prefixes, values, a, miss), `${what}: ${text(a)}`);
  }
}

/** Addresses at the edges of and inside random prefixes, and anywhere. */
function aimAt(r: Rng, prefixes: Prefix[], n: number): bigint[] {
  const out: bigint[] = [];
  for (let k = 0; k < n; k++) {
    const [net, len] = prefixes[Math.floor(r() * prefixes.length)]!;
    const size = 1n << BigInt(128 - len);
    const picks = [net, net + size - 1n, net - 1n, net + size, net + randomBig(r, 128 - len), randomBig(r, 128)];
    out.push(picks[Math.floor(r() * picks.length)]! & ALL);
  }
  return out;
}

test('IPv6 table: every address finds the value of its longest prefix (random prefixes of every length 0..128, nested)', () => {
  for (let seed = 1; seed <= 6; seed++) {
    const r = mulberry32(seed);
    const prefixes = randomPrefixes(r, 150 + seed * 60);
    const values = prefixes.map((_, i) => (seed % 2 === 0 && i % 3 === 0 ? (TERMINAL | i) >>> 0 : i + 1));
    const t = buildLengthTable({ keys: lpmKeys(prefixes), values, count: prefixes.length, missValue: 0 });
    assert.is(t.tree.length, 129, 'every length 0..128 is a node');
    assert.ok(treeDepth(t.tree) <= 9, `a lookup makes at most 9 probes for 129 lengths, not ${treeDepth(t.tree)}`);
    assert.is(t.count - t.markers, prefixes.length, 'one element per prefix');
    check(t, prefixes, values, aimAt(r, prefixes, 4000), 0, `seed ${seed}`);
  }
});

test('IPv6 table: scattered prefixes of uniformly random lengths: markers outnumber prefixes, lookups stay exact', () => {
  const r = mulberry32(9);
  const prefixes: Prefix[] = [];
  const seen = new Set<string>();
  while (prefixes.length < 1500) {
    const len = 1 + Math.floor(r() * 128);
    const v = randomBig(r, 128) & mask(len);
    if (!seen.has(`${v}/${len}`)) prefixes.push([v, len]);
    seen.add(`${v}/${len}`);
  }
  const values = prefixes.map((_, i) => i + 1);
  const t = buildLengthTable({ keys: lpmKeys(prefixes), values, count: prefixes.length, missValue: 0 });
  assert.ok(t.markers > prefixes.length, `${t.markers} markers for ${prefixes.length} prefixes`);
  check(t, prefixes, values, aimAt(r, prefixes, 800), 0, 'scattered');
});

test('IPv6 table: edge cases: ::/0, /128 hosts, prefixes that differ only in the last bit, many in one /64', () => {
  const base = (0x20010db8n << 96n) | (0x1234n << 64n);
  const prefixes: Prefix[] = [
    [0n, 0],
    [base, 64],
    [base | 0x10n, 127],
    [base | 0x10n, 128],
    [base | 0x11n, 128],
    [base | 0x12n, 128],
    [ALL, 128],
    [0n, 128],
  ];
  // And 500 hosts and 100 /96../120 nets in that /64.
  const r = mulberry32(77);
  const seen = new Set(prefixes.map(([v, l]) => `${v}/${l}`));
  while (prefixes.length < 608) {
    const len = prefixes.length < 508 ? 128 : 96 + Math.floor(r() * 25);
    const p: Prefix = [(base | randomBig(r, 64)) & mask(len), len];
    if (!seen.has(`${p[0]}/${p[1]}`)) prefixes.push(p);
    seen.add(`${p[0]}/${p[1]}`);
  }
  const values = prefixes.map((_, i) => 100 + i);
  const t = buildLengthTable({ keys: lpmKeys(prefixes), values, count: prefixes.length, missValue: 9 });
  const index = lengthIndex(t);
  const at = (a: bigint): number => lengthLookup(t, bytesOf(a), index);
  assert.is(at(0x30000000n << 96n), 100, 'outside every other prefix: ::/0');
  assert.is(at(base | 0xffffn), 101, 'in the /64 only');
  assert.is(at(base | 0x10n), 103, '/128 ::10');
  assert.is(at(base | 0x11n), 104, '/128 ::11, next to ::10: the last bit tells them apart');
  assert.is(at(base | 0x12n), 105);
  assert.is(at(ALL), 106, 'the last address');
  assert.is(at(0n), 107, 'the first address');
  check(t, prefixes, values, aimAt(r, prefixes, 3000), 9, 'one crowded /64');
  const lone = buildLengthTable({ keys: lpmKeys([[0n, 0]]), values: [5], count: 1, missValue: 9 });
  assert.is(lengthLookup(lone, bytesOf(ALL)), 5, '::/0 alone holds every address');
  const none = buildLengthTable({ keys: Buffer.alloc(0), values: [], count: 0, missValue: 9 });
  assert.equal([none.tree.length, lengthLookup(none, bytesOf(1n))], [0, 9], 'no prefix: every address misses');
});

test('IPv6 table: the last of equal prefixes wins, and host bits in a key are ignored', () => {
  const net = 0x20010db8n << 96n;
  const t = buildLengthTable({
    keys: lpmKeys([
      [net, 32],
      [net | 0xffn, 32],
      [net | 5n, 128],
    ]),
    values: [1, 2, 3],
    count: 3,
    missValue: 0,
  });
  assert.is(lengthLookup(t, bytesOf(net | 7n)), 2);
  assert.is(lengthLookup(t, bytesOf(net | 5n)), 3);
  assert.is(t.count, 2, 'one element per distinct prefix (the /32 is the root; /128 needs no marker)');
});

test('IPv6 table: 100,000 /128 hosts and 10,000 /48 nets: one probe for a host, two for a net, no marker', () => {
  const r = mulberry32(3);
  const seen = new Set<bigint>();
  const prefixes: Prefix[] = [];
  const anchor = 0x20010db8n << 96n;
  while (prefixes.length < 110_000) {
    const len = prefixes.length < 100_000 ? 128 : 48;
    const v = (anchor | (randomBig(r, 96) & mask(len))) & mask(len);
    if (seen.has(v)) continue;
    seen.add(v);
    prefixes.push([v, len]);
  }
  const values = prefixes.map((_, i) => (i < 100_000 ? 1 : 2));
  const t = buildLengthTable({ keys: lpmKeys(prefixes), values, count: prefixes.length, missValue: 0 });
  assert.is(treeDepth(t.tree), 2);
  assert.is(t.tree[0]!.len, 128, 'the hosts, nine in ten prefixes, are at the root: one probe each');
  assert.is(t.markers, 0, 'and leave no marker (the /48s are shorter than the root)');
  assert.is(t.count - t.markers, 110_000);
  const sample = prefixes.filter((_, i) => i % 97 === 0);
  check(
    t,
    sample,
    sample.map((p) => (p[1] === 128 ? 1 : 2)),
    sample.map(([v]) => v),
    0,
    'hosts and nets',
  );
});

// ---------------------------------------------------------------------------------------------------------------
// The classifier's IPv6 maps

const side = sideMatch;
const entry = ingressEntry;
const stateOf = (entries: IngressEntry[], sets: Record<string, string[]>): DesiredState =>
  ingressState({ family: 6, entries, sets });

test('IPv6 classifier: a source deny list is one hash map of prefixes and markers, decided by one lookup', () => {
  const r = mulberry32(11);
  const v6: IngressEntry[] = [];
  const sets: Record<string, string[]> = {};
  const prefixes = randomPrefixes(r, 400);
  for (let i = 0; i < 300; i++) {
    const [net, len] = prefixes[Math.floor(r() * prefixes.length)]!;
    sets[`n${i}`] = [`${text(net)}/${len}`];
    const action = (['Allow', 'Deny', 'Pass'] as const)[i % 3]!;
    v6.push(entry(i, { action, source: side({ inSets: [`n${i}`] }) }));
  }
  v6.push(entry(300, { action: 'Allow', protocol: 17, destination: side({ ports: [{ from: 53, to: 53 }] }) }));
  const state = stateOf(v6, sets);
  const c = buildClassifier(state, 'eth0', 6);
  const src = c.fields.find((f) => f.name === 'saddr')!;
  assert.is(src.map.kind, 'lengths');
  if (src.map.kind !== 'lengths') return;
  const specs = policyMaps(c);
  const spec = specs.find((m) => m.name === 'ntp6_src')!;
  assert.equal([spec.keySize, spec.valueSize, spec.maxEntries], [LENGTH_KEY_BYTES, 4, src.map.count]);
  const contents = policyMapContents(c, 'saddr');
  assert.is(contents.kind, 'hash');
  assert.is(contents.count, src.map.count);
  const index = lengthIndex(src.map);
  let decided = 0;
  for (const a of aimAt(r, prefixes, 3000)) {
    const v = lengthLookup(src.map, bytesOf(a), index);
    if (!(v & TERMINAL)) continue;
    decided++;
    const want = evaluatePacket(state, 'eth0', { family: 6, protocol: 6, src: text(a), dst: '2001:db8::1' });
    assert.is((v & ~TERMINAL & ENTRY_COUNTER_MASK) >>> 0, want.counter, text(a));
  }
  assert.ok(decided > 500, `${decided} packets decided by the source lookup`);
});

test('IPv6 classifier: the LPM trie stays available (ipv6Table: lpm) for the benchmark', () => {
  const state = stateOf([entry(0, { source: side({ inSets: ['a'] }) })], { a: ['2001:db8::/32'] });
  const c = buildClassifier(state, 'eth0', 6, { ipv6Table: 'lpm' });
  assert.is(c.fields[0]!.map.kind, 'lpm');
  assert.is(policyMaps(c).find((m) => m.name === 'ntp6_src')!.type, 11, 'BPF_MAP_TYPE_LPM_TRIE');
});

test.run();

// The IPv4 DIR-16-8-8 table and the one-lookup decisions (TERMINAL) against brute force and the reference evaluator.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { DesiredState, IngressEntry, PrefixSet, SideMatch } from '../../src/compile/desired-state.js';
import { evaluatePacket } from '../../src/compile/evaluate.js';
import { buildClassifier, TERMINAL, type Classifier } from '../../src/compile/program/classifier.js';
import {
  buildStrideTable,
  strideLookup,
  STRIDE_BITMAP,
  STRIDE_BITMAP_BYTES,
  STRIDE_GROUP,
  STRIDE_GROUP_BYTES,
  STRIDE_WIDE_BYTES,
} from '../../src/compile/program/ipv4-stride.js';
import { ENTRY_COUNTER_MASK } from '../../src/compile/program/entry-word.js';
import { policyMapContents, policyMaps } from '../../src/compile/program/maps.js';
import { mulberry32, type Rng } from '../support/seeded-random.js';
import { buildAddressTable } from '../../src/compile/program/address-classes.js';
import { RecordTable, vectorShape } from '../../src/compile/program/records.js';
import { packTexts } from '../../src/compile/packed-prefixes.js';

const quad = (n: number): string => `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
const mask = (len: number): number => (len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0);

/** Random prefixes of every length 0..32, many nested in or overlapping a few anchors. */
function randomPrefixes(r: Rng, n: number): [number, number][] {
  const anchors = [0x0a000000, 0xc0a80000, 0xc6120000, 0x64400000];
  const seen = new Set<string>();
  const out: [number, number][] = [];
  while (out.length < n) {
    const len = Math.floor(r() * 33);
    const base = r() < 0.8 ? anchors[Math.floor(r() * anchors.length)]! : Math.floor(r() * 2 ** 32);
    const noise = Math.floor(r() * 2 ** 32) & ~mask(Math.min(len, 12));
    const net = ((base | noise) & mask(len)) >>> 0;
    const key = `${net}/${len}`;
    if (!seen.has(key)) {
      seen.add(key);
      out.push([net, len]);
    }
  }
  return out;
}

function lpmKeys(prefixes: [number, number][]): Buffer {
  const keys = Buffer.alloc(prefixes.length * 8);
  prefixes.forEach(([net, len], i) => {
    keys.writeUInt32LE(len, i * 8);
    keys.writeUInt32BE(net, i * 8 + 4);
  });
  return keys;
}

/** Longest-prefix match by brute force: the value of the longest prefix holding `addr`, else `miss`. */
function bruteLpm(prefixes: [number, number][], values: number[], addr: number, miss: number): number {
  let best = -1;
  let value = miss;
  prefixes.forEach(([net, len], i) => {
    if (len > best && (addr & mask(len)) >>> 0 === net) {
      best = len;
      value = values[i]!;
    }
  });
  return value;
}

test('IPv4 table: every address finds the value of its longest prefix (random prefixes of every length, nested)', () => {
  let bitmapGroups = 0;
  let fourthOctetGroups = 0;
  for (let seed = 1; seed <= 6; seed++) {
    const r = mulberry32(seed);
    const prefixes = randomPrefixes(r, 40 + seed * 30);
    // And a few /24s crowded with longer prefixes (several values in one fourth-octet group).
    const crowded = new Set(prefixes.map(([net, len]) => `${net}/${len}`));
    for (let k = 0; k < 20; k++) {
      const len = 25 + Math.floor(r() * 8);
      const net = ((0x0a000100 + (k % 3) * 256 + Math.floor(r() * 256)) & mask(len)) >>> 0;
      if (!crowded.has(`${net}/${len}`)) prefixes.push([net, len]);
      crowded.add(`${net}/${len}`);
    }
    const values = prefixes.map((_, i) => i + 1);
    // And a /16 crowded with hosts of one value (a wide bitmap), or, on odd seeds, also one other value in it.
    for (let k = 0; k < 300; k++) {
      prefixes.push([(0x2a2a0000 + k * 211) >>> 0, 32]);
      values.push(seed % 2 === 1 && k === 7 ? 5 : 99);
    }
    const t = buildStrideTable({ keys: lpmKeys(prefixes), values, count: prefixes.length, defaultValue: 0 });
    assert.ok(t.elements > 256, 'prefixes past /16 made groups');
    assert.is(t.wideCount, seed % 2 === 1 ? 0 : 1, 'the crowded /16 with two values is a wide bitmap');
    bitmapGroups += t.bitmapCount;
    // A fourth-octet group (one a third-octet group points to) that stayed 1 KiB holds three values or more.
    const isGroup = (v: number): boolean => v >= STRIDE_GROUP && v < 0x8000_0000;
    for (const root of t.slots.subarray(0, 65536).filter(isGroup)) {
      const third = (root - STRIDE_GROUP) * 256;
      for (const v of t.slots.subarray(third, third + 256).filter(isGroup)) {
        if (v & STRIDE_BITMAP) continue;
        const g = v - STRIDE_GROUP;
        const values = new Set(t.slots.subarray(g * 256, (g + 1) * 256));
        fourthOctetGroups++;
        assert.ok(values.size >= 3, `seed ${seed}: group ${g} has ${values.size} values but is not a bitmap`);
      }
    }
    for (let k = 0; k < 4000; k++) {
      // Aim at prefix edges and inside, and anywhere.
      const [net, len] = prefixes[Math.floor(r() * prefixes.length)]!;
      const size = 2 ** (32 - len);
      const pickOne: number[] = [
        net,
        net + size - 1,
        net - 1,
        net + size,
        net + Math.floor(r() * size),
        Math.floor(r() * 2 ** 32),
      ];
      const addr = pickOne[Math.floor(r() * pickOne.length)]! >>> 0;
      const want = bruteLpm(prefixes, values, addr, 0);
      assert.is(strideLookup(t, addr), want, `seed ${seed}: ${quad(addr)}`);
    }
  }
  assert.ok(bitmapGroups > 0 && fourthOctetGroups > 0, `bitmap ${bitmapGroups}, 1 KiB ${fourthOctetGroups}`);
});

test('IPv4 table: keys in sweep order (as the address classes give them) and in any order build the same table', () => {
  for (let seed = 1; seed <= 6; seed++) {
    const r = mulberry32(seed);
    const prefixes = randomPrefixes(r, 3000);
    for (let k = 0; k < 300; k++) prefixes.push([(0x2a2a0000 + k * 211) >>> 0, 32]);
    const values = prefixes.map((_, i) => 1 + (i % 5));
    const sorted = prefixes
      .map((p, i) => i)
      .sort((a, b) => prefixes[a]![0] - prefixes[b]![0] || prefixes[a]![1] - prefixes[b]![1]);
    const build = (idx: number[]) =>
      buildStrideTable({
        keys: lpmKeys(idx.map((i) => prefixes[i]!)),
        values: idx.map((i) => values[i]!),
        count: idx.length,
        defaultValue: 0,
      });
    const a = build(sorted);
    const b = build([...sorted].reverse());
    assert.equal([a.elements, a.bitmapCount, a.wideCount], [b.elements, b.bitmapCount, b.wideCount], `seed ${seed}`);
    assert.ok(Buffer.from(a.slots.buffer).equals(Buffer.from(b.slots.buffer)), `seed ${seed}: slots`);
    assert.ok(Buffer.from(a.bitmaps.buffer).equals(Buffer.from(b.bitmaps.buffer)), `seed ${seed}: bitmaps`);
    assert.ok(Buffer.from(a.wide.buffer).equals(Buffer.from(b.wide.buffer)), `seed ${seed}: wide bitmaps`);
  }
});

test('IPv4 table: a /8 fills 256 slots of the first table, a /20 16 slots of a group, a /32 one slot of a second group', () => {
  const prefixes: [number, number][] = [
    [0x0a000000, 8],
    [0x0a010000, 20],
    [0x0a010203, 32],
    [0x0a010380, 25],
    [0x0a010381, 32],
  ];
  const t = buildStrideTable({ keys: lpmKeys(prefixes), values: [1, 2, 3, 4, 5], count: 5, defaultValue: 7 });
  assert.is(t.elements, 256 + 2, 'one group for 10.1.0.0/16 (third octet), one for 10.1.3.0/24 (three values)');
  assert.is(t.bitmapCount, 1, '10.1.2.0/24 holds two values: a bitmap group');
  assert.is(t.slots[(t.slots[0x0a01]! - STRIDE_GROUP) * 256 + 2]! & ~0x1fff_ffff, STRIDE_GROUP | STRIDE_BITMAP);
  assert.is(strideLookup(t, 0x0a010380), 4);
  assert.is(strideLookup(t, 0x0a010381), 5);
  assert.is(strideLookup(t, 0x0a01037f), 2);
  assert.is(strideLookup(t, 0x0a020304), 1);
  assert.is(strideLookup(t, 0x0a010f01), 2);
  assert.is(strideLookup(t, 0x0a011001), 1, 'just past the /20');
  assert.is(strideLookup(t, 0x0a010203), 3);
  assert.is(strideLookup(t, 0x0a010204), 2);
  assert.is(strideLookup(t, 0x0b000000), 7, 'under no prefix: the default');
  assert.ok(t.slots[0x0a01]! >= STRIDE_GROUP, 'the /16 slot points to a group');
});

function hostTable(seed: number, n: number): { hosts: Set<number>; t: ReturnType<typeof buildStrideTable> } {
  const r = mulberry32(seed);
  const hosts = new Set<number>();
  while (hosts.size < n) hosts.add((0x20000000 + Math.floor(r() * 2 ** 24)) >>> 0);
  const prefixes = [...hosts].map((h): [number, number] => [h, 32]);
  const t = buildStrideTable({
    keys: lpmKeys(prefixes),
    values: prefixes.map(() => 0x8000_0001),
    count: prefixes.length,
    defaultValue: 3,
  });
  for (const h of [...hosts].slice(0, 5000)) {
    assert.is(strideLookup(t, h), 0x8000_0001, quad(h));
    if (!hosts.has(h + 1)) assert.is(strideLookup(t, h + 1), 3, `${quad(h + 1)}: next to a host`);
  }
  return { hosts, t };
}

test('IPv4 table: 100,000 deny-listed hosts in one /8 take one 8 KiB wide bitmap per /16, not 1 KiB groups', () => {
  const { hosts, t } = hostTable(99, 100_000);
  assert.is(t.elements, 256, 'the first table only');
  assert.is(t.wideCount, 256, 'one wide bitmap per /16 of 32.0.0.0/8');
  assert.is(t.bitmapCount, 0);
  const slash24s = new Set([...hosts].map((h) => h >>> 8)).size;
  const bytes = t.elements * STRIDE_GROUP_BYTES + t.wideCount * STRIDE_WIDE_BYTES;
  const before = (t.elements + 256 + slash24s) * STRIDE_GROUP_BYTES;
  assert.ok(bytes * 20 < before, `${bytes} bytes against ${before} with 1 KiB groups`);
});

test('IPv4 table: 3,000 hosts spread over one /8 take 40-byte bitmap groups under 1 KiB third-octet groups', () => {
  const { hosts, t } = hostTable(98, 3_000);
  const slash24s = new Set([...hosts].map((h) => h >>> 8)).size;
  assert.is(t.wideCount, 0, 'no /16 holds 64 of them');
  assert.is(t.elements, 256 + 256, 'the first table and one third-octet group per /16');
  assert.is(t.bitmapCount, slash24s, 'one bitmap group per /24 holding a host');
  assert.is(STRIDE_BITMAP_BYTES, 40);
});

test('IPv4 table: a fourth-octet group whose prefixes all find one value is no group, its slot holds the value', () => {
  const prefixes: [number, number][] = [
    [0x0a010200, 25],
    [0x0a010280, 25],
  ];
  const t = buildStrideTable({ keys: lpmKeys(prefixes), values: [6, 6], count: 2, defaultValue: 0 });
  assert.is(t.elements, 257);
  assert.is(t.bitmapCount, 0);
  assert.is(t.slots[(t.slots[0x0a01]! - STRIDE_GROUP) * 256 + 2], 6);
  assert.is(strideLookup(t, 0x0a0102ff), 6);
  assert.is(strideLookup(t, 0x0a010300), 0);
});

test('IPv4 table: random hosts and nets under /24s with one, two and three or more values match brute force at every address', () => {
  const isGroup = (v: number): boolean => v >= STRIDE_GROUP && v < 0x8000_0000;
  for (let seed = 11; seed <= 14; seed++) {
    const r = mulberry32(seed);
    const prefixes: [number, number][] = [];
    const values: number[] = [];
    const add = (net: number, len: number, value: number): void => {
      const n = (net & mask(len)) >>> 0;
      if (prefixes.some(([p, l]) => p === n && l === len)) return;
      prefixes.push([n, len]);
      values.push(value);
    };
    // Values under the /24s: a /12 and some /20s and /24s over them, and /16s crowded with hosts (wide bitmaps when
    // two-valued, and one with a third value that must stay groups).
    add(0x0a000000, 12, 1);
    for (let k = 0; k < 6; k++) add(0x0a000000 + Math.floor(r() * 2 ** 20), 20, 2 + k);
    const taken = new Set<number>();
    const slash24s: number[] = [];
    for (let k = 0; k < 90; k++) {
      const s24 = (0x0a000000 >>> 8) + Math.floor(r() * 2 ** 12);
      if (taken.has(s24)) continue;
      if (r() < 0.3) add(s24 << 8, 24, 20 + k);
      const kind = 1 + (k % 3);
      taken.add(s24);
      slash24s.push(s24);
      const v = 100 + k;
      if (kind === 1) {
        // Longer prefixes that together cover the /24 with one value.
        const len = 25 + Math.floor(r() * 3);
        for (let o = 0; o < 256; o += 2 ** (32 - len)) add((s24 << 8) + o, len, v);
      } else {
        // Hosts and nets of one value (two: with what the /24 finds) or of several.
        for (let h = 0; h < 3 + Math.floor(r() * 20); h++) {
          const len = r() < 0.7 ? 32 : 25 + Math.floor(r() * 7);
          add((s24 << 8) + Math.floor(r() * 256), len, kind === 2 ? v : v + 1000 * (h % 3));
        }
        if (kind === 3) add((s24 << 8) + 1, 32, v + 7000); // at least a third value in all
      }
    }
    for (const [top, extra] of [
      [0x2a2a, false],
      [0x2b2b, true],
    ] as const) {
      for (let k = 0; k < 200; k++) add(((top << 16) | Math.floor(r() * 65536)) >>> 0, 32, 500);
      if (extra) add(((top << 16) | 0x0101) >>> 0, 32, 501);
    }
    const t = buildStrideTable({ keys: lpmKeys(prefixes), values, count: prefixes.length, defaultValue: 0 });
    assert.is(t.wideCount, 1, 'the two-valued crowded /16 is a wide bitmap, the three-valued one is not');
    const tally = [0, 0, 0];
    for (const s24 of slash24s) {
      const root = t.slots[s24 >>> 8]!;
      assert.ok(isGroup(root) && !(root & STRIDE_BITMAP), `seed ${seed}: /16 of ${quad(s24 << 8)} has a group`);
      const slot = t.slots[(root - STRIDE_GROUP) * 256 + (s24 & 255)]!;
      const kind = !isGroup(slot) ? 1 : slot & STRIDE_BITMAP ? 2 : 3;
      const found = new Set<number>();
      for (let o = 0; o < 256; o++) found.add(bruteLpm(prefixes, values, ((s24 << 8) | o) >>> 0, 0));
      assert.is(kind, Math.min(found.size, 3), `seed ${seed}: ${quad(s24 << 8)}/24 with ${found.size} values`);
      tally[kind - 1]!++;
    }
    assert.ok(
      tally.every((n) => n >= 10),
      `seed ${seed}: /24s with 1, 2, 3+ values: ${tally.join(', ')}`,
    );
    // Every address of those /24s, their neighbours, and of the crowded /16s.
    const addrs = slash24s.flatMap((s24) => [...Array(258).keys()].map((o) => (s24 << 8) + o - 1));
    for (const top of [0x2a2a, 0x2b2b]) for (let a = 0; a < 65536; a += 31) addrs.push(((top << 16) | a) >>> 0);
    for (const addr of addrs) {
      const a = addr >>> 0;
      assert.is(strideLookup(t, a), bruteLpm(prefixes, values, a, 0), `seed ${seed}: ${quad(a)}`);
    }
  }
});

// ---------------------------------------------------------------------------------------------------------------
// One-lookup decisions

const side = (m: Partial<SideMatch> = {}): SideMatch => ({ inSets: [], notInSets: [], ports: [], notPorts: [], ...m });

function entry(counter: number, e: Partial<IngressEntry>): IngressEntry {
  return {
    counter,
    action: 'Deny',
    protocol: null,
    notProtocol: null,
    icmp: null,
    notICMP: null,
    source: side(),
    destination: side(),
    ...e,
  };
}

function stateOf(v4: IngressEntry[], sets: Record<string, string[]>): DesiredState {
  const prefixSets: Record<string, PrefixSet> = {};
  for (const [id, prefixes] of Object.entries(sets)) prefixSets[id] = { id, family: 4, prefixes, origin: id };
  const counters = Math.max(0, ...v4.map((e) => e.counter + 1));
  return {
    formatVersion: 1,
    host: 'h',
    hash: '',
    config: {
      acceptMark: 0,
      passMark: 0,
      xdpMode: 'native' as DesiredState['config']['xdpMode'],
      logRate: 0,
      logBurst: 0,
    },
    failsafes: [],
    sets: prefixSets,
    interfaces: [
      {
        name: 'eth0',
        endpoint: 'h',
        ingress: { v4, v6: [] },
        counters: Array.from({ length: counters }, (_, i) => ({
          policy: `p${i}`,
          direction: 'ingress' as const,
          index: 0,
        })),
      },
    ],
    egress: { interfaces: [], ipsets: [] },
  };
}

/** What the program would find for a packet: the first field (in lookup order) whose value is TERMINAL, if any. */
function oneLookupDecision(
  c: Classifier,
  p: { src: number; dst: number; proto: number; dport: number },
): number | null {
  for (const f of c.fields) {
    const m = f.map;
    let v: number;
    if (m.kind === 'stride') v = strideLookup(m, f.name === 'saddr' ? p.src : p.dst);
    else if (m.kind === 'array') v = m.values[f.name === 'proto' ? p.proto : f.name === 'dport' ? p.dport : 65536]!;
    else throw new Error('IPv6 is not in this test');
    if (v & TERMINAL) return (v & ~TERMINAL & ENTRY_COUNTER_MASK) >>> 0;
  }
  return null;
}

test('one-lookup decisions: 10,000 deny-listed nets are decided by the source lookup, with each rule its own counter', () => {
  const v4: IngressEntry[] = [];
  const sets: Record<string, string[]> = {};
  for (let i = 0; i < 10_000; i++) {
    sets[`n${i}`] = [`${quad((16 << 24) + i * 1024)}/22`];
    v4.push(entry(i, { source: side({ inSets: [`n${i}`] }) }));
  }
  v4.push(entry(10_000, { action: 'Allow', protocol: 17, destination: side({ ports: [{ from: 7777, to: 7777 }] }) }));
  const c = buildClassifier(stateOf(v4, sets), 'eth0', 4);
  assert.is(c.fields[0]!.name, 'saddr', 'the source is looked up first');
  assert.is(c.fields[0]!.terminalClasses, 10_000);
  const p = { src: (16 << 24) + 1234 * 1024 + 9, dst: 0xc6120001, proto: 17, dport: 7777 };
  assert.is(oneLookupDecision(c, p), 1234);
  assert.is(oneLookupDecision(c, { ...p, src: 0x64640001 }), null, 'an allowed source needs the other fields');
});

test('one-lookup decisions agree with the reference evaluator on random one-field and mixed rules', () => {
  let decided = 0;
  for (let seed = 1; seed <= 8; seed++) {
    const r = mulberry32(seed * 31);
    const prefixes = randomPrefixes(r, 60);
    const sets: Record<string, string[]> = {};
    const v4: IngressEntry[] = [];
    const n = 30 + Math.floor(r() * 60);
    for (let i = 0; i < n; i++) {
      const kind = Math.floor(r() * 5);
      const id = `s${i}`;
      const own = Array.from({ length: 1 + Math.floor(r() * 4) }, () => prefixes[Math.floor(r() * prefixes.length)]!);
      sets[id] = [...new Set(own.map(([net, len]) => `${quad(net)}/${len}`))];
      const action = (['Allow', 'Deny', 'Pass', 'Log'] as const)[Math.floor(r() * 4)]!;
      if (kind === 0) v4.push(entry(i, { action, source: side({ inSets: [id] }) }));
      else if (kind === 1) v4.push(entry(i, { action, destination: side({ inSets: [id] }) }));
      else if (kind === 2) v4.push(entry(i, { action, protocol: [6, 17, 47][Math.floor(r() * 3)]! }));
      else if (kind === 3) v4.push(entry(i, { action, protocol: 6, source: side({ inSets: [id] }) }));
      else v4.push(entry(i, { action, source: side({ notInSets: [id] }) }));
    }
    const state = stateOf(v4, sets);
    const c = buildClassifier(state, 'eth0', 4);
    for (let k = 0; k < 3000; k++) {
      const aim = (): number => {
        const [net, len] = prefixes[Math.floor(r() * prefixes.length)]!;
        return (net + Math.floor(r() * 2 ** (32 - len))) >>> 0;
      };
      const p = { src: aim(), dst: aim(), proto: [6, 17, 47, 1][Math.floor(r() * 4)]!, dport: 80 };
      const got = oneLookupDecision(c, p);
      if (got === null) continue;
      decided++;
      const want = evaluatePacket(state, 'eth0', {
        family: 4,
        protocol: p.proto,
        src: quad(p.src),
        dst: quad(p.dst),
        ...(p.proto === 6 || p.proto === 17 ? { sport: 1000, dport: p.dport } : {}),
      });
      assert.is(got, want.counter, `seed ${seed}: ${quad(p.src)} -> ${quad(p.dst)} proto ${p.proto}`);
      assert.equal(want.logged, [], 'no Log rule comes before a one-lookup decision');
    }
  }
  assert.ok(decided > 1000, `packets decided by one lookup: ${decided}`);
});

test('policy maps: a deny-listed set of hosts brings the wide-bitmap and bitmap-group maps beside the table', () => {
  const r = mulberry32(5);
  const hosts = new Set<string>();
  // 20,000 hosts in 32.0.0.0/10 (crowded /16s: wide bitmaps) and 300 in 48.0.0.0/8 (sparse: bitmap groups).
  while (hosts.size < 20_000) hosts.add(`${quad(0x20000000 + Math.floor(r() * 2 ** 22))}/32`);
  while (hosts.size < 20_300) hosts.add(`${quad(0x30000000 + Math.floor(r() * 2 ** 24))}/32`);
  const state = stateOf([entry(0, { source: side({ inSets: ['deny'] }) })], { deny: [...hosts] });
  const c = buildClassifier(state, 'eth0', 4);
  const specs = policyMaps(c);
  const byName = new Map(specs.map((m) => [m.name, m]));
  const table = c.fields[0]!.map;
  if (table.kind !== 'stride') throw new Error('no IPv4 table');
  assert.ok(byName.has('ntp4_src') && byName.has('ntp4_rec'), 'the maps there were stay, with their names');
  assert.is(byName.get('ntp4_srcw')?.valueSize, STRIDE_WIDE_BYTES);
  assert.is(byName.get('ntp4_srcw')?.maxEntries, 64, 'one wide bitmap per /16 of the /10');
  assert.is(byName.get('ntp4_srcb')?.valueSize, STRIDE_BITMAP_BYTES);
  assert.is(byName.get('ntp4_srcb')?.maxEntries, table.bitmapCount);
  assert.ok(table.bitmapCount >= 290, `${table.bitmapCount} bitmap groups for 300 sparse hosts`);
  for (const role of ['saddrWide', 'saddrBitmap'] as const) {
    const spec = specs.find((m) => m.role === role)!;
    const contents = policyMapContents(c, role);
    if (contents.kind !== 'array') throw new Error(role);
    assert.is(contents.count, spec.maxEntries, role);
    assert.is(contents.values.length, spec.maxEntries * spec.valueSize, role);
  }
  for (const h of [...hosts].slice(0, 2000)) {
    assert.is(
      oneLookupDecision(c, {
        src: Number(
          h
            .split('/')[0]!
            .split('.')
            .reduce((a, o) => a * 256 + Number(o), 0),
        ),
        dst: 1,
        proto: 17,
        dport: 1,
      }),
      0,
      h,
    );
  }
});

test('IPv4 table: a wide bitmap read from prefixes (hosts, nets, nested, a /24 covered whole) equals every address, in either key order', () => {
  // A two-valued /16 crowded past WIDE_MIN_GROUPS: its fourth-octet groups hold disjoint hosts and nets (read
  // from the prefixes), nested ones (read from the slots), one covered whole by two /25s, and groups where the
  // value under the /24 comes first, in the middle or last. Values a and b are the first two in address order.
  for (let seed = 21; seed <= 26; seed++) {
    const r = mulberry32(seed);
    const top = 0x0a070000;
    const prefixes: [number, number][] = [];
    const values: number[] = [];
    const seen = new Set<string>();
    const add = (net: number, len: number, value: number): void => {
      const n = (net & mask(len)) >>> 0;
      if (seen.has(`${n}/${len}`)) return;
      seen.add(`${n}/${len}`);
      prefixes.push([n, len]);
      values.push(value);
    };
    const IN = 0x8000_0005;
    const OUT = 9; // the default, and what the /24 nets below give
    add(top + (3 << 8), 24, IN); // a /24 in the set: its hosts below find IN either way
    for (let o3 = 0; o3 < 200; o3++) {
      const shape = Math.floor(r() * 5);
      const base = top + (o3 << 8);
      if (shape === 0) {
        add(base, 25, IN);
        add(base + 128, 25, IN); // covered whole
      } else if (shape === 1) {
        add(base + Math.floor(r() * 256), 32, IN);
        add(base + 64, 26, IN);
      } else if (shape === 2) {
        add(base + 128, 25, IN);
        add(base + 130, 32, OUT); // nested, a hole of the default's value
      } else {
        for (let k = 0; k < 1 + Math.floor(r() * 6); k++) add(base + Math.floor(r() * 256), 32, IN);
        if (r() < 0.3) add(base, 32, IN); // the value under the /24 after the first octet
      }
    }
    const orders = [
      prefixes.map((_, i) => i).sort((x, y) => prefixes[x]![0] - prefixes[y]![0] || prefixes[x]![1] - prefixes[y]![1]),
      prefixes.map((_, i) => i).reverse(),
    ];
    for (const order of orders) {
      const ps = order.map((i) => prefixes[i]!);
      const vs = order.map((i) => values[i]!);
      const t = buildStrideTable({ keys: lpmKeys(ps), values: vs, count: ps.length, defaultValue: OUT });
      assert.is(t.wideCount, 1, `seed ${seed}: the /16 is one wide bitmap`);
      // Longest prefix by painting the /16 shortest first (every prefix here lies in it).
      const want = new Uint32Array(0x10000).fill(OUT);
      for (const i of ps.map((_, i) => i).sort((x, y) => ps[x]![1] - ps[y]![1]))
        want.fill(vs[i]!, ps[i]![0] - top, ps[i]![0] - top + 2 ** (32 - ps[i]![1]));
      const first = want[0]!;
      const second = want.find((v) => v !== first);
      for (let a = 0; a < 0x10000; a++)
        if (strideLookup(t, top + a) !== want[a])
          assert.unreachable(`seed ${seed}: ${quad(top + a)} finds ${strideLookup(t, top + a)}, not ${want[a]}`);
      assert.equal([t.wide[0], t.wide[1]], [first, second], `seed ${seed}: values a and b in address order`);
    }
  }
});

test('address classes: a big canonical set merged with the others in one pass gives the table the copy-and-sort path gives', () => {
  // Small sets tie with the big one (the same prefix listed in several sets, before and after it in set order),
  // nest in it and around it; entries take sets in and not in, so signatures and record ids depend on the order.
  for (let seed = 31; seed <= 36; seed++) {
    const r = mulberry32(seed);
    const net = (addr: number, len: number): string => `${quad((addr & mask(len)) >>> 0)}/${len}`;
    const bigNets = new Map<string, [number, number]>();
    while (bigNets.size < 6000) {
      const len = r() < 0.8 ? 32 : 24;
      const addr = (0x0a000000 + Math.floor(r() * 2 ** 18) * 64) & mask(len);
      bigNets.set(net(addr, len), [addr >>> 0, len]);
    }
    const bigList = [...bigNets].sort((a, b) => a[1][0] - b[1][0] || a[1][1] - b[1][1]).map(([text]) => text);
    const big = packTexts(4, bigList);
    const small = Array.from({ length: 12 }, (_, k) => {
      const texts = new Set<string>();
      for (let n = 0; n < 5 + k; n++) {
        const pick = r();
        if (pick < 0.4)
          texts.add(bigList[Math.floor(r() * bigList.length)]!); // a tie with the big set
        else if (pick < 0.7) texts.add(net(0x0a000000 + Math.floor(r() * 2 ** 24), 16 + Math.floor(r() * 17)));
        else texts.add(net(Math.floor(r() * 2 ** 32), 8));
      }
      return packTexts(4, [...texts]);
    });
    // The big set at index 5 of 13: small sets before and after it in set order.
    const sets = [...small.slice(0, 5), big, ...small.slice(5)].map((members, i) => ({ id: `s${i}`, members }));
    const constraints = Array.from({ length: 40 }, (_, e) =>
      e % 7 === 6
        ? null
        : {
            inSets: [Math.floor(r() * sets.length), ...(r() < 0.3 ? [Math.floor(r() * sets.length)] : [])],
            notInSets: r() < 0.3 ? [Math.floor(r() * sets.length)] : [],
          },
    );
    const build = (mergeMin: number) => {
      const records = new RecordTable(vectorShape(40));
      const t = buildAddressTable({ family: 4, sets, constraints, records, mergeMin });
      return { t, records: records.bytes() };
    };
    const merged = build(4096);
    const sorted = build(Infinity);
    assert.ok(merged.t.keys.equals(sorted.t.keys), `seed ${seed}: the same keys`);
    assert.equal([...merged.t.values], [...sorted.t.values], `seed ${seed}: the same record ids`);
    assert.is(merged.t.defaultRecord, sorted.t.defaultRecord);
    assert.is(merged.t.classes, sorted.t.classes);
    assert.ok(merged.records.equals(sorted.records), `seed ${seed}: the same records in the same order`);
  }
});

test.run();

// The classifier tables of the policy program: address classes from set signatures, port/protocol/ICMP classes,
// summaries, the bit layout (groups by constrained fields, Log entries last) and the entry table.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { DesiredState, IngressEntry, SideMatch } from '../../src/compile/desired-state.js';
import {
  buildClassifier,
  entriesOfRecord,
  NO_VALUE_INDEX,
  summaryOfRecord,
  type AddressTable,
  type Classifier,
  type FieldName,
  type ScalarTable,
} from '../../src/compile/program/index.js';
import { JumpSlot } from '../../src/abi/notrack.js';

const side = (m: Partial<SideMatch> = {}): SideMatch => ({ inSets: [], notInSets: [], ports: [], notPorts: [], ...m });

function entry(counter: number, m: Partial<IngressEntry> = {}): IngressEntry {
  return {
    counter,
    action: 'Allow',
    protocol: null,
    notProtocol: null,
    icmp: null,
    notICMP: null,
    source: side(),
    destination: side(),
    ...m,
  };
}

function state(v4: IngressEntry[], sets: Record<string, string[]> = {}, v6: IngressEntry[] = []): DesiredState {
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
    sets: Object.fromEntries(
      Object.entries(sets).map(([id, prefixes]) => [
        id,
        { id, family: prefixes[0]?.includes(':') ? 6 : 4, prefixes, origin: id } as const,
      ]),
    ),
    interfaces: [{ name: 'eth0', endpoint: 'ep', ingress: { v4, v6 }, counters: [] }],
    egress: { interfaces: [], ipsets: [] },
  };
}

function field<K extends 'address' | 'scalar'>(
  c: Classifier,
  name: FieldName,
  kind: K,
): K extends 'address' ? AddressTable : ScalarTable {
  const f = c.fields.find((x) => x.name === name);
  assert.ok(f, `field ${name} is used`);
  assert.is(f.table.kind, kind);
  return f.table as K extends 'address' ? AddressTable : ScalarTable;
}

/** The trie entries as "prefix -> entries that accept it". */
function trie(c: Classifier, t: AddressTable): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (let i = 0; i < t.count; i++) {
    const k = t.keys.subarray(i * t.keySize, (i + 1) * t.keySize);
    const addr = t.keySize === 8 ? [...k.subarray(4)].join('.') : k.subarray(4).toString('hex');
    out[`${addr}/${k.readUInt32LE(0)}`] = entriesOfRecord(c, t.values[i]!);
  }
  return out;
}

test('address classes: an address is classed by the sets that contain it, nested prefixes of other sets included', () => {
  const c = buildClassifier(
    state(
      [
        entry(0, { source: side({ inSets: ['A'] }) }),
        entry(1, { source: side({ inSets: ['A', 'B'] }) }),
        entry(2, { source: side({ notInSets: ['B'] }) }),
        entry(3),
      ],
      { A: ['10.0.0.0/8'], B: ['10.1.0.0/16', '192.168.0.0/24'] },
    ),
    'eth0',
    4,
  );
  const t = field(c, 'saddr', 'address');
  assert.equal(trie(c, t), {
    '10.0.0.0/8': [0, 2, 3],
    '10.1.0.0/16': [0, 1, 3], // in A and in B
    '192.168.0.0/24': [3], // in B only: entry 2 excludes it, entries 0 and 1 need A
  });
  assert.equal(entriesOfRecord(c, t.defaultRecord), [2, 3], 'outside every set: only entries without an inSet');
  assert.is(
    c.fields.some((f) => f.name === 'daddr'),
    false,
    'no entry constrains the destination: no table, no lookup',
  );
});

test('address classes: a set with 100,000 prefixes is 100,000 trie entries but a single record', () => {
  const big = Array.from({ length: 100_000 }, (_, i) => `100.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}/32`);
  const c = buildClassifier(
    state([entry(0, { action: 'Deny', source: side({ inSets: ['big'] }) }), entry(1)], { big }),
    'eth0',
    4,
  );
  const t = field(c, 'saddr', 'address');
  assert.is(t.count, 100_000);
  assert.is(new Set(t.values).size, 1);
  assert.equal(entriesOfRecord(c, t.values[0]!), [0, 1]);
  assert.ok(c.records.count <= 3, `records: ${c.records.count}`);
});

test('address classes: a prefix that changes nothing below its parent is left out of the trie', () => {
  const c = buildClassifier(
    state([entry(0, { source: side({ inSets: ['A'] }) })], { A: ['10.0.0.0/8', '10.1.0.0/16'] }),
    'eth0',
    4,
  );
  assert.equal(Object.keys(trie(c, field(c, 'saddr', 'address'))), ['10.0.0.0/8']);
});

test('address classes: IPv6 keys are 20 bytes and a set of the other family matches nothing', () => {
  const s = state([], { V6: ['2001:db8::/32'], V4: ['10.0.0.0/8'] }, [
    entry(0, { destination: side({ inSets: ['V6'] }) }),
    entry(1, { destination: side({ inSets: ['V4'] }) }),
  ]);
  const c = buildClassifier(s, 'eth0', 6);
  const t = field(c, 'daddr', 'address');
  assert.is(t.keySize, 20);
  assert.equal(trie(c, t), { '20010db8000000000000000000000000/32': [0] });
  assert.equal(entriesOfRecord(c, t.defaultRecord), []);
});

test('port classes: ranges, excluded ranges, and the index of packets without ports', () => {
  const c = buildClassifier(
    state([
      entry(0, { protocol: 6, destination: side({ ports: [{ from: 80, to: 90 }] }) }),
      entry(1, { protocol: 6, destination: side({ ports: [{ from: 80, to: 90 }], notPorts: [{ from: 85, to: 85 }] }) }),
      entry(2, { protocol: 6, destination: side({ notPorts: [{ from: 0, to: 1023 }] }) }),
      entry(3, { protocol: 6 }),
    ]),
    'eth0',
    4,
  );
  const t = field(c, 'dport', 'scalar');
  assert.is(t.values.length, 65537);
  const at = (port: number): number[] => entriesOfRecord(c, t.values[port]!);
  assert.equal(at(79), [3]);
  assert.equal(at(80), [0, 1, 3]);
  assert.equal(at(85), [0, 3]);
  assert.equal(at(90), [0, 1, 3]);
  assert.equal(at(91), [3]);
  assert.equal(at(1024), [2, 3]);
  assert.equal(at(65535), [2, 3]);
  assert.equal(at(NO_VALUE_INDEX), [3], 'without ports, only the entry that asks nothing of them');
  assert.is(
    c.fields.some((f) => f.name === 'sport'),
    false,
  );
});

test('protocol classes: protocol and notProtocol', () => {
  const c = buildClassifier(state([entry(0, { protocol: 6 }), entry(1, { notProtocol: 17 }), entry(2)]), 'eth0', 4);
  const t = field(c, 'proto', 'scalar');
  assert.is(t.values.length, 256);
  assert.equal(entriesOfRecord(c, t.values[6]!), [0, 1, 2]);
  assert.equal(entriesOfRecord(c, t.values[17]!), [2]);
  assert.equal(entriesOfRecord(c, t.values[1]!), [1, 2]);
});

test('ICMP classes are indexed by code << 8 | type, as the program reads the two bytes', () => {
  const c = buildClassifier(
    state([
      entry(0, { protocol: 1, icmp: { type: 8 } }),
      entry(1, { protocol: 1, icmp: { type: 3, code: 1 } }),
      entry(2, { protocol: 1, notICMP: { type: 8 } }),
    ]),
    'eth0',
    4,
  );
  const t = field(c, 'icmp', 'scalar');
  const at = (type: number, code: number): number[] => entriesOfRecord(c, t.values[(code << 8) | type]!);
  assert.equal(at(8, 0), [0]);
  assert.equal(at(8, 5), [0]);
  assert.equal(at(3, 1), [1, 2]);
  assert.equal(at(3, 2), [2]);
  assert.equal(
    entriesOfRecord(c, t.values[NO_VALUE_INDEX]!),
    [],
    'a later fragment has no ICMP header: no ICMP entry matches it',
  );
});

test('summaries: bit j is set exactly when vector word j holds an accepting entry', () => {
  // 300 entries of one shape: words 0..4; only entries 70 and 250 accept port 7000.
  const port = (i: number) =>
    i === 250 ? { from: 7000, to: 7000 } : i === 70 ? { from: 1070, to: 7000 } : { from: 1000 + i, to: 1000 + i };
  const list = Array.from({ length: 300 }, (_, i) =>
    entry(i, { protocol: 6, destination: side({ ports: [port(i)] }) }),
  );
  const c = buildClassifier(state(list), 'eth0', 4);
  assert.is(c.shape.words, 5);
  assert.is(c.shape.summaryWords, 1);
  const rec = field(c, 'dport', 'scalar').values[7000]!;
  assert.equal(entriesOfRecord(c, rec), [70, 250]);
  assert.equal(summaryOfRecord(c, rec), [1, 3]);
});

test('summaries: more than 4096 entries take several summary words', () => {
  const list = Array.from({ length: 5000 }, (_, i) =>
    entry(i, { protocol: 6, destination: side({ ports: [{ from: i, to: i }] }) }),
  );
  const c = buildClassifier(state(list), 'eth0', 4);
  assert.is(c.shape.words, 79);
  assert.is(c.shape.summaryWords, 2);
  assert.equal(summaryOfRecord(c, field(c, 'dport', 'scalar').values[4500]!), [Math.floor(4500 / 64)]);
});

test('placement: deciding entries grouped by the fields they constrain, each group in order, Log entries last', () => {
  const list: IngressEntry[] = [];
  for (let i = 0; i < 200; i++) {
    if (i % 4 === 3) list.push(entry(i, { action: 'Log', protocol: 6 }));
    else if (i % 2 === 0) list.push(entry(i, { protocol: 6, destination: side({ ports: [{ from: i, to: i }] }) }));
    else list.push(entry(i, { source: side({ inSets: ['A'] }) }));
  }
  const c = buildClassifier(state(list, { A: ['10.0.0.0/8'] }), 'eth0', 4);
  const { groups, bitOf, table, logStart } = c.placement;
  assert.equal(
    groups.map((g) => [g.start, g.count, g.log]),
    [
      [0, 100, false],
      [128, 50, false],
      [192, 50, true],
    ],
  );
  assert.is(logStart, 192);
  // Evaluation order within each group; the group of entry 0 first.
  assert.is(bitOf[0], 0);
  assert.is(bitOf[2], 1);
  assert.is(bitOf[1], 128);
  assert.is(bitOf[5], 129);
  assert.is(bitOf[3], 192);
  assert.is(bitOf[7], 193);
  const slot = (i: number) => Array.from(table.subarray(bitOf[i]! * 4, bitOf[i]! * 4 + 4));
  // Entry 4 (group 0): Allow, counter 4; the Log entries before it: 3 -> they end at bit 193; the next group's
  // first entry (1) comes earlier than 4, so the scan goes on there (word 2).
  assert.equal(slot(4), [(JumpSlot.accept << 28) | 4, 4, 193, 2]);
  // Entry 0 comes before every other group's entries: once it matched, straight to the Log group (word 3).
  assert.equal(slot(0), [(JumpSlot.accept << 28) | 0, 0, 192, 3]);
  // Entry 199 (a Log entry): slot 0, its counter.
  assert.equal(slot(199).slice(0, 2), [199, 199]);
});

test('placement: small groups share one mixed group, in evaluation order', () => {
  const list = [entry(0, { protocol: 6 }), entry(1, { source: side({ inSets: ['A'] }) }), entry(2, { protocol: 17 })];
  const c = buildClassifier(state(list, { A: ['10.0.0.0/8'] }), 'eth0', 4);
  assert.equal(
    c.placement.groups.map((g) => [g.start, g.count]),
    [[0, 3]],
  );
  assert.equal(Array.from(c.placement.bitOf), [0, 1, 2]);
});

test('an empty family has no fields and no records to speak of', () => {
  const c = buildClassifier(state([]), 'eth0', 6);
  assert.is(c.entryCount, 0);
  assert.equal(c.fields, []);
});

test.run();

// The applied record and states on disk: checked by the text after their checksum (no second serialisation), files
// of older versions still read, an edit or a torn write is never trusted, and a pending state becomes the applied one.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  inspectRecord,
  keepPreviousState,
  promotePendingState,
  readAppliedState,
  readPreviousState,
  removePreviousState,
  writeChecked,
  writePendingState,
  writeRecord,
  type AppliedRecord,
} from '../../src/reconcile/applied-record.js';
import type { DesiredState, PrefixSet } from '../../src/compile/desired-state.js';
import { encodePacked, packTexts } from '../../src/compile/packed-prefixes.js';
import { setRecords } from '../../src/reconcile/set-store.js';
import { PackedPrefixSet, TEXT_MEMBERS_MAX } from '../../src/compile/prefix-set.js';
import { compileHost } from '../../src/compile/compile-host.js';
import { serializeDesiredState } from '../../src/compile/hash.js';
import { interfaceFingerprint } from '../../src/reconcile/host-dataplane.js';
import { validDocuments } from '../support/policy-files.js';
import { updateText } from '../../src/reconcile/text-digest.js';
import { hostEndpoint, networkSet, untrackedPolicy } from '../support/resource-documents.js';

const dirs: string[] = [];
const stateDir = (): string => {
  const d = mkdtempSync(path.join(tmpdir(), 'notrack-record-'));
  dirs.push(d);
  return d;
};
test.after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const record = (desiredHash: string, pending?: string): AppliedRecord => ({
  formatVersion: 1,
  host: 'db-1',
  revision: { repo: 'r', ref: 'main', commit: 'c1' },
  desiredHash,
  appliedAt: '2026-01-01T00:00:00.000Z',
  interfaces: {
    eth0: {
      generation: 3,
      generations: { '3': 'f' },
      policyProgramId: 7,
      policyMapEntries: {},
      xdpMode: 'native',
      tcMechanism: 'tcx',
    },
  },
  ...(pending
    ? { pending: { revision: { repo: 'r', ref: 'main', commit: 'c2' }, desiredHash: pending, since: 'now' } }
    : {}),
});

/** n /24s from 10.0.0.0 on, canonical. */
const nets = (n: number): string[] => Array.from({ length: n }, (_, i) => `10.${i >> 8}.${i & 255}.0/24`);

/** A state with a large set and a small one, as a compile makes them (only the sets and the hash matter here). */
const state = (hash: string, n = 1000): DesiredState => {
  const large = PackedPrefixSet.of(packTexts(4, nets(n)), 'selector role == "deny"');
  const small = PackedPrefixSet.of(packTexts(6, ['2001:db8::/32', 'fd00::/8']), 'nets of p ingress[0] source');
  return {
    formatVersion: 1,
    host: 'db-1',
    hash,
    interfaces: [],
    sets: { [large.id]: large, [small.id]: small },
  } as unknown as DesiredState;
};
const largeSet = (s: DesiredState | null): PrefixSet | undefined =>
  Object.values(s?.sets ?? {}).find((x) => x.family === 4);

test('a record written and read back is the same; the checksum leads the file and covers the rest', () => {
  const dir = stateDir();
  writeRecord(dir, record('h1'));
  assert.equal(inspectRecord(dir), { record: record('h1'), problem: null });
  const text = readFileSync(path.join(dir, 'applied.json'), 'utf8');
  assert.match(text, /^\{"checksum":"[0-9a-f]{64}","formatVersion":1,/);
});

test('a record of an older version (checksum last) is still trusted', () => {
  const dir = stateDir();
  const value = record('h1');
  const sum = createHash('sha256').update(JSON.stringify(value)).digest('hex');
  writeFileSync(path.join(dir, 'applied.json'), JSON.stringify({ ...value, checksum: sum }) + '\n');
  assert.equal(inspectRecord(dir), { record: value, problem: null });
});

test('an edited or torn record is not trusted, and says why', () => {
  const dir = stateDir();
  writeRecord(dir, record('h1'));
  const file = path.join(dir, 'applied.json');
  const text = readFileSync(file, 'utf8');
  writeFileSync(file, text.replace('"generation":3', '"generation":4'));
  const edited = inspectRecord(dir);
  assert.is(edited.record, null);
  assert.match(edited.problem ?? '', /fails its checksum/);
  writeFileSync(file, text.slice(0, 80));
  assert.match(inspectRecord(dir).problem ?? '', /is not JSON/);
});

test('a pending state is read while the record is pending, and becomes the applied one by a rename', () => {
  const dir = stateDir();
  writePendingState(dir, state('h1'));
  promotePendingState(dir);
  writeRecord(dir, record('h1'));
  assert.is(readAppliedState(dir)?.hash, 'h1');

  // The next apply: its state is kept as pending first; while the record is pending, drift measures against it.
  writePendingState(dir, state('h2', 50_000));
  writeRecord(dir, record('h1', 'h2'));
  assert.is(readAppliedState(dir)?.hash, 'h2');
  promotePendingState(dir);
  writeRecord(dir, record('h2'));
  assert.not.ok(existsSync(path.join(dir, 'applied-state.next.json')), 'no pending state is left behind');
  const applied = readAppliedState(dir);
  assert.is(applied?.hash, 'h2');
  assert.is(largeSet(applied)?.prefixes.length, 50_000);
  assert.equal(largeSet(applied)?.prefixes, nets(50_000), 'the members read back are the ones written');
});

test('an applied state edited by hand is not trusted', () => {
  const dir = stateDir();
  writePendingState(dir, state('h1'));
  promotePendingState(dir);
  writeRecord(dir, record('h1'));
  const file = path.join(dir, 'applied-state.json');
  const text = readFileSync(file, 'utf8');
  writeFileSync(file, text.replace('"hash":"h1"', '"hash":"h2"'));
  assert.is(readAppliedState(dir), null, 'the state changed');
  for (const field of ['setTable', 'state'] as const) {
    const stored = new RegExp(`"${field}":\\{.*?"stored":"(.{8})`).exec(text)![1]!;
    writeFileSync(file, text.replace(stored, '00000000'));
    assert.is(
      readAppliedState(dir),
      null,
      `the digest its ${field === 'state' ? 'set file' : 'set table'} is named by changed`,
    );
  }
});

test('a large set is stored in a set file (5 bytes a prefix), small ones in a set table as text; both read back equal', () => {
  const dir = stateDir();
  const written = state('h1', 20_000);
  writePendingState(dir, written);
  promotePendingState(dir);
  const text = readFileSync(path.join(dir, 'applied-state.json'), 'utf8');
  assert.not.match(text, /10\.0\.1\.0\/24/, 'no member of the large set as text');
  assert.not.match(text, /fd00::/, 'no member of the small set either');
  // Version 5: a notrack that knows only versions 2 to 4 (small sets inline) refuses the file instead of reading a
  // state without its small sets.
  const large = Object.values(written.sets).find((s) => s.family === 4)!;
  const head = new RegExp(
    `^\\{"checksum":"[0-9a-f]{64}","formatVersion":5,"setFiles":\\["${large.id}"\\],"setTable":\\{"file":"([0-9a-f]{64})","stored":"[0-9a-f]{64}"\\},"state":`,
  ).exec(text);
  assert.ok(head, text.slice(0, 300));
  assert.ok(text.length < 2000, `${text.length} bytes: the members are not in the state file`);
  assert.is(statSync(path.join(dir, 'sets', `${large.id}.set`)).size, 40 + 20_000 * 5, 'a header and 5 bytes a prefix');
  const table = readFileSync(path.join(dir, 'sets', `${head[1]}.table`), 'utf8');
  assert.match(table, /"prefixes":\["2001:db8::\/32","fd00::\/8"\]/, 'the small set stays readable');
  const read = readAppliedState(dir)!;
  assert.equal(Object.keys(read.sets), Object.keys(written.sets).sort(), 'the same sets, in id order (as compiled)');
  for (const [id, set] of Object.entries(written.sets)) {
    const back = read.sets[id]!;
    assert.ok(back instanceof PackedPrefixSet);
    assert.is(back.family, set.family);
    assert.is(back.origin, set.origin);
    assert.equal(back.prefixes, set.prefixes);
    assert.is((back as PackedPrefixSet).digest, (set as PackedPrefixSet).digest, 'same content, same digest');
  }
  assert.ok(20_000 > TEXT_MEMBERS_MAX);
});

/** A file's bytes torn, edited (as given) and emptied. */
const damaged = (good: Buffer, edited: Buffer): [string, Buffer][] => [
  ['torn', good.subarray(0, good.length - 2)],
  ['edited', edited],
  ['emptied', Buffer.alloc(0)],
];

/** Many small sets (a rule's own nets each), as 10,000 rules make them, beside one large set of n nets. */
const manySmall = (hash: string, n: number, small = 300, origin = 'nets of p ingress'): DesiredState => {
  const s = state(hash, n);
  const sets: Record<string, PrefixSet> = { ...s.sets };
  for (let i = 0; i < small; i++) {
    const set = PackedPrefixSet.of(packTexts(4, [`172.16.${i >> 8}.${i & 255}/32`]), `${origin}[${i}] source`);
    sets[set.id] = set;
  }
  return { ...s, sets: Object.fromEntries(Object.entries(sets).sort(([a], [b]) => (a < b ? -1 : 1))) };
};
const tables = (dir: string): string[] => readdirSync(path.join(dir, 'sets')).filter((n) => n.endsWith('.table'));

test('small sets unchanged: the next state names the same set table and does not write it; a changed one is new', () => {
  const dir = stateDir();
  const first = manySmall('h1', 1000);
  writePendingState(dir, first);
  promotePendingState(dir);
  const [table] = tables(dir);
  assert.ok(table);
  const before = statSync(path.join(dir, 'sets', table));
  // A one-prefix change of the large set: every small set the same.
  keepPreviousState(dir);
  const second = manySmall('h2', 1001);
  writePendingState(dir, second);
  const after = statSync(path.join(dir, 'sets', table));
  assert.equal([after.ino, after.mtimeMs], [before.ino, before.mtimeMs], 'the set table was not written again');
  promotePendingState(dir);
  assert.equal(tables(dir), [table]);
  assert.equal(Object.keys(readAppliedState(dir)!.sets), Object.keys(second.sets));
  // A small set's origin changed (same members): another table; the previous state keeps the old one until it goes.
  const third = manySmall('h3', 1001, 300, 'nets of q ingress');
  writePendingState(dir, third);
  promotePendingState(dir);
  assert.is(tables(dir).length, 2, 'the previous state still names the first table');
  assert.is(readPreviousState(dir)!.sets[Object.keys(first.sets)[0]!]?.origin, Object.values(first.sets)[0]!.origin);
  removePreviousState(dir);
  writePendingState(dir, third);
  promotePendingState(dir);
  assert.is(tables(dir).length, 1, 'bounded: the old table is gone');
  const read = readAppliedState(dir)!;
  for (const [id, set] of Object.entries(third.sets)) assert.is(read.sets[id]!.origin, set.origin);
});

test('a torn or edited set table is never used, and the next state written writes it again', () => {
  const dir = stateDir();
  const written = manySmall('h1', 100);
  writePendingState(dir, written);
  promotePendingState(dir);
  const file = path.join(dir, 'sets', tables(dir)[0]!);
  const good = readFileSync(file);
  const edited = Buffer.from(good.toString('latin1').replace('172.16.0.7/32', '172.16.0.9/32'), 'latin1');
  assert.is.not(edited.toString(), good.toString());
  for (const [what, bytes] of damaged(good, edited)) {
    writeFileSync(file, bytes);
    // The next apply reuses the table by name: it must not vouch for these bytes.
    writePendingState(dir, written);
    promotePendingState(dir);
    assert.equal(readFileSync(file), good, `written again after it was ${what}`);
    writeFileSync(file, bytes);
    assert.is(readAppliedState(dir), null, `a ${what} set table`);
    assert.not.ok(existsSync(file), `a ${what} set table is removed when read`);
    writePendingState(dir, written);
    promotePendingState(dir);
    assert.equal(Object.keys(readAppliedState(dir)!.sets), Object.keys(written.sets));
  }
  rmSync(file);
  assert.is(readAppliedState(dir), null, 'a missing set table');
});

test('a set table sealed again over other sets, and named by a state sealed again too, is refused when read', () => {
  // Checksums catch a torn or bit-flipped file; the table's name says which sets it must hold, so a table whose
  // content was replaced and resealed (with the state's `stored` and checksum made again) is still not theirs.
  const dir = stateDir();
  writePendingState(dir, manySmall('h1', 100));
  promotePendingState(dir);
  const tableFile = path.join(dir, 'sets', tables(dir)[0]!);
  const json = readFileSync(tableFile, 'latin1')
    .split('\n')
    .slice(1)
    .join('\n')
    .replace('172.16.0.7/32', '172.16.0.9/32');
  const sum = createHash('sha256').update(json, 'latin1').digest('hex');
  writeFileSync(tableFile, Buffer.from(`NTSETTABLE1 ${sum}\n${json}`, 'latin1'));
  const stateFile = path.join(dir, 'applied-state.json');
  const { checksum: _old, ...rest } = JSON.parse(readFileSync(stateFile, 'utf8')) as Record<string, unknown>;
  (rest['setTable'] as { stored: string }).stored = sum;
  writeChecked(stateFile, rest);
  assert.is(readAppliedState(dir), null, 'the table does not hold the sets its name says');
  assert.not.ok(existsSync(tableFile), 'and is removed, so that the next apply writes it again');
});

test('a version 4 state file (small sets inline, large ones in set files) is still read', () => {
  const dir = stateDir();
  const written = state('h1', 2000);
  writePendingState(dir, written);
  const large = largeSet(written)!;
  const small = Object.values(written.sets).find((x) => x.family === 6)!;
  const stored = /"state":\{.*"stored":"([0-9a-f]{64})"/.exec(
    readFileSync(path.join(dir, 'applied-state.next.json'), 'utf8'),
  )![1];
  const value = {
    formatVersion: 4,
    setFiles: [large.id],
    state: {
      ...written,
      sets: {
        [small.id]: { id: small.id, family: 6, origin: small.origin, prefixes: small.prefixes },
        [large.id]: { id: large.id, family: 4, origin: large.origin, count: 2000, stored },
      },
    },
  };
  const json = JSON.stringify(value);
  const sum = createHash('sha256').update(json).digest('hex');
  writeFileSync(path.join(dir, 'applied-state.json'), `{"checksum":"${sum}",${json.slice(1)}\n`);
  const read = readAppliedState(dir)!;
  assert.equal(read.sets[small.id]!.prefixes, small.prefixes);
  assert.equal(read.sets[large.id]!.prefixes, large.prefixes);
});

test('set files hold the packed records byte for byte, IPv4 and IPv6, and a large IPv6 set reads back equal', () => {
  const v6 = Array.from(
    { length: 300 },
    (_, i) => `2001:db8:${i.toString(16)}:${(i * 7).toString(16)}::/${48 + (i % 81)}`,
  );
  const v4 = [...nets(500), '192.168.0.1/32', '255.255.255.255/32', '0.0.0.0/1'];
  for (const [family, texts] of [
    [4, v4],
    [6, v6],
  ] as const) {
    const packed = packTexts(family, texts);
    assert.equal(setRecords(packed), Buffer.from(encodePacked(packed), 'base64'), `IPv${family} records`);
  }
  const dir = stateDir();
  const large6 = PackedPrefixSet.of(packTexts(6, v6), 'nets of v6 list');
  const written = { ...state('h6', 100), sets: { [large6.id]: large6 } } as DesiredState;
  writePendingState(dir, written);
  promotePendingState(dir);
  const file = path.join(dir, 'sets', `${large6.id}.set`);
  assert.is(statSync(file).size, 40 + large6.size * 17, 'a header and 17 bytes a prefix');
  const back = readAppliedState(dir)!.sets[large6.id]!;
  assert.equal(back.prefixes, large6.prefixes);
  assert.is((back as PackedPrefixSet).digest, large6.digest);
});

test('a compiled state (interfaces, a `*` endpoint, egress, large and small sets) reads back the same, fingerprints too', () => {
  // Fingerprints as every version made them: JSON.stringify of the entries, counters, failsafes and configuration,
  // then the set ids sorted (a changed value would rebuild every interface of every host after an upgrade).
  const fingerprintAsEver = (s: DesiredState, name: string): string => {
    const iface = s.interfaces.find((i) => i.name === name)!;
    const ids = new Set<string>();
    for (const e of [...iface.ingress.v4, ...iface.ingress.v6])
      for (const side of [e.source, e.destination]) for (const id of [...side.inSets, ...side.notInSets]) ids.add(id);
    const { acceptMark, logRate, logBurst } = s.config;
    const config = { acceptMark, acceptMask: acceptMark, logRate, logBurst };
    return createHash('sha256')
      .update(JSON.stringify({ ingress: iface.ingress, counters: iface.counters, failsafes: s.failsafes, config }))
      .update([...ids].sort().join(','))
      .digest('hex');
  };
  const compiled = compileHost(
    validDocuments(
      hostEndpoint('h-eth0', 'h', { interfaceName: 'eth0' }, { role: 'edge' }),
      hostEndpoint('h-any', 'h', { interfaceName: '*' }, { role: 'any' }),
      networkSet('deny', { list: 'deny' }, nets(200)),
      untrackedPolicy('edge', {
        selector: "role == 'edge'",
        types: ['Ingress', 'Egress'],
        ingress: [
          { action: 'Deny', source: { selector: "list == 'deny'" } },
          { action: 'Allow', protocol: 'TCP', source: { nets: ['192.0.2.0/24'], notNets: ['192.0.2.7/32'] } },
          { action: 'Allow', source: { nets: ['2001:db8::/32'] }, destination: { ports: [443] }, protocol: 'TCP' },
        ],
        egress: [{ action: 'Deny', destination: { selector: "list == 'deny'" } }],
      }),
      untrackedPolicy('any', {
        selector: "role == 'any'",
        // A non-ASCII origin (the selector's text): the set table's JSON is UTF-8.
        ingress: [{ action: 'Allow', source: { selector: "list == 'deny' || zone == 'café'" } }],
      }),
    ),
    'h',
  );
  assert.ok(compiled.interfaces.length >= 2 && compiled.egress.interfaces.length >= 1, 'interfaces and egress');
  const dir = stateDir();
  writePendingState(dir, compiled);
  promotePendingState(dir);
  const read = readAppliedState(dir)!;
  assert.is(serializeDesiredState(read), serializeDesiredState(compiled), 'the same state, byte for byte');
  for (const iface of compiled.interfaces) {
    const want = fingerprintAsEver(compiled, iface.name);
    assert.is(interfaceFingerprint(compiled, iface), want, `${iface.name}: the fingerprint every version made`);
    assert.is(
      interfaceFingerprint(
        read,
        read.interfaces.find((i) => i.name === iface.name)!,
      ),
      want,
      'read back',
    );
  }
});

test('updateText hashes the UTF-8 bytes of any text, ASCII or not', () => {
  for (const text of ['{"a":1}', 'café ☕ 😀', 'x'.repeat(100_000) + 'é', '']) {
    const want = createHash('sha256').update(Buffer.from(text, 'utf8')).digest('hex');
    assert.is(updateText(createHash('sha256'), text).digest('hex'), want, JSON.stringify(text.slice(-5)));
  }
});

/** A state file's value (before its checksum) holding these sets as stored. */
const storedState = (sets: Record<string, object>): object => ({
  formatVersion: 2,
  state: { formatVersion: 1, host: 'db-1', hash: 'h0', interfaces: [], sets },
});

test('a state file of an older version (every set as text) is read, its members packed when first used', () => {
  const dir = stateDir();
  const large = nets(3000);
  const id = PackedPrefixSet.of(packTexts(4, large), 'x').id;
  // As older versions wrote it: the checksum last.
  const value = storedState({ [id]: { id, family: 4, prefixes: large, origin: 'x' } });
  const sum = createHash('sha256').update(JSON.stringify(value)).digest('hex');
  writeFileSync(path.join(dir, 'applied-state.json'), JSON.stringify({ ...value, checksum: sum }) + '\n');
  const read = readAppliedState(dir)!;
  assert.is(read.hash, 'h0');
  const set = read.sets[id] as PackedPrefixSet;
  assert.equal(set.prefixes, large);
  assert.is(set.packed.count, 3000);
  assert.is(set.packed.words[1], (10 << 24) + (1 << 8), 'the second /24 packed');
});

test('a stored set whose packed members are not canonical (written by hand, checksum redone) is refused when read', () => {
  const dir = stateDir();
  const bytes = Buffer.from([10, 0, 0, 0, 8, 10, 1, 0, 0, 16]); // 10.1.0.0/16 lies inside 10.0.0.0/8
  const id = '0123456789abcdef';
  const json = JSON.stringify(
    storedState({ [id]: { id, family: 4, origin: 'x', count: 2, packed: bytes.toString('base64') } }),
  );
  const sum = createHash('sha256').update(json).digest('hex');
  writeFileSync(path.join(dir, 'applied-state.json'), `{"checksum":"${sum}",${json.slice(1)}\n`);
  const read = readAppliedState(dir)!;
  assert.ok(read, 'the ids are read without decoding the members');
  try {
    void read.sets[id]!.prefixes;
    assert.unreachable('a non-canonical stored set was used');
  } catch (e) {
    assert.is((e as { code?: string }).code, 'stored-set-unreadable');
    assert.match((e as Error).message, /not canonical/);
  }
});

test('a stored set whose packed text is not strict base64 of exactly count records makes the state unusable', () => {
  const good = Buffer.from([10, 0, 0, 0, 8, 11, 0, 0, 0, 8]).toString('base64'); // 10.0.0.0/8, 11.0.0.0/8
  const id = '0123456789abcdef';
  const readWith = (set: object): unknown => {
    const dir = stateDir();
    const json = JSON.stringify({ ...storedState({ [id]: { id, family: 4, origin: 'x', ...set } }), formatVersion: 3 });
    const sum = createHash('sha256').update(json).digest('hex');
    writeFileSync(path.join(dir, 'applied-state.json'), `{"checksum":"${sum}",${json.slice(1)}\n`);
    return readAppliedState(dir);
  };
  assert.ok(readWith({ count: 2, packed: good }), 'two whole records, as counted');
  assert.is(readWith({ count: 3, packed: good }), null, 'a count the records do not match');
  assert.is(readWith({ packed: good }), null, 'no count');
  assert.is(readWith({ count: 2, packed: good.slice(0, 8) }), null, 'a torn record');
  assert.is(readWith({ count: 2, packed: `${good.slice(0, 4)}*${good.slice(4)}` }), null, 'a character base64 skips');
  assert.is(readWith({ count: 2, packed: `${good.slice(0, 4)}\n${good.slice(4)}` }), null, 'a line break');
});

const setFiles = (dir: string): string[] =>
  readdirSync(path.join(dir, 'sets'))
    .filter((n) => n.endsWith('.set'))
    .sort();
const largeId = (s: DesiredState): string => Object.values(s.sets).find((x) => x.family === 4)!.id;

test('a new state with one large set changed writes that set file only; files no state names are removed', () => {
  const dir = stateDir();
  const shared = PackedPrefixSet.of(packTexts(4, nets(5000)), 'selector role == "big"');
  const withShared = (s: DesiredState): DesiredState => ({ ...s, sets: { ...s.sets, [shared.id]: shared } });
  const first = withShared(state('h1', 1000));
  writePendingState(dir, first);
  promotePendingState(dir);
  const sharedFile = path.join(dir, 'sets', `${shared.id}.set`);
  const before = statSync(sharedFile);
  assert.equal(setFiles(dir), [`${largeId(first)}.set`, `${shared.id}.set`].sort());

  // The next apply's state: one set changed (1001 nets), the shared one unchanged; the old one is kept while a
  // switch is confirmed (previous) and removed once no state names it.
  keepPreviousState(dir);
  const second = withShared(state('h2', 1001));
  writePendingState(dir, second);
  const after = statSync(sharedFile);
  assert.equal([after.ino, after.mtimeMs], [before.ino, before.mtimeMs], 'the unchanged set file was not written');
  promotePendingState(dir);
  assert.equal(setFiles(dir), [`${largeId(first)}.set`, `${largeId(second)}.set`, `${shared.id}.set`].sort());
  const previous = readPreviousState(dir)!;
  assert.is(previous.sets[largeId(first)]!.prefixes.length, 1000, 'the way back still reads its sets');
  removePreviousState(dir);
  writePendingState(dir, second);
  promotePendingState(dir);
  assert.equal(setFiles(dir), [`${largeId(second)}.set`, `${shared.id}.set`].sort(), 'bounded: the old set is gone');
  const read = readAppliedState(dir)!;
  assert.equal(read.sets[shared.id]!.prefixes, nets(5000));
  assert.equal(read.sets[largeId(second)]!.prefixes, nets(1001));
});

/** A state of 3,000 prefixes applied: its folder, the state, its set file and that file's bytes, and them with a bit
 *  of the last record's address flipped. */
function appliedWithSetFile() {
  const dir = stateDir();
  const written = state('h1', 3000);
  writePendingState(dir, written);
  promotePendingState(dir);
  const file = path.join(dir, 'sets', `${largeId(written)}.set`);
  const good = readFileSync(file);
  const edited = Buffer.from(good);
  edited.writeUInt8(edited.readUInt8(edited.length - 3) ^ 1, edited.length - 3);
  return { dir, written, file, good, edited };
}

test('a torn or edited set file is never used; the next state written writes it again', () => {
  const { dir, written, file, good, edited } = appliedWithSetFile();
  for (const [what, bytes] of damaged(good, edited)) {
    writeFileSync(file, bytes);
    assert.is(readAppliedState(dir), null, `a ${what} set file`);
    writePendingState(dir, written);
    promotePendingState(dir);
    assert.equal(readFileSync(file), good, `written again after it was ${what}`);
    assert.equal(readAppliedState(dir)!.sets[largeId(written)]!.prefixes, nets(3000));
  }
  rmSync(file);
  assert.is(readAppliedState(dir), null, 'a missing set file');
});

test('a set file damaged since it was written is written again by the next state, even if nothing read it first', () => {
  const { dir, written, file, good, edited } = appliedWithSetFile();
  writeFileSync(file, edited);
  // The next apply reuses set files by id: it must not vouch for these bytes in the state it writes.
  writePendingState(dir, written);
  promotePendingState(dir);
  assert.equal(readFileSync(file), good);
  assert.equal(readAppliedState(dir)!.sets[largeId(written)]!.prefixes, nets(3000));
});

test.run();

// The applied record and states on disk: checked by the text after their checksum (no second serialisation), files
// of older versions still read, an edit or a torn write is never trusted, and a pending state becomes the applied one.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  inspectRecord,
  promotePendingState,
  readAppliedState,
  writePendingState,
  writeRecord,
  type AppliedRecord,
} from '../../src/reconcile/applied-record.js';
import type { DesiredState } from '../../src/compile/desired-state.js';

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

/** A state with a large set, as the loader sees it (only its shape matters to the record). */
const state = (hash: string, nets = 1000): DesiredState =>
  ({
    formatVersion: 2,
    host: 'db-1',
    hash,
    interfaces: [],
    sets: [{ id: 's', nets: Array.from({ length: nets }, (_, i) => `10.${i >> 8}.${i & 255}.0/24`) }],
  }) as unknown as DesiredState;

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
  assert.is((applied as unknown as { sets: { nets: string[] }[] }).sets[0]!.nets.length, 50_000);
});

test('an applied state edited by hand is not trusted', () => {
  const dir = stateDir();
  writePendingState(dir, state('h1'));
  promotePendingState(dir);
  writeRecord(dir, record('h1'));
  const file = path.join(dir, 'applied-state.json');
  writeFileSync(file, readFileSync(file, 'utf8').replace('10.0.1.0/24', '10.0.9.0/24'));
  assert.is(readAppliedState(dir), null);
});

test.run();

// The host's own record of what notrack applied: commit, generation per interface and the applied DesiredState.
// Written atomically (temporary file + rename, 0600 in a 0700 folder) with a checksum, before and after every switch:
// before, the record names the revision being switched in (`pending`) and its state is kept beside the applied one,
// so a failure half-way never leaves a record that names the old commit while the kernel runs the new one. A record
// that cannot be read, is not JSON, has the wrong shape or a wrong checksum is never trusted and never blocks: it
// reads as absent (with the problem said) and the next apply rebuilds it from the host.
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  linkSync,
  mkdirSync,
  readFileSync,
  renameSync,
  writeFileSync,
  openSync,
  fsyncSync,
  closeSync,
  rmSync,
  readSync,
} from 'node:fs';
import path from 'node:path';
import type { DesiredState, PrefixSet } from '../compile/desired-state.js';
import { PackedPrefixSet } from '../compile/prefix-set.js';
import { NotrackError } from '../errors.js';
import { updateText } from './text-digest.js';
import { ingressJson } from './host-dataplane.js';
import {
  pruneSets,
  readSetTable,
  readStoredSet,
  removeSets,
  storeSet,
  storeSetTable,
  storedApart,
  type StoredSetEntry,
} from './set-store.js';

const RECORD_VERSION = 1;
/**
 * 5: the small sets are stored apart too, all in one set table named by what they are (`setTable`), so that a state
 * whose small sets did not change writes none of them again; `state.sets` holds the large sets' entries only.
 * 4: large sets are stored in set files by id (set-store.ts), named in `setFiles` and by `stored` in each set.
 * 3: large sets are stored packed inline (`count` and `packed`, no `prefixes`). An older notrack refuses a newer file
 * as not its version (and compiles from Git again) instead of reading sets without members. Version 2 files (every
 * set as text) and version 3 files are still read.
 */
const STATE_VERSION = 5;
const STATE_VERSIONS_READ: readonly unknown[] = [2, 3, 4, 5];

export interface AppliedRevision {
  repo: string;
  ref: string | null;
  commit: string | null;
}

export interface InterfaceRecord {
  /** The generation the interface runs (its pins live in <bpffs>/<ifname>/gen-<n>). */
  generation: number;
  /** Fingerprint of what each generation was built from, by generation number (written before it is switched in,
   *  so after a crash the running generation's fingerprint is always known). */
  generations: Record<string, string>;
  /** The running generation's policy program id and its class maps' entry counts, to notice tampering. */
  policyProgramId: number | null;
  policyMapEntries: Record<string, number>;
  /** sha256 of each array class map's contents (absent in records of older notrack versions). */
  policyMapDigests?: Record<string, string>;
  xdpMode: string | null;
  tcMechanism: string | null;
  /** The interface index notrack attached to: another index means the interface was re-created since. */
  ifindex?: number;
}

export interface AppliedRecord {
  formatVersion: typeof RECORD_VERSION;
  host: string;
  revision: AppliedRevision;
  /** DesiredState.hash of the last complete apply. */
  desiredHash: string;
  appliedAt: string;
  interfaces: Record<string, InterfaceRecord>;
  /** Set from before the first change of an apply until it completed: what the host is being switched to. */
  pending?: { revision: AppliedRevision; desiredHash: string; since: string };
}

/** The state folder could not be written (a full disk, a read-only mount): says what the host runs meanwhile. */
export class StateWriteError extends NotrackError {
  constructor(stateDir: string, cause: unknown, meanwhile: string) {
    super(
      'state-write-failed',
      `cannot write notrack's record in ${stateDir} (${(cause as NodeJS.ErrnoException)?.code ?? (cause as Error)?.message}): ${meanwhile}`,
      { cause },
    );
  }
}

/** Paths of the record, the applied DesiredState and the one being switched in, inside the state folder. */
function recordPaths(stateDir: string): { record: string; desired: string; next: string; previous: string } {
  return {
    record: path.join(stateDir, 'applied.json'),
    desired: path.join(stateDir, 'applied-state.json'),
    next: path.join(stateDir, 'applied-state.next.json'),
    previous: path.join(stateDir, 'applied-state.previous.json'),
  };
}

/** The state folder, private to root: it says which rules run here. */
export function makeStateDir(stateDir: string): void {
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
}

/**
 * Writes a file in the state folder whole or not at all (temporary file, rename). `durable: false` skips the fsync:
 * for a cache whose entries are checked when read, where a file a power loss tore only costs a parse.
 */
export function writeAtomic(file: string, text: string | Uint8Array, opts: { durable?: boolean } = {}): void {
  makeStateDir(path.dirname(file));
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, text, { mode: 0o600 });
    if (opts.durable !== false) {
      const fd = openSync(tmp, 'r');
      try {
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    }
    renameSync(tmp, file);
  } catch (e) {
    // A full disk must not leave a half-written temporary file behind (they would pile up at every attempt).
    rmSync(tmp, { force: true });
    throw e;
  }
}

function checksum(value: unknown): string {
  return updateText(createHash('sha256'), JSON.stringify(value)).digest('hex');
}

type Read<T> = { value: T | null; problem: string | null };

/** A checksummed JSON file: `{ ..., checksum }` where the checksum covers everything else. */
export function readChecked<T>(file: string, check: (v: unknown) => string | null): Read<T> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { value: null, problem: null };
    return { value: null, problem: `${file} cannot be read (${(e as Error).message})` };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    return { value: null, problem: `${file} is not JSON (${(e as Error).message})` };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    return { value: null, problem: `${file} holds ${JSON.stringify(parsed)?.slice(0, 40)}, not a record` };
  const { checksum: sum, ...rest } = parsed as Record<string, unknown>;
  if (sum !== textChecksum(text) && sum !== checksum(rest))
    return { value: null, problem: `${file} fails its checksum (edited or torn)` };
  const shape = check(rest);
  if (shape) return { value: null, problem: `${file} ${shape}` };
  return { value: rest as T, problem: null };
}

/** Where writeChecked puts the checksum: first, so that the rest of the line is the JSON it covers. */
const CHECKSUM_HEAD = /^\{"checksum":"([0-9a-f]{64})",/;

/**
 * The checksum of a file writeChecked wrote, from its text alone: the bytes after the checksum are the value's JSON
 * as written, so a state of tens of MB is not serialised again to be checked (null for files that put it elsewhere,
 * written by older versions: those are checked by serialising what was read).
 */
function textChecksum(text: string): string | null {
  const head = CHECKSUM_HEAD.exec(text);
  if (!head) return null;
  const body = text.endsWith('\n') ? text.slice(head[0].length, -1) : text.slice(head[0].length);
  return updateText(createHash('sha256').update('{'), body).digest('hex');
}

export function writeChecked(file: string, value: object): void {
  writeCheckedJson(file, JSON.stringify(value));
}

/** writeChecked of a value serialised already (`json`, an object's JSON text). */
function writeCheckedJson(file: string, json: string): void {
  // Serialised once: the checksum covers exactly the text written after it (see textChecksum).
  const sum = updateText(createHash('sha256'), json).digest('hex');
  writeAtomic(file, json === '{}' ? `{"checksum":"${sum}"}\n` : `{"checksum":"${sum}",${json.slice(1)}\n`);
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function recordShape(v: unknown): string | null {
  if (!isObject(v)) return 'is not an object';
  if (v['formatVersion'] !== RECORD_VERSION)
    return `has format version ${String(v['formatVersion'])}, not ${RECORD_VERSION}`;
  if (typeof v['host'] !== 'string' || typeof v['desiredHash'] !== 'string' || typeof v['appliedAt'] !== 'string')
    return 'lacks host, desiredHash or appliedAt';
  if (!isObject(v['revision'])) return 'lacks its revision';
  if (!isObject(v['interfaces'])) return 'lacks its interfaces';
  for (const [name, i] of Object.entries(v['interfaces'])) {
    if (!isObject(i) || typeof i['generation'] !== 'number' || !isObject(i['generations']))
      return `has a malformed entry for ${name}`;
  }
  return null;
}

function stateShape(v: unknown): string | null {
  if (!isObject(v) || !STATE_VERSIONS_READ.includes(v['formatVersion']))
    return `is not a version ${STATE_VERSIONS_READ.join(' or ')} state file`;
  const s = v['state'];
  if (!isObject(s) || typeof s['hash'] !== 'string' || !Array.isArray(s['interfaces']) || !isObject(s['sets']))
    return 'holds no state';
  return null;
}

/** The record and, when it cannot be trusted, why (a missing record is no problem: nothing was applied). */
export function inspectRecord(stateDir: string): { record: AppliedRecord | null; problem: string | null } {
  const r = readChecked<AppliedRecord>(recordPaths(stateDir).record, recordShape);
  return { record: r.value, problem: r.problem };
}

/** The record, or null when there is none or it cannot be trusted (inspectRecord says why). */
export function readRecord(stateDir: string): AppliedRecord | null {
  return inspectRecord(stateDir).record;
}

export function writeRecord(stateDir: string, record: AppliedRecord): void {
  writeChecked(recordPaths(stateDir).record, record);
}

/**
 * A state as read: its sets become PackedPrefixSets whose members are decoded (packed ones) or packed (text ones, as
 * older versions wrote every set) only when something reads them; drift and the unread path need only their ids.
 * A set kept in a set file is read and checked against the state's digest of it here.
 */
function readState(file: string, retry = true): DesiredState | null {
  const read = readChecked<{ state: DesiredState; setTable?: unknown }>(file, stateShape).value;
  const state = read?.state;
  if (!state) return null;
  // A reader without the host lock (status, drift, the agent's protection check) may have read the state file just
  // before an apply replaced it and pruned the old state's set files: the file read again is the new one.
  const again = (found: unknown): DesiredState | null => (retry && found === 'missing' ? readState(file, false) : null);
  const entries: [string, PrefixSet][] = [];
  if (read.setTable !== undefined) {
    const table = readSetTable(path.dirname(file), read.setTable);
    if (!table || table === 'missing') return again(table);
    entries.push(...Object.entries(table));
  }
  for (const [id, raw] of Object.entries(state.sets)) {
    const fields = raw as unknown as Record<string, unknown>;
    const set = 'stored' in fields ? readStoredSet(path.dirname(file), fields) : PackedPrefixSet.stored(fields);
    if (!set || set === 'missing' || set.id !== id) return again(set);
    entries.push([id, set]);
  }
  // In id order, as the compile made them (a version 5 file keeps its small and large sets apart).
  if (read.setTable !== undefined) entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return { ...state, sets: Object.fromEntries(entries) };
}

/**
 * The DesiredState drift is measured against: the one being switched in while an apply is pending (the kernel may
 * already run much of it; measuring against the old one would revert it), else the last completely applied one.
 */
export function readAppliedState(stateDir: string): DesiredState | null {
  const paths = recordPaths(stateDir);
  if (readRecord(stateDir)?.pending) {
    const next = readState(paths.next);
    if (next) return next;
  }
  return readState(paths.desired);
}

/**
 * Keeps the state of an apply about to start (before anything changes). Its large sets go to set files by id and
 * its small ones to one set table first (only those no file holds yet are written), so the state file stays small
 * and names them.
 */
export function writePendingState(stateDir: string, state: DesiredState): void {
  const sets: Record<string, StoredSetEntry> = {};
  const setFiles: string[] = [];
  const small: PrefixSet[] = [];
  for (const [id, set] of Object.entries(state.sets)) {
    if (!storedApart(set)) small.push(set);
    else {
      sets[id] = storeSet(stateDir, set, writeAtomic);
      setFiles.push(id);
    }
  }
  const setTable = storeSetTable(stateDir, small, writeAtomic);
  // The interfaces' entries go in as ingressJson's text, which their fingerprints hash next (made once for both).
  const rest = JSON.stringify({
    formatVersion: STATE_VERSION,
    setFiles,
    ...(setTable ? { setTable } : {}),
    state: { ...state, sets, interfaces: undefined },
  });
  const interfaces = state.interfaces.map((iface) => {
    const others = JSON.stringify({ ...iface, ingress: undefined });
    return `${others.slice(0, -1)}${others === '{}' ? '' : ','}"ingress":${ingressJson(iface)}}`;
  });
  // `state` is the last field: its object's text ends the whole text, `}}`.
  const json = `${rest.slice(0, -2)}${rest.endsWith('{}}') ? '' : ','}"interfaces":[${interfaces.join(',')}]}}`;
  writeCheckedJson(recordPaths(stateDir).next, json);
}

/** The set files and the set table a state file names (none for older versions; a file that cannot be read needs
 *  none): read from its head, where writePendingState puts them. */
function setFilesOf(file: string): string[] {
  let head: string;
  try {
    const fd = openSync(file, 'r');
    try {
      const buf = Buffer.alloc(64 * 1024);
      head = buf.toString('latin1', 0, readSync(fd, buf, 0, buf.length, 0));
    } finally {
      closeSync(fd);
    }
  } catch {
    return [];
  }
  const m = /^\{"checksum":"[0-9a-f]{64}","formatVersion":\d+,"setFiles":\[([^\]]*)\]/.exec(head);
  // After the list: the set table (version 5), or the state itself (no small sets, or version 4).
  const after = m ? /^,(?:"setTable":\{"file":"([0-9a-f]{64})"|"state":)/.exec(head.slice(m[0].length)) : null;
  if (m && after) {
    const ids = [...m[1]!.matchAll(/"([0-9a-f]{16})"/g)].map((x) => x[1]!);
    return after[1] ? [...ids, after[1]] : ids;
  }
  // A list too long for the head (thousands of large sets), or a head of another shape: read the whole file.
  if (!/^\{"checksum":"[0-9a-f]{64}","formatVersion":\d+,"setFiles":/.test(head)) return [];
  const all = readChecked<{ setFiles: string[]; setTable?: { file?: unknown } }>(file, (v) =>
    isObject(v) && Array.isArray(v['setFiles']) ? null : 'has no set files',
  ).value;
  if (!all) return [];
  const named = all.setFiles.filter((id) => typeof id === 'string');
  return typeof all.setTable?.file === 'string' ? [...named, all.setTable.file] : named;
}

/** Removes the set files and tables that no state file (applied, pending, previous) names any more. Under the host
 *  lock. */
export function pruneStoredSets(stateDir: string): void {
  const paths = recordPaths(stateDir);
  const kept = new Set<string>();
  for (const file of [paths.desired, paths.next, paths.previous]) for (const id of setFilesOf(file)) kept.add(id);
  pruneSets(stateDir, kept);
}

/**
 * The state of a completed apply becomes the applied one: the pending state this apply wrote (writePendingState) is
 * renamed over it, so that a state of tens of MB (a 1M-prefix set) is not serialised and written a second time. Only
 * for the apply that wrote it, under the host lock.
 */
export function promotePendingState(stateDir: string): void {
  const paths = recordPaths(stateDir);
  renameSync(paths.next, paths.desired);
  pruneStoredSets(stateDir);
}

/**
 * Keeps the applied state as the previous one before a switch that is to be confirmed (the way back): a hard link
 * (a byte copy where links fail), so a large state is neither read nor written. Safe because a state file is never
 * written in place: every write renames a new file over the name, and the link keeps the old one.
 */
export function keepPreviousState(stateDir: string): void {
  const paths = recordPaths(stateDir);
  const tmp = `${paths.previous}.${process.pid}.tmp`;
  try {
    rmSync(tmp, { force: true });
    try {
      linkSync(paths.desired, tmp);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw e;
      copyFileSync(paths.desired, tmp);
    }
    renameSync(tmp, paths.previous);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

/** The state kept by keepPreviousState, or null. */
export function readPreviousState(stateDir: string): DesiredState | null {
  return readState(recordPaths(stateDir).previous);
}

export function removePreviousState(stateDir: string): void {
  rmSync(recordPaths(stateDir).previous, { force: true });
}

/** Removes the record and the states (notrack remove). */
export function removeRecord(stateDir: string): void {
  for (const f of Object.values(recordPaths(stateDir))) rmSync(f, { force: true });
  removeSets(stateDir);
}

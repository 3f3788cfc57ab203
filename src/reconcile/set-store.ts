// The large sets of the stored states, one file per set id in <state folder>/sets (content-addressed): a new state
// after a one-prefix change writes the one changed set, never the unchanged million-prefix ones again.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { PrefixSet } from '../compile/desired-state.js';
import { packedDigest, type PackedPrefixes } from '../compile/packed-prefixes.js';
import { memberCount, PackedPrefixSet, packedMembers, TEXT_MEMBERS_MAX } from '../compile/prefix-set.js';

/**
 * A set file: this magic, the SHA-256 of the records, then the records (the state file's packed form as bytes: 5 per
 * IPv4 prefix, 17 per IPv6 one, in canonical order).
 */
const MAGIC = Buffer.from('NTSET01\n', 'latin1');
const HEAD = MAGIC.length + 32;

/** A set as the state file names it when its members live in a set file. */
export interface StoredSetEntry {
  id: string;
  family: 4 | 6;
  origin: string;
  count: number;
  /** SHA-256 (hex) of the set file's records: the checksummed state file vouches for the set file's bytes. */
  stored: string;
}

const folderOf = (stateDir: string): string => path.join(stateDir, 'sets');
const fileOf = (stateDir: string, id: string): string => path.join(folderOf(stateDir), `${id}.set`);
const recordBytes = (family: 4 | 6): number => (family === 4 ? 5 : 17);

/** Whether a set is stored in a set file (larger sets) or inline in the state file (small ones, readable text). */
export function storedApart(set: PrefixSet): boolean {
  return memberCount(set) > TEXT_MEMBERS_MAX;
}

/**
 * The digest of an existing set file that fits `count` records and whose records hash to the digest in its head; else
 * null (then it is written again). The records are hashed, not only the head read: a file damaged since it was written
 * must not be vouched for by the next state file (which would then be unreadable).
 */
function existingDigest(file: string, family: 4 | 6, count: number): string | null {
  const bytes = readKept(file);
  if (!(bytes instanceof Buffer)) return null;
  if (bytes.length !== HEAD + count * recordBytes(family) || !bytes.subarray(0, MAGIC.length).equals(MAGIC))
    return null;
  const digest = bytes.subarray(MAGIC.length, HEAD).toString('hex');
  return createHash('sha256').update(bytes.subarray(HEAD)).digest('hex') === digest ? digest : null;
}

/**
 * The records of a set file straight from the packed members: the address words big-endian, then the length (the
 * bytes of encodePacked's base64, made without Buffer.writeUInt32BE per word and without the base64 text and its
 * decoding: ~20 ms of CPU for a 1M-prefix set where that took ~50). `room`: bytes left in front (for the set file's
 * head), so that the records are never copied.
 */
export function setRecords(p: PackedPrefixes, room = 0): Buffer {
  const { words, lens, count } = p;
  const size = recordBytes(p.family);
  const out = Buffer.allocUnsafe(room + count * size);
  const view = new DataView(out.buffer, out.byteOffset, out.length);
  if (p.family === 4) {
    for (let i = 0, at = room; i < count; i++, at += 5) {
      view.setUint32(at, words[i]!);
      out[at + 4] = lens[i]!;
    }
  } else {
    for (let i = 0, at = room; i < count; i++, at += 17) {
      for (let w = 0; w < 4; w++) view.setUint32(at + w * 4, words[i * 4 + w]!);
      out[at + 16] = lens[i]!;
    }
  }
  return out;
}

/**
 * Writes the set file of `set` unless one of its id is there already (same id, same members: the bytes would be
 * the same), and returns what the state file says of it. `write` is the state folder's atomic write.
 */
export function storeSet(
  stateDir: string,
  set: PrefixSet,
  write: (file: string, bytes: Uint8Array) => void,
): StoredSetEntry {
  const count = memberCount(set);
  const entry = { id: set.id, family: set.family, origin: set.origin, count };
  const file = fileOf(stateDir, set.id);
  const kept = existingDigest(file, set.family, count);
  if (kept) return { ...entry, stored: kept };
  // One buffer, head and records: the records are hashed once, in place.
  const bytes = setRecords(packedMembers(set), HEAD);
  MAGIC.copy(bytes, 0);
  const digest = createHash('sha256').update(bytes.subarray(HEAD)).digest();
  digest.copy(bytes, MAGIC.length);
  write(file, bytes);
  return { ...entry, stored: digest.toString('hex') };
}

/**
 * A set file's or table's bytes; 'missing' when there is no such file (pruned under a lockless reader), null when it
 * cannot be read.
 */
function readKept(file: string): Buffer | 'missing' | null {
  try {
    return readFileSync(file);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing' : null;
  }
}

/**
 * The set a state file names by its set file, checked: the magic, the size its count gives, and the records'
 * SHA-256 against both the file's head and the state's entry. 'missing' when there is no such file; null when it
 * fails (the file is then removed, so that the next apply writes it again instead of finding it there).
 */
export function readStoredSet(stateDir: string, raw: Record<string, unknown>): PrefixSet | 'missing' | null {
  const { id, family, count, stored } = raw;
  if (typeof id !== 'string' || !/^[0-9a-f]{16}$/.test(id) || (family !== 4 && family !== 6)) return null;
  if (typeof count !== 'number' || !Number.isSafeInteger(count) || typeof stored !== 'string') return null;
  const file = fileOf(stateDir, id);
  const bytes = readKept(file);
  if (bytes === null || bytes === 'missing') return bytes;
  const records = bytes.subarray(HEAD);
  const fits =
    bytes.length === HEAD + count * recordBytes(family) &&
    bytes.subarray(0, MAGIC.length).equals(MAGIC) &&
    bytes.subarray(MAGIC.length, HEAD).toString('hex') === stored &&
    createHash('sha256').update(records).digest('hex') === stored;
  if (!fits) {
    rmSync(file, { force: true });
    return null;
  }
  // The state file's packed form, checked again (canonical order) when the members are first read.
  return PackedPrefixSet.stored({ id, family, origin: raw['origin'], count, packed: records.toString('base64') });
}

/**
 * A set table: this magic, the SHA-256 (hex) of the rest and a newline, then the JSON of the small sets by id (each
 * `{id, family, origin, prefixes}`, as a state file of version 4 held them inline). Named by a digest of what the
 * sets are (ids, families, member digests, origins), so a new state whose small sets are all the same (a one-prefix
 * change of a large set: 10,000 rules' own nets) names the table already there and writes none.
 */
const TABLE_MAGIC = 'NTSETTABLE1 ';
const TABLE_HEAD = TABLE_MAGIC.length + 64 + 1;

/** What a state file says of its set table: the table's name and the SHA-256 of its JSON. */
export interface StoredSetTable {
  file: string;
  stored: string;
}

const tableOf = (stateDir: string, key: string): string => path.join(folderOf(stateDir), `${key}.table`);

/** The name of the table of these sets: the SHA-256 of each one's id, family, member digest and origin, in order. */
function tableKey(sets: readonly PrefixSet[]): string {
  const lines = sets.map((set) => {
    const digest = set instanceof PackedPrefixSet ? set.digest : packedDigest(packedMembers(set));
    return `${set.id}\0${set.family}\0${digest}\0${set.origin}\n`;
  });
  // One text hashed at once (10,000 small sets: one update, not 10,000).
  return createHash('sha256')
    .update(`set table 1\n${lines.join('')}`)
    .digest('hex');
}

/** Tables (name and checksum) this process found holding the sets their name says. */
const namedTables = new Set<string>();

/** The checksum of a set table file when its head and its JSON agree; else null. */
function tableChecksum(bytes: Buffer): string | null {
  if (bytes.length < TABLE_HEAD || bytes.toString('latin1', 0, TABLE_MAGIC.length) !== TABLE_MAGIC) return null;
  const head = bytes.toString('latin1', TABLE_MAGIC.length, TABLE_HEAD - 1);
  if (bytes[TABLE_HEAD - 1] !== 10) return null;
  return createHash('sha256').update(bytes.subarray(TABLE_HEAD)).digest('hex') === head ? head : null;
}

/**
 * Writes the set table of `sets` (the small ones, in id order) unless a sound one of its name is there, and returns
 * what the state file says of it; null when there are none. The JSON is made only when the table is written.
 */
export function storeSetTable(
  stateDir: string,
  sets: readonly PrefixSet[],
  write: (file: string, bytes: Uint8Array) => void,
): StoredSetTable | null {
  if (!sets.length) return null;
  const key = tableKey(sets);
  const file = tableOf(stateDir, key);
  const bytes = readKept(file);
  const kept = bytes instanceof Buffer ? tableChecksum(bytes) : null;
  if (kept) return { file: key, stored: kept };
  const json = Buffer.from(JSON.stringify(Object.fromEntries(sets.map((set) => [set.id, set]))));
  const sum = createHash('sha256').update(json).digest('hex');
  write(file, Buffer.concat([Buffer.from(`${TABLE_MAGIC}${sum}\n`, 'latin1'), json]));
  return { file: key, stored: sum };
}

/**
 * The sets of the table a state file names, checked: its head, its JSON's SHA-256 against both its head and the
 * state's `stored`, each set's shape, and its name against its sets. 'missing' when there is no such file; null when
 * it fails (the file is then removed, so that the next apply writes it again).
 */
export function readSetTable(stateDir: string, raw: unknown): Record<string, PrefixSet> | 'missing' | null {
  if (typeof raw !== 'object' || raw === null) return null;
  const { file: key, stored } = raw as Record<string, unknown>;
  if (typeof key !== 'string' || !/^[0-9a-f]{64}$/.test(key) || typeof stored !== 'string') return null;
  const file = tableOf(stateDir, key);
  const bytes = readKept(file);
  if (bytes === null || bytes === 'missing') return bytes;
  const sets: Record<string, PrefixSet> = {};
  try {
    if (tableChecksum(bytes) !== stored) throw new Error('checksum');
    const parsed = JSON.parse(bytes.toString('utf8', TABLE_HEAD)) as unknown;
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('shape');
    for (const [id, fields] of Object.entries(parsed as Record<string, unknown>)) {
      const set =
        typeof fields === 'object' && fields !== null
          ? PackedPrefixSet.stored(fields as Record<string, unknown>)
          : null;
      if (!set || set.id !== id) throw new Error('set');
      sets[id] = set;
    }
    // The table must be the one its name says (the name hashes each set's id, family, members and origin, in the
    // order written): a checksum alone would let a table sealed again over other sets stand for these. Once per
    // process for given bytes (their SHA-256 is `stored`, checked above on every read): the agent reads the applied
    // state at every protection check.
    const named = `${key} ${stored}`;
    if (!namedTables.has(named)) {
      if (tableKey(Object.values(sets)) !== key) throw new Error('name');
      if (namedTables.size >= 64) namedTables.clear();
      namedTables.add(named);
    }
  } catch {
    rmSync(file, { force: true });
    return null;
  }
  return sets;
}

/**
 * Removes the set files and tables no state file names any more (`kept`: the set ids and table names the state
 * files name), and temporary files a killed write left. Under the host lock: the only writer of set files is an
 * apply, which holds it.
 */
export function pruneSets(stateDir: string, kept: ReadonlySet<string>): void {
  let names: string[];
  try {
    names = readdirSync(folderOf(stateDir));
  } catch {
    return;
  }
  for (const name of names) {
    const m = /^(?:([0-9a-f]{16})\.set|([0-9a-f]{64})\.table)$/.exec(name);
    const id = m?.[1] ?? m?.[2];
    if (id === undefined || !kept.has(id)) rmSync(path.join(folderOf(stateDir), name), { force: true });
  }
}

/** Removes every set file (notrack remove). */
export function removeSets(stateDir: string): void {
  rmSync(folderOf(stateDir), { recursive: true, force: true });
}

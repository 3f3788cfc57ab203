// The inflated size of a Git object read from its header alone (a loose object's first bytes, or a packed
// object's entry through the pack index), so a blob too large to read is never inflated to learn that it is.
import { open, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import pako from 'pako';

/** Parsed pack indexes of one object store, by .idx path, shared by the calls of one read. */
export type PackIndexes = Map<string, Buffer>;

const OFS_DELTA = 6;
const REF_DELTA = 7;
/** Enough of an entry for its header (at most 10 size bytes, a 20-byte base or a 10-byte offset) and a delta's two sizes. */
const ENTRY_HEAD_BYTES = 512;

class Enough extends Error {}

/**
 * Inflates `deflated` only until `want` says it has enough (a few bytes), never further: a stream of a gigabyte of
 * zeros costs what its first chunk costs.
 */
function inflatePrefix<T>(deflated: Uint8Array, want: (head: Buffer) => T | undefined): T | undefined {
  const inflater = new pako.Inflate({ chunkSize: 64 });
  let head = Buffer.alloc(0);
  let found: T | undefined;
  inflater.onData = (chunk: Uint8Array) => {
    head = Buffer.concat([head, chunk]);
    found = want(head);
    if (found !== undefined || head.length > 64) throw new Enough();
  };
  try {
    inflater.push(deflated, 2 /* Z_SYNC_FLUSH: hand out what the input so far makes */);
  } catch (e) {
    if (!(e instanceof Enough)) throw e;
  }
  return found;
}

/** A delta's leading little-endian base-128 sizes: [base, result]. */
function deltaSizes(buf: Buffer): [number, number] | undefined {
  const sizes: number[] = [];
  let i = 0;
  for (let k = 0; k < 2; k++) {
    let value = 0;
    let scale = 1;
    for (;;) {
      if (i >= buf.length) return undefined;
      const b = buf[i++]!;
      value += (b & 0x7f) * scale;
      scale *= 128;
      if ((b & 0x80) === 0) break;
    }
    sizes.push(value);
  }
  return [sizes[0]!, sizes[1]!];
}

async function looseSize(gitdir: string, oid: string): Promise<number | undefined> {
  let file;
  try {
    file = await open(path.join(gitdir, 'objects', oid.slice(0, 2), oid.slice(2)), 'r');
  } catch {
    return undefined;
  }
  try {
    const buf = Buffer.alloc(ENTRY_HEAD_BYTES);
    const { bytesRead } = await file.read(buf, 0, buf.length, 0);
    return inflatePrefix(buf.subarray(0, bytesRead), (head) => {
      const nul = head.indexOf(0);
      if (nul === -1) return undefined;
      const size = /^[a-z]+ (\d+)$/.exec(head.subarray(0, nul).toString('latin1'))?.[1];
      return size === undefined ? undefined : Number(size);
    });
  } finally {
    await file.close();
  }
}

/** Where `oid` starts in the pack a version-2 index describes, or undefined when the pack does not hold it. */
function offsetInIndex(idx: Buffer, oid: string): number | undefined {
  if (idx.readUInt32BE(0) !== 0xff744f63 || idx.readUInt32BE(4) !== 2) return undefined;
  const want = Buffer.from(oid, 'hex');
  const fanout = 8;
  const total = idx.readUInt32BE(fanout + 255 * 4);
  let lo = want[0] === 0 ? 0 : idx.readUInt32BE(fanout + (want[0]! - 1) * 4);
  let hi = idx.readUInt32BE(fanout + want[0]! * 4);
  const names = fanout + 256 * 4;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const cmp = idx.compare(want, 0, 20, names + mid * 20, names + mid * 20 + 20);
    if (cmp === 0) {
      const offsets = names + total * 20 + total * 4;
      const small = idx.readUInt32BE(offsets + mid * 4);
      if ((small & 0x80000000) === 0) return small;
      const large = offsets + total * 4 + (small & 0x7fffffff) * 8;
      return Number(idx.readBigUInt64BE(large));
    }
    if (cmp > 0) hi = mid;
    else lo = mid + 1;
  }
  return undefined;
}

async function packedSize(packFile: string, offset: number): Promise<number | undefined> {
  const file = await open(packFile, 'r');
  try {
    const buf = Buffer.alloc(ENTRY_HEAD_BYTES);
    const { bytesRead } = await file.read(buf, 0, buf.length, offset);
    const entry = buf.subarray(0, bytesRead);
    let i = 0;
    let byte = entry[i++]!;
    const type = (byte >> 4) & 7;
    let size = byte & 0x0f;
    let scale = 16;
    while (byte & 0x80) {
      byte = entry[i++]!;
      size += (byte & 0x7f) * scale;
      scale *= 128;
    }
    if (type !== OFS_DELTA && type !== REF_DELTA) return size;
    if (type === OFS_DELTA) while (entry[i++]! & 0x80);
    else i += 20;
    return inflatePrefix(entry.subarray(i), (head) => deltaSizes(head)?.[1]);
  } finally {
    await file.close();
  }
}

/**
 * The inflated size of object `oid` in `gitdir`, or undefined when neither a loose object nor a pack index
 * here holds it (the caller then reads it as before).
 */
export async function objectSize(gitdir: string, oid: string, indexes: PackIndexes): Promise<number | undefined> {
  const loose = await looseSize(gitdir, oid);
  if (loose !== undefined) return loose;
  const packDir = path.join(gitdir, 'objects', 'pack');
  let names: string[];
  try {
    names = (await readdir(packDir)).filter((n) => n.endsWith('.idx'));
  } catch {
    return undefined;
  }
  for (const name of names) {
    const idxPath = path.join(packDir, name);
    let idx = indexes.get(idxPath);
    if (idx === undefined) {
      idx = await readFile(idxPath);
      indexes.set(idxPath, idx);
    }
    const offset = offsetInIndex(idx, oid);
    if (offset !== undefined) return packedSize(idxPath.replace(/\.idx$/, '.pack'), offset);
  }
  return undefined;
}

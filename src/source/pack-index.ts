// Indexes a fetched pack from the pack guard's one inflating pass: each object's id, CRC and offset (a version 2
// pack index, byte for byte what git index-pack writes) and the objects themselves, so nothing inflates it again.
import { createHash } from 'node:crypto';
import zlib from 'node:zlib';
import { gitObjectId, type GitObjectType } from './object-id.js';

/**
 * The most inflated bytes (objects and what their deltas make) kept while a pack is indexed here. A policy
 * commit's pack inflates to tens of MB (the bench's 1M-prefix deny list: 22 MB); a pack that inflates to more is
 * left to isomorphic-git, and what was kept is dropped. With the pack held (at most --max-pack-bytes, 64 MiB by
 * default, joined once at the end) this stays within what isomorphic-git's own indexing holds at the bounds.
 */
export const MAX_KEPT_BYTES = 96 * 1024 * 1024;

const OFS_DELTA = 6;
const REF_DELTA = 7;
const TYPE_NAMES: Record<number, FetchedObject['type']> = { 1: 'commit', 2: 'tree', 3: 'blob', 4: 'tag' };

/** A whole object of the pack: its type and its content (a delta already applied). */
export interface FetchedObject {
  type: GitObjectType;
  content: Buffer;
}

/** A pack indexed here: write `pack` and `index` as pack-<sha>.pack and .idx; `objects` by id. */
export interface IndexedPack {
  sha: string;
  pack: Buffer;
  index: Buffer;
  objects: Map<string, FetchedObject>;
}

interface PackObject {
  offset: number;
  /** The type as packed: 1-4 a whole object, 6 and 7 a delta. */
  packedType: number;
  /** An ofs-delta's base, by its offset in the pack. */
  baseOffset?: number;
  /** A ref-delta's base, by id. */
  baseOid?: string;
  /** What the pack holds for it, inflated: the content, or the delta. Dropped once the object is resolved. */
  data?: Buffer;
  type?: FetchedObject['type'];
  content?: Buffer;
  oid?: string;
}

/**
 * Collects what the guard inflates, object by object, and at the end of the pack resolves the deltas (against
 * objects of the same pack only) and hashes every object. Anything it cannot do (a thin pack's delta on an object
 * outside the pack, a delta that does not apply, more than MAX_KEPT_BYTES) makes `finish` return undefined, and
 * isomorphic-git indexes the pack as it would have.
 */
export class PackIndexer {
  private readonly objects: PackObject[] = [];
  private current: PackObject | undefined;
  private kept = 0;
  private failed = false;

  constructor(private readonly maxKeptBytes = MAX_KEPT_BYTES) {}

  /** False once the pack is left to isomorphic-git; nothing more is kept. */
  get indexing(): boolean {
    return !this.failed;
  }

  /** Leaves the pack to isomorphic-git and drops what was kept. */
  giveUp(): void {
    this.failed = true;
    this.objects.length = 0;
    this.current = undefined;
  }

  /**
   * A new object starts at `offset` (from the pack's first byte), declaring `size` inflated bytes; false when it is
   * not kept (the pack is left to isomorphic-git).
   */
  begin(offset: number, packedType: number, size: number, base: { offset?: number; oid?: string }): boolean {
    if (this.failed) return false;
    this.kept += size;
    if (this.kept > this.maxKeptBytes) {
      this.giveUp();
      return false;
    }
    const object: PackObject = { offset, packedType };
    if (base.offset !== undefined) object.baseOffset = base.offset;
    if (base.oid !== undefined) object.baseOid = base.oid;
    this.objects.push(object);
    this.current = object;
    return true;
  }

  /** The current object's data, inflated: its content, or its delta. */
  end(data: Buffer): void {
    if (this.current === undefined) return;
    this.current.data = data;
    this.current = undefined;
  }

  /** The index of `pack` (all of it, trailer included), or undefined when this pack is left to isomorphic-git. */
  finish(pack: Buffer): IndexedPack | undefined {
    if (this.failed || this.current !== undefined || pack.length < 32) return undefined;
    const body = pack.subarray(0, pack.length - 20);
    const sha = pack.subarray(pack.length - 20).toString('hex');
    if (createHash('sha1').update(body).digest('hex') !== sha) return undefined;
    if (this.objects.length !== pack.readUInt32BE(8)) return undefined;
    if (!this.resolve()) return undefined;
    const objects = new Map<string, FetchedObject>();
    for (const o of this.objects) objects.set(o.oid!, { type: o.type!, content: o.content! });
    // Two objects with one id would make two index entries for it; git's index-pack refuses such a pack too.
    if (objects.size !== this.objects.length) return undefined;
    return { sha, pack, index: packIndex(this.objects, pack, sha), objects };
  }

  /** Applies every delta and hashes every object; false when a delta's base is not in the pack or does not fit. */
  private resolve(): boolean {
    const byOffset = new Map<number, PackObject>();
    const byOid = new Map<string, PackObject>();
    const settle = (o: PackObject, type: FetchedObject['type'], content: Buffer): void => {
      o.type = type;
      o.content = content;
      o.oid = gitObjectId(type, content);
      delete o.data;
      byOid.set(o.oid, o);
    };
    let pending: PackObject[] = [];
    for (const o of this.objects) {
      byOffset.set(o.offset, o);
      const type = TYPE_NAMES[o.packedType];
      if (type !== undefined) settle(o, type, o.data!);
      else if (o.packedType === OFS_DELTA || o.packedType === REF_DELTA) pending.push(o);
      else return false;
    }
    // An ofs-delta's base comes earlier in the pack, a ref-delta's anywhere: each round settles what it can.
    while (pending.length > 0) {
      const left: PackObject[] = [];
      for (const o of pending) {
        const base = o.baseOffset !== undefined ? byOffset.get(o.baseOffset) : byOid.get(o.baseOid!);
        if (base === undefined) return false;
        if (base.content === undefined) {
          left.push(o);
          continue;
        }
        // What the delta makes counts against the bound before it is made.
        const made = deltaResultSize(o.data!);
        if (made === undefined || (this.kept += made) > this.maxKeptBytes) return false;
        const content = applyDelta(base.content, o.data!);
        if (content === undefined) return false;
        settle(o, base.type!, content);
      }
      if (left.length === pending.length) return false;
      pending = left;
    }
    return true;
  }
}

/** A little-endian base-128 size as a delta starts with; undefined when `delta` ends first. */
export function deltaSize(delta: Uint8Array, at: number): { value: number; next: number } | undefined {
  let value = 0;
  let scale = 1;
  for (let i = at; i < delta.length; i++) {
    value += (delta[i]! & 0x7f) * scale;
    scale *= 128;
    if ((delta[i]! & 0x80) === 0) return { value, next: i + 1 };
  }
  return undefined;
}

/** The size of what a delta makes, from its header. */
export function deltaResultSize(delta: Uint8Array): number | undefined {
  const base = deltaSize(delta, 0);
  return base && deltaSize(delta, base.next)?.value;
}

/** The object a Git delta makes from `base`: copies from the base and inserted bytes; undefined if it does not fit. */
export function applyDelta(base: Buffer, delta: Buffer): Buffer | undefined {
  const baseSize = deltaSize(delta, 0);
  if (baseSize === undefined || baseSize.value !== base.length) return undefined;
  const size = deltaSize(delta, baseSize.next);
  if (size === undefined) return undefined;
  const out = Buffer.allocUnsafe(size.value);
  let at = 0;
  let i = size.next;
  while (i < delta.length) {
    const op = delta[i++]!;
    if (op & 0x80) {
      // Copy: up to four offset bytes and three size bytes follow, each present when its bit is set.
      let offset = 0;
      let length = 0;
      for (let b = 0; b < 4; b++) if (op & (1 << b)) offset += delta[i++]! * 2 ** (8 * b);
      for (let b = 0; b < 3; b++) if (op & (16 << b)) length += delta[i++]! << (8 * b);
      if (length === 0) length = 0x10000;
      if (i > delta.length || offset + length > base.length || at + length > out.length) return undefined;
      base.copy(out, at, offset, offset + length);
      at += length;
    } else if (op !== 0) {
      if (i + op > delta.length || at + op > out.length) return undefined;
      delta.copy(out, at, i, i + op);
      at += op;
      i += op;
    } else {
      return undefined;
    }
  }
  return at === out.length ? out : undefined;
}

const CRC_TABLE = (() => {
  const table = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c;
  }
  return table;
})();

/** zlib's own CRC-32, from Node 20.15 on; the table below is for older releases of Node 20. */
const nativeCrc32 = (zlib as { crc32?: (data: Uint8Array) => number }).crc32;

/** CRC-32 (as zlib computes it) of bytes [from, to) of `buf`. */
function crc32(buf: Buffer, from: number, to: number): number {
  return nativeCrc32 !== undefined ? nativeCrc32(buf.subarray(from, to)) >>> 0 : tableCrc32(buf, from, to);
}

/** The same CRC-32 from a table, in JavaScript. */
export function tableCrc32(buf: Buffer, from: number, to: number): number {
  let c = -1;
  for (let i = from; i < to; i++) c = CRC_TABLE[(c ^ buf[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}

/**
 * A version 2 pack index: magic and version, the fan-out table, the sorted ids, each object's CRC-32 of its packed
 * bytes, its offset (offsets past 2 GiB in a table of their own), the pack's checksum, the index's own checksum.
 */
function packIndex(objects: readonly PackObject[], pack: Buffer, sha: string): Buffer {
  const n = objects.length;
  const ends = new Map<number, number>();
  const byOffset = [...objects].sort((a, b) => a.offset - b.offset);
  byOffset.forEach((o, i) => ends.set(o.offset, byOffset[i + 1]?.offset ?? pack.length - 20));
  const sorted = [...objects].sort((a, b) => (a.oid! < b.oid! ? -1 : a.oid! > b.oid! ? 1 : 0));
  const large = sorted.filter((o) => o.offset >= 0x80000000);
  const out = Buffer.alloc(8 + 256 * 4 + n * 28 + large.length * 8 + 40);
  out.writeUInt32BE(0xff744f63, 0);
  out.writeUInt32BE(2, 4);
  const fanout = new Uint32Array(256);
  for (const o of sorted) fanout[Number.parseInt(o.oid!.slice(0, 2), 16)]! += 1;
  let total = 0;
  for (let b = 0; b < 256; b++) {
    total += fanout[b]!;
    out.writeUInt32BE(total, 8 + b * 4);
  }
  const ids = 8 + 256 * 4;
  const crcs = ids + n * 20;
  const offsets = crcs + n * 4;
  const wide = offsets + n * 4;
  let nextWide = 0;
  sorted.forEach((o, i) => {
    out.write(o.oid!, ids + i * 20, 'hex');
    out.writeUInt32BE(crc32(pack, o.offset, ends.get(o.offset)!), crcs + i * 4);
    if (o.offset < 0x80000000) out.writeUInt32BE(o.offset, offsets + i * 4);
    else {
      out.writeUInt32BE((0x80000000 | nextWide) >>> 0, offsets + i * 4);
      out.writeBigUInt64BE(BigInt(o.offset), wide + nextWide * 8);
      nextWide += 1;
    }
  });
  const tail = wide + large.length * 8;
  out.write(sha, tail, 'hex');
  createHash('sha1')
    .update(out.subarray(0, tail + 20))
    .digest()
    .copy(out, tail + 20);
  return out;
}

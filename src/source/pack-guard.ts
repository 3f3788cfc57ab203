// Reads a fetch's pack as it arrives and refuses it, before isomorphic-git holds or indexes any of it, when one
// object would inflate past a bound or the pack itself is too large: memory stays bounded whatever is pushed.
import { createHash } from 'node:crypto';
import { inflateSync } from 'node:zlib';
import pako, { type Inflate } from 'pako';
import { deltaResultSize, deltaSize, PackIndexer, type IndexedPack } from './pack-index.js';

/** Why a pack was refused: the object (its place in the pack, its type) and the size it declared. */
export class OversizedPackError extends Error {
  constructor(
    message: string,
    /** What was over its bound: one object's size, the pack's size, or the pack's object count. */
    readonly what: 'object' | 'pack',
    readonly size: number,
    readonly limit: number,
  ) {
    super(message);
    this.name = 'OversizedPackError';
  }
}

export interface PackLimits {
  /** The largest an object may inflate to (a delta: its result too), in bytes. */
  maxObjectBytes: number;
  /** The largest a pack may be as sent (compressed), in bytes. */
  maxPackBytes: number;
}

/**
 * The most objects one pack may hold. isomorphic-git keeps a few hundred bytes of bookkeeping per object while it
 * indexes a pack, so a pack of millions of tiny objects (a few bytes each, well under the pack bound) would cost
 * gigabytes; a policy repository's commit has thousands.
 */
export const MAX_PACK_OBJECTS = 100_000;

const TYPES: Record<number, string> = { 1: 'commit', 2: 'tree', 3: 'blob', 4: 'tag', 6: 'delta', 7: 'delta' };
const OFS_DELTA = 6;
const REF_DELTA = 7;
/** A delta's two leading sizes (base, result) take at most 10 bytes each for any size JavaScript can hold. */
const DELTA_HEADER_BYTES = 20;

/** 1.0 GiB, 12.0 MiB, 512 B: sizes in messages. */
export function byteSize(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) ((v /= 1024), (u += 1));
  return u === 0 ? `${n} B` : `${v.toFixed(1)} ${units[u]}`;
}

type State =
  | { at: 'pkt-length' }
  /**
   * Inside a pkt-line: `band` is 'pack' (side band 1), 'other' (text, progress, errors) or not yet known; `header`
   * is its length, passed on with it unless the pack is held back.
   */
  | { at: 'pkt-body'; left: number; band: 'pack' | 'other' | undefined; header: Buffer }
  /** No side band: the rest of the body is the pack. */
  | { at: 'bare' }
  /** Not a response this guard reads: the rest is passed on as it comes. */
  | { at: 'done' };

/**
 * The object being inflated: into a counter (pako, as its bytes come: nothing kept, memory bounded), or, when the
 * pack is indexed here, whole and natively once all its bytes are here. Where its deflated data ends is only known
 * by inflating it, so a whole object is tried once the bytes after its header reach zlib's bound on what deflate
 * makes of its size (the pack is held until its end anyway), or when the pack ends: one try in all but the last
 * few objects, again each time the bytes have doubled otherwise.
 */
type Inflating =
  | { kind: 'counted'; inflater: Inflate }
  | { kind: 'whole'; type: number; index: number; declared: number; tryAt: number };

/** The most bytes zlib's deflate makes of `n` bytes (its deflateBound): a whole object's data is surely here then. */
const deflateBound = (n: number): number => n + (n >>> 12) + (n >>> 14) + (n >>> 25) + 13;

/** A side-band 1 pkt-line's length and band byte, for `bytes` of the pack after it. */
function packLineHeader(bytes: number): Buffer {
  return Buffer.from(`${(bytes + 5).toString(16).padStart(4, '0')}\x01`, 'latin1');
}

/** A pack of no objects: what isomorphic-git is handed when the pack was written and indexed here already. */
const EMPTY_PACK = (() => {
  const head = Buffer.from('PACK\0\0\0\x02\0\0\0\0', 'latin1');
  return Buffer.concat([head, createHash('sha1').update(head).digest()]);
})();

export interface PackGuardOptions {
  /**
   * Index the pack from this guard's pass (pack-index.ts): the pack is then held back from isomorphic-git until
   * it ends, and `finish` hands it to a store, or passes it on as it came.
   */
  index?: boolean;
  /** The most inflated bytes the indexing pass keeps (pack-index.ts MAX_KEPT_BYTES by default). */
  maxKeptBytes?: number;
}

/**
 * Follows git-upload-pack's answer (pkt-lines, the pack on side band 1, or a bare pack) chunk by chunk. Each
 * object's header declares its inflated size, so a large object is refused from its header alone; every other
 * object is inflated (kept only when the pack is indexed here), so that the next header can be found and a header
 * that lies is caught too. A delta declares the size of its result in its first bytes, which are checked the same
 * way. `push` returns what isomorphic-git may read now: everything but the held-back pack.
 */
export class PackGuard {
  private state: State = { at: 'pkt-length' };
  private pending: Buffer = Buffer.alloc(0);
  // The pack itself, as it comes out of the side band: only the bytes not yet walked are kept.
  private packBytes = 0;
  private pack = Buffer.alloc(0);
  private objects: number | undefined;
  private seen = 0;
  /** False once the pack's content is not what this guard reads: isomorphic-git will say what is wrong with it. */
  private walking = true;
  private inflating: Inflating | undefined;
  /** Bytes of a whole object that came since the last try, not yet joined to `pack` (joining each is quadratic). */
  private waiting: Buffer[] = [];
  private waitingBytes = 0;
  private readonly indexer: PackIndexer | undefined;
  /** The pack's bytes held back from isomorphic-git (with an indexer, until `finish` or the framing is lost). */
  private held: Buffer[] | undefined;
  private heldBytes = 0;

  constructor(
    private readonly limits: PackLimits,
    opts: PackGuardOptions = {},
  ) {
    if (opts.index) {
      this.indexer = new PackIndexer(opts.maxKeptBytes);
      this.held = [];
    }
  }

  /**
   * Whether the pack itself has begun to arrive (or the answer is not one this guard reads). Before it, a server
   * that computes a large pack sends only progress messages and keep-alives.
   */
  get packStarted(): boolean {
    return this.packBytes > 0 || this.state.at === 'done';
  }

  /**
   * Takes the next chunk of the response body and returns what to pass on now; throws OversizedPackError when the
   * pack must be refused.
   */
  push(chunk: Uint8Array): Uint8Array[] {
    const out: Uint8Array[] = [];
    // A view, not a copy: the response's chunks are fresh buffers, never written again (a megabyte copied was as
    // many fresh pages, each a page fault).
    const bytes = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    this.pending = this.pending.length ? Buffer.concat([this.pending, bytes]) : bytes;
    while (this.pending.length) {
      const state = this.state as State;
      if (state.at === 'done') {
        out.push(this.pending);
        this.pending = Buffer.alloc(0);
      } else if (state.at === 'bare') {
        const all = this.pending;
        this.pending = Buffer.alloc(0);
        this.packData(all);
        out.push(all);
      } else if (state.at === 'pkt-length') {
        if (this.pending.length < 4) break;
        const head = this.pending.subarray(0, 4).toString('latin1');
        if (head === 'PACK' || !/^[0-9a-f]{4}$/i.test(head)) {
          // A bare pack (no side band) is walked but not held; anything else is not for this guard to read.
          this.release(out);
          this.state = head === 'PACK' ? { at: 'bare' } : { at: 'done' };
          continue;
        }
        const header = this.pending.subarray(0, 4);
        this.pending = this.pending.subarray(4);
        const length = Number.parseInt(head, 16);
        // 0000 flush, 0001 delimiter: no body.
        if (length > 4) this.state = { at: 'pkt-body', left: length - 4, band: undefined, header };
        else out.push(header);
      } else if (state.at === 'pkt-body') {
        if (state.band === undefined) {
          state.band = this.pending[0] === 1 ? 'pack' : 'other';
          // A held-back pack is framed again when it is passed on; otherwise the line passes as it came.
          if (state.band !== 'pack' || this.held === undefined) out.push(state.header);
          if (state.band === 'pack') {
            if (this.held === undefined) out.push(this.pending.subarray(0, 1));
            this.pending = this.pending.subarray(1);
            state.left -= 1;
          }
        }
        const take = Math.min(state.left, this.pending.length);
        const part = this.pending.subarray(0, take);
        this.pending = this.pending.subarray(take);
        state.left -= take;
        if (state.left === 0) this.state = { at: 'pkt-length' };
        if (state.band === 'pack') this.packData(part);
        if (state.band === 'pack' && this.held !== undefined) {
          this.held.push(part);
          this.heldBytes += part.length;
        } else out.push(part);
      }
    }
    return out;
  }

  /**
   * At the end of the body: what is left to pass on. A pack held back and indexed here is handed to `store`; when
   * it takes it (writes it into the object store), isomorphic-git reads an empty pack instead and indexes nothing.
   */
  async finish(store?: (pack: IndexedPack) => Promise<boolean>): Promise<Uint8Array[]> {
    const out: Uint8Array[] = [];
    if (this.held !== undefined && this.indexer !== undefined && store !== undefined) {
      // The body has ended: a whole object still waiting for bytes is tried with what came.
      if (this.walking && this.inflating?.kind === 'whole') this.objectsFrom(true);
      const whole =
        this.walking &&
        this.state.at === 'pkt-length' &&
        this.seen === this.objects &&
        this.inflating === undefined &&
        this.pack.length === 20;
      const indexed = whole ? this.indexer.finish(Buffer.concat(this.held, this.heldBytes)) : undefined;
      if (indexed !== undefined && (await store(indexed))) {
        this.held = undefined;
        out.push(packLineHeader(EMPTY_PACK.length), EMPTY_PACK);
      }
    }
    this.release(out);
    if (this.pending.length) out.push(this.pending);
    this.pending = Buffer.alloc(0);
    return out;
  }

  /**
   * Passes the held-back pack on as it came, each part (at most one pkt-line's payload) behind a side-band header
   * of its own, not copied; holds nothing more.
   */
  private release(out: Uint8Array[]): void {
    if (this.held === undefined) return;
    for (const part of this.held) out.push(packLineHeader(part.length), part);
    this.held = undefined;
    this.indexer?.giveUp();
  }

  private stopWalking(): void {
    this.walking = false;
    this.pack = Buffer.alloc(0);
    this.waiting = [];
    this.inflating = undefined;
    this.indexer?.giveUp();
  }

  private packData(data: Uint8Array): void {
    if (data.length === 0) return;
    this.packBytes += data.length;
    if (this.packBytes > this.limits.maxPackBytes) {
      throw new OversizedPackError(
        `the pack is larger than the ${byteSize(this.limits.maxPackBytes)} limit (--max-pack-bytes) after ` +
          `${byteSize(this.packBytes)}`,
        'pack',
        this.packBytes,
        this.limits.maxPackBytes,
      );
    }
    if (!this.walking) return;
    const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    const inf = this.inflating;
    if (inf?.kind === 'whole' && this.pack.length + this.waitingBytes + bytes.length < inf.tryAt) {
      this.waiting.push(bytes);
      this.waitingBytes += bytes.length;
      return;
    }
    this.pack = Buffer.concat([this.pack, ...this.waiting, bytes]);
    this.waiting = [];
    this.waitingBytes = 0;
    this.objectsFrom();
  }

  /**
   * Walks the objects in `this.pack` as far as the bytes go; `this.pack` keeps only what is not yet read. `final`:
   * no more bytes will come (a whole object is tried with what is here).
   */
  private objectsFrom(final = false): void {
    if (final && this.waiting.length) {
      this.pack = Buffer.concat([this.pack, ...this.waiting]);
      this.waiting = [];
      this.waitingBytes = 0;
    }
    while (this.walking && this.pack.length) {
      if (this.objects === undefined) {
        if (this.pack.length < 12) return;
        if (this.pack.subarray(0, 4).toString('latin1') !== 'PACK') return this.stopWalking();
        this.objects = this.pack.readUInt32BE(8);
        this.pack = this.pack.subarray(12);
        if (this.objects > MAX_PACK_OBJECTS) {
          throw new OversizedPackError(
            `the pack holds ${this.objects} objects, over the limit of ${MAX_PACK_OBJECTS} in one fetch`,
            'pack',
            this.objects,
            MAX_PACK_OBJECTS,
          );
        }
        continue;
      }
      if (this.inflating === undefined) {
        if (this.seen === this.objects) return; // the trailer (a checksum) follows the last object
        if (!this.header()) return;
        continue;
      }
      const inf = this.inflating;
      if (inf.kind === 'whole') {
        if (this.pack.length < inf.tryAt && !final) return;
        if (!this.inflateWhole(inf)) {
          inf.tryAt = Math.max(inf.tryAt, this.pack.length) * 2;
          return;
        }
        continue;
      }
      inf.inflater.push(this.pack, false);
      if (inf.inflater.err) return this.stopWalking();
      if (!inf.inflater.ended) {
        this.pack = Buffer.alloc(0);
        return;
      }
      this.pack = this.pack.subarray(this.pack.length - inf.inflater.strm.avail_in);
      this.inflating = undefined;
    }
  }

  /** Inflates a whole object from `this.pack` and hands it to the indexer; false when not all of it is here yet. */
  private inflateWhole(inf: Extract<Inflating, { kind: 'whole' }>): boolean {
    let made: { buffer: Buffer; engine: { bytesWritten: number } };
    try {
      // `info` gives the engine, whose count of bytes read says where the object's deflated data ended.
      // Into one buffer of the declared size (and a byte, so that a lie shows), not chunks joined at the end.
      const chunkSize = Math.max(inf.declared + 1, 64);
      made = inflateSync(this.pack, {
        info: true,
        chunkSize,
        maxOutputLength: Math.max(inf.declared, 1),
      }) as unknown as {
        buffer: Buffer;
        engine: { bytesWritten: number };
      };
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'Z_BUF_ERROR') return false;
      if (code === 'ERR_BUFFER_TOO_LARGE') throw this.inflatesPast(inf.index, inf.declared, inf.declared + 1);
      this.stopWalking();
      return true;
    }
    const content = made.buffer;
    if (content.length > inf.declared) throw this.inflatesPast(inf.index, inf.declared, content.length);
    // Shorter than its header says: git and isomorphic-git refuse such a pack. Not indexed here: it is passed on as it
    // came, and refused there, never written into the cache with an index that vouches for it.
    if (content.length < inf.declared) {
      this.stopWalking();
      return true;
    }
    if (inf.type === OFS_DELTA || inf.type === REF_DELTA) {
      const result = deltaResultSize(content);
      if (result !== undefined) this.check(inf.type, result, inf.index, true);
    }
    this.pack = this.pack.subarray(made.engine.bytesWritten);
    this.inflating = undefined;
    this.indexer?.end(content);
    return true;
  }

  private inflatesPast(index: number, declared: number, size: number): OversizedPackError {
    return new OversizedPackError(
      `object ${index} of ${this.objects} in the pack inflates past the ${byteSize(declared)} its header ` +
        'declares: the pack is damaged or hostile',
      'object',
      size,
      declared,
    );
  }

  /** Reads one object header if all of it is here; refuses the object when it declares too large a size. */
  private header(): boolean {
    const buf = this.pack;
    // Where the object starts in the pack: what came before it has been walked.
    const offset = this.packBytes - buf.length;
    let i = 0;
    if (buf.length < 1) return false;
    let byte = buf[i++]!;
    const type = (byte >> 4) & 7;
    let size = byte & 0x0f;
    let scale = 16;
    while (byte & 0x80) {
      if (i >= buf.length) return false;
      byte = buf[i++]!;
      size += (byte & 0x7f) * scale;
      scale *= 128;
    }
    const base: { offset?: number; oid?: string } = {};
    if (type === OFS_DELTA) {
      // How far back the base starts: base 128, each continuation adding one (git's offset encoding).
      if (i >= buf.length) return false;
      byte = buf[i++]!;
      let back = byte & 0x7f;
      while (byte & 0x80) {
        if (i >= buf.length) return false;
        byte = buf[i++]!;
        back = (back + 1) * 128 + (byte & 0x7f);
      }
      base.offset = offset - back;
    } else if (type === REF_DELTA) {
      if (buf.length < i + 20) return false;
      base.oid = buf.subarray(i, i + 20).toString('hex');
      i += 20;
    }
    const index = this.seen + 1;
    this.seen = index;
    this.check(type, size, index);
    this.pack = buf.subarray(i);
    if (this.indexer?.begin(offset, type, size, base)) {
      this.inflating = { kind: 'whole', type, index, declared: size, tryAt: deflateBound(size) };
      return true;
    }
    const inflater = new pako.Inflate({ chunkSize: 64 * 1024 });
    const state = { declared: size, out: 0, head: Buffer.alloc(0) };
    inflater.onData = (chunk: Uint8Array) => {
      state.out += chunk.length;
      if (state.out > state.declared) throw this.inflatesPast(index, state.declared, state.out);
      if (type !== OFS_DELTA && type !== REF_DELTA) return;
      if (state.head.length < DELTA_HEADER_BYTES) {
        state.head = Buffer.concat([state.head, chunk.subarray(0, DELTA_HEADER_BYTES)]);
        const base = deltaSize(state.head, 0);
        const result = base && deltaSize(state.head, base.next);
        if (result) this.check(type, result.value, index, true);
      }
    };
    inflater.onEnd = () => {};
    this.inflating = { kind: 'counted', inflater };
    return true;
  }

  /** Refuses an object of `size` bytes over the bound; `made` says the size is what a delta makes. */
  private check(type: number, size: number, index: number, made = false): void {
    if (size <= this.limits.maxObjectBytes) return;
    const what = made ? 'a delta that makes an object' : `a ${TYPES[type] ?? `type-${type} object`}`;
    throw new OversizedPackError(
      `object ${index} of ${this.objects} in the pack is ${what} of ${byteSize(size)} (${size} bytes), over the ` +
        `${byteSize(this.limits.maxObjectBytes)} limit on one object (--max-object-bytes)`,
      'object',
      size,
      this.limits.maxObjectBytes,
    );
  }
}

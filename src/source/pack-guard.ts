// Reads a fetch's pack as it arrives and refuses it, before isomorphic-git holds or indexes any of it, when one
// object would inflate past a bound or the pack itself is too large: memory stays bounded whatever is pushed.
import pako, { type Inflate } from 'pako';

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

/** A little-endian base-128 size as a delta starts with; undefined when `buf` ends first. */
function deltaSize(buf: Uint8Array, at: number): { value: number; next: number } | undefined {
  let value = 0;
  let scale = 1;
  for (let i = at; i < buf.length; i++) {
    value += (buf[i]! & 0x7f) * scale;
    scale *= 128;
    if ((buf[i]! & 0x80) === 0) return { value, next: i + 1 };
  }
  return undefined;
}

type State =
  | { at: 'pkt-length' }
  /** Inside a pkt-line: `band` is 'pack' (side band 1), 'other' (text, progress, errors) or not yet known. */
  | { at: 'pkt-body'; left: number; band: 'pack' | 'other' | undefined }
  /** No side band: the rest of the body is the pack. */
  | { at: 'bare' }
  | { at: 'done' };

/**
 * Follows git-upload-pack's answer (pkt-lines, the pack on side band 1, or a bare pack) chunk by chunk. Each
 * object's header declares its inflated size, so a large object is refused from its header alone; every other
 * object is inflated into a counter, never kept, so that the next header can be found and a header that lies is
 * caught too. A delta declares the size of its result in its first bytes, which are checked the same way.
 */
export class PackGuard {
  private state: State = { at: 'pkt-length' };
  private pending = Buffer.alloc(0);
  // The pack itself, as it comes out of the side band: only the bytes not yet walked are kept.
  private packBytes = 0;
  private pack = Buffer.alloc(0);
  private objects: number | undefined;
  private seen = 0;
  private inflating: { inflater: Inflate } | undefined;

  constructor(private readonly limits: PackLimits) {}

  /**
   * Whether the pack itself has begun to arrive (or the answer is not one this guard reads). Before it, a server
   * that computes a large pack sends only progress messages and keep-alives.
   */
  get packStarted(): boolean {
    return this.packBytes > 0 || this.state.at === 'done';
  }

  /** Takes the next chunk of the response body; throws OversizedPackError when the pack must be refused. */
  push(chunk: Uint8Array): void {
    if (this.state.at === 'done') return;
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : Buffer.from(chunk);
    while (this.pending.length) {
      // stop() may have ended the walk since the last turn.
      const state = this.state as State;
      if (state.at === 'done') return;
      if (state.at === 'bare') {
        const all = this.pending;
        this.pending = Buffer.alloc(0);
        this.packData(all);
      } else if (state.at === 'pkt-length') {
        if (this.pending.length < 4) return;
        const head = this.pending.subarray(0, 4).toString('latin1');
        if (head === 'PACK') {
          this.state = { at: 'bare' };
          continue;
        }
        if (!/^[0-9a-f]{4}$/i.test(head)) return this.stop();
        this.pending = this.pending.subarray(4);
        const length = Number.parseInt(head, 16);
        // 0000 flush, 0001 delimiter: no body.
        if (length > 4) this.state = { at: 'pkt-body', left: length - 4, band: undefined };
      } else if (state.at === 'pkt-body') {
        if (state.band === undefined) {
          state.band = this.pending[0] === 1 ? 'pack' : 'other';
          if (state.band === 'pack') {
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
      }
    }
  }

  private stop(): void {
    // Not the protocol this guard knows: isomorphic-git will say what is wrong with it.
    this.state = { at: 'done' };
    this.pending = Buffer.alloc(0);
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
    this.pack = this.pack.length ? Buffer.concat([this.pack, data]) : Buffer.from(data);
    this.objectsFrom();
  }

  /** Walks the objects in `this.pack` as far as the bytes go; `this.pack` keeps only what is not yet read. */
  private objectsFrom(): void {
    while (this.pack.length) {
      if (this.objects === undefined) {
        if (this.pack.length < 12) return;
        if (this.pack.subarray(0, 4).toString('latin1') !== 'PACK') return this.stop();
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
      inf.inflater.push(this.pack, false);
      if (inf.inflater.err) return this.stop();
      if (!inf.inflater.ended) {
        this.pack = Buffer.alloc(0);
        return;
      }
      this.pack = this.pack.subarray(this.pack.length - inf.inflater.strm.avail_in);
      this.inflating = undefined;
    }
  }

  /** Reads one object header if all of it is here; refuses the object when it declares too large a size. */
  private header(): boolean {
    const buf = this.pack;
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
    if (type === OFS_DELTA) {
      do {
        if (i >= buf.length) return false;
      } while (buf[i++]! & 0x80);
    } else if (type === REF_DELTA) {
      if (buf.length < i + 20) return false;
      i += 20;
    }
    const index = this.seen + 1;
    this.seen = index;
    this.check(type, size, index);
    const inflater = new pako.Inflate({ chunkSize: 64 * 1024 });
    const state = { declared: size, out: 0, head: Buffer.alloc(0) };
    inflater.onData = (chunk: Uint8Array) => {
      state.out += chunk.length;
      if (state.out > state.declared) {
        throw new OversizedPackError(
          `object ${index} of ${this.objects} in the pack inflates past the ${byteSize(state.declared)} its header ` +
            'declares: the pack is damaged or hostile',
          'object',
          state.out,
          state.declared,
        );
      }
      if (type !== OFS_DELTA && type !== REF_DELTA) return;
      if (state.head.length < DELTA_HEADER_BYTES) {
        state.head = Buffer.concat([state.head, chunk.subarray(0, DELTA_HEADER_BYTES)]);
        const base = deltaSize(state.head, 0);
        const result = base && deltaSize(state.head, base.next);
        if (result) this.check(type, result.value, index, true);
      }
    };
    inflater.onEnd = () => {};
    this.inflating = { inflater };
    this.pack = buf.subarray(i);
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

// Bit vectors over one family's entries, and the table of distinct class records (summary words + vector words).
//
// Bit e of a vector stands for the entry at bit position e (entry-placement.ts). Vectors are Uint32Arrays with bit e
// at word e >>> 5, bit e & 31: on a little-endian host that is byte for byte the array of u64 words the program
// reads (bit e at u64 word e >> 6, bit e & 63). A record is [summary: S u64][vector: W u64], summary bit j set when vector word j is not
// zero, so the program can skip zero words of the AND without reading them.

import { MAX_RECORD_BYTES, PolicyProgramError } from './limits.js';

/** The widths every record of one family shares. */
export interface VectorShape {
  /** Entries (bits in use). */
  readonly entries: number;
  /** u64 words of the vector: ceil(entries / 64), at least 1. */
  readonly words: number;
  /** u64 words of the summary: ceil(words / 64). */
  readonly summaryWords: number;
  /** Bytes of one record: (summaryWords + words) * 8. */
  readonly recordBytes: number;
}

export function vectorShape(entries: number): VectorShape {
  const words = Math.max(1, Math.ceil(entries / 64));
  const summaryWords = Math.ceil(words / 64);
  return { entries, words, summaryWords, recordBytes: (summaryWords + words) * 8 };
}

/** A zeroed vector of this shape. */
export function newVector(shape: VectorShape): Uint32Array {
  return new Uint32Array(shape.words * 2);
}

export function setBit(v: Uint32Array, e: number): void {
  v[e >>> 5]! |= 1 << (e & 31);
}

export function clearBit(v: Uint32Array, e: number): void {
  v[e >>> 5]! &= ~(1 << (e & 31));
}

/** Sets or clears bit e. */
export function putBit(v: Uint32Array, e: number, on: boolean): void {
  if (on) setBit(v, e);
  else clearBit(v, e);
}

function hashWords(v: Uint32Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < v.length; i++) {
    h = Math.imul(h ^ v[i]!, 0x01000193);
    h ^= h >>> 15;
  }
  return h >>> 0;
}

/** Bytes of one chunk of records: records are written once into chunks, and copied once into the map's buffer. */
const CHUNK_BYTES = 256 * 1024;

/**
 * The distinct records of one family: every field's classes intern their vectors here, and equal vectors (from
 * any field) share one record id, which is what the class maps store.
 *
 * Records are kept in fixed chunks rather than one buffer grown by doubling: 10,000 rules make 12.8 MB of records,
 * and doubling wrote (and the kernel zeroed) twice that before the buffer was cut to size.
 */
export class RecordTable {
  readonly shape: VectorShape;
  /** Records per chunk, and u32 words per record. */
  readonly #perChunk: number;
  readonly #recordWords: number;
  readonly #chunks: Uint32Array[] = [];
  #count = 0;
  /** The records back to back, once asked for; dropped when a record is added. */
  #joined: Buffer | null = null;
  readonly #byHash = new Map<number, number | number[]>();

  constructor(shape: VectorShape) {
    this.shape = shape;
    this.#recordWords = shape.recordBytes / 4;
    this.#perChunk = Math.max(1, Math.floor(CHUNK_BYTES / shape.recordBytes));
  }

  get count(): number {
    return this.#count;
  }

  /** The record id of this vector, adding a record when no equal vector is there yet. */
  intern(v: Uint32Array): number {
    if (v.length !== this.shape.words * 2)
      throw new Error(`records: vector of ${v.length} u32, expected ${this.shape.words * 2}`);
    const h = hashWords(v);
    const seen = this.#byHash.get(h);
    if (seen !== undefined) {
      for (const id of typeof seen === 'number' ? [seen] : seen) if (this.#equals(id, v)) return id;
    }
    const id = this.#add(v);
    if (seen === undefined) this.#byHash.set(h, id);
    else if (typeof seen === 'number') this.#byHash.set(h, [seen, id]);
    else seen.push(id);
    return id;
  }

  /** Every record, back to back (count * recordBytes): the records map's values in key order. */
  bytes(): Buffer {
    const used = this.#count * this.shape.recordBytes;
    if (this.#joined && this.#joined.length === used) return this.#joined;
    // Its own memory (not the pool), so that it can be read as u32 words at offset 0.
    const out = Buffer.allocUnsafeSlow(used);
    let at = 0;
    for (const chunk of this.#chunks) {
      const n = Math.min(chunk.byteLength, used - at);
      out.set(new Uint8Array(chunk.buffer, chunk.byteOffset, n), at);
      at += n;
    }
    this.#joined = out;
    return out;
  }

  /** The chunk holding record `id`, and the u32 index of the record's start in it. */
  #place(id: number): [Uint32Array, number] {
    const c = Math.floor(id / this.#perChunk);
    return [this.#chunks[c]!, (id - c * this.#perChunk) * this.#recordWords];
  }

  #equals(id: number, v: Uint32Array): boolean {
    const [chunk, start] = this.#place(id);
    const base = start + this.shape.summaryWords * 2;
    for (let i = 0; i < v.length; i++) if (chunk[base + i] !== v[i]) return false;
    return true;
  }

  #add(v: Uint32Array): number {
    const id = this.#count;
    const need = (id + 1) * this.shape.recordBytes;
    if (need > MAX_RECORD_BYTES) {
      throw new PolicyProgramError(
        'policy-program-too-large',
        `${this.shape.entries} entries need more than ${MAX_RECORD_BYTES >> 20} MiB of class records ` +
          `(${id} records of ${this.shape.recordBytes} bytes so far): split the policy or use fewer distinct ports and sets`,
      );
    }
    if (id === this.#chunks.length * this.#perChunk) {
      this.#chunks.push(new Uint32Array(this.#perChunk * this.#recordWords));
    }
    const [chunk, sumBase] = this.#place(id);
    chunk.set(v, sumBase + this.shape.summaryWords * 2);
    for (let j = 0; j < this.shape.words; j++) {
      if ((v[2 * j]! | v[2 * j + 1]!) !== 0) chunk[sumBase + (j >>> 5)]! |= 1 << (j & 31);
    }
    this.#count += 1;
    this.#joined = null;
    return id;
  }
}

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

/** An ArrayBuffer that grows in place up to its maxByteLength (ES2024; Node 20 has it, the TypeScript lib here not). */
interface ResizableArrayBuffer extends ArrayBuffer {
  readonly maxByteLength: number;
  resize(byteLength: number): void;
}
const ResizableArrayBuffer = ArrayBuffer as unknown as new (
  byteLength: number,
  options: { maxByteLength: number },
) => ResizableArrayBuffer;

/** Bytes the records' buffer grows by at a time (it is resized in place, never copied). */
const GROW_BYTES = 1 << 20;

/**
 * The distinct records of one family: every field's classes intern their vectors here, and equal vectors (from
 * any field) share one record id, which is what the class maps store.
 *
 * Records are written once into one resizable ArrayBuffer, which reserves its largest size and grows in place: 10,000
 * rules make 12.8 MB of records, and on a machine where a fresh page costs a fault (microseconds each in a VM), fixed
 * chunks joined into one buffer at the end touched that twice, and a buffer grown by doubling wrote it twice.
 */
export class RecordTable {
  readonly shape: VectorShape;
  /** u32 words per record. */
  readonly #recordWords: number;
  readonly #buffer: ResizableArrayBuffer;
  /** Tracks the buffer's length as it grows. */
  readonly #words: Uint32Array;
  #count = 0;
  /** The records back to back, once asked for; dropped when a record is added. */
  #joined: Buffer | null = null;
  readonly #byHash = new Map<number, number | number[]>();

  constructor(shape: VectorShape) {
    this.shape = shape;
    this.#recordWords = shape.recordBytes / 4;
    // Room for the record that finds the limit exceeded, so that #add can say so rather than fail to resize.
    this.#buffer = new ResizableArrayBuffer(0, { maxByteLength: MAX_RECORD_BYTES + shape.recordBytes });
    this.#words = new Uint32Array(this.#buffer);
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
    // A view of the records' own buffer at offset 0 (not the pool), so that it can be read as u32 words.
    this.#joined = Buffer.from(this.#buffer, 0, used);
    return this.#joined;
  }

  #equals(id: number, v: Uint32Array): boolean {
    const base = id * this.#recordWords + this.shape.summaryWords * 2;
    const words = this.#words;
    for (let i = 0; i < v.length; i++) if (words[base + i] !== v[i]) return false;
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
    if (need > this.#buffer.byteLength)
      this.#buffer.resize(Math.min(this.#buffer.maxByteLength, Math.max(need, this.#buffer.byteLength + GROW_BYTES)));
    const words = this.#words;
    const sumBase = id * this.#recordWords;
    words.set(v, sumBase + this.shape.summaryWords * 2);
    for (let j = 0; j < this.shape.words; j++) {
      if ((v[2 * j]! | v[2 * j + 1]!) !== 0) words[sumBase + (j >>> 5)]! |= 1 << (j & 31);
    }
    this.#count += 1;
    this.#joined = null;
    return id;
  }
}

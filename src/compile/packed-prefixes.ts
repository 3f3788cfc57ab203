// A set's prefixes packed in typed arrays (canonical: sorted by address, no duplicates, none inside another), from
// the parsed Cidrs to the address tables and the state file, with the canonical text made only when someone reads it.
import * as crypto from 'node:crypto';
import { createHash, type Hash } from 'node:crypto';
import {
  formatCidr,
  formatIpv4Word,
  grow,
  ipv4Word,
  parseCidr,
  type Cidr,
  type IpFamily,
  type NetList,
} from '../net/cidr.js';

/** Prefixes of one family: `count` addresses of 1 (IPv4) or 4 (IPv6) u32 words, most significant first. */
export interface PackedPrefixes {
  readonly family: IpFamily;
  readonly count: number;
  /** Address words, host bits cleared, most significant word first. */
  readonly words: Uint32Array;
  /** Prefix length of each address. */
  readonly lens: Uint8Array;
}

const wordsPer = (family: IpFamily): number => (family === 4 ? 1 : 4);

/**
 * The canonical prefixes of one family among `cidrs` (the other family's are left out). Two CIDRs are either nested
 * or disjoint, so after sorting by address (shorter prefix first on a tie) a prefix lies inside an earlier one
 * exactly when it starts before the end of the last prefix kept: one sweep drops them all.
 */
export function packCidrs(cidrs: readonly Cidr[], family: IpFamily): PackedPrefixes {
  // One net (a rule's `nets: [10.0.0.0/8]`, the common case) is canonical as it is: two one-element arrays.
  if (cidrs.length === 1 && family === 4) {
    const c = cidrs[0]!;
    if (c.family !== 4) return noPrefixes(4);
    return { family: 4, count: 1, words: Uint32Array.of(ipv4Word(c)), lens: Uint8Array.of(c.prefix) };
  }
  const c = new PrefixCollector();
  for (const x of cidrs) c.add(x);
  return c.pack(family);
}

/**
 * Gathers the nets of one or many sources (the sets a selector picks) and packs them canonically: IPv4 addresses
 * as words in growing typed arrays, no object per net; IPv6 nets (rare in large lists) as Cidrs.
 */
export class PrefixCollector {
  #words = new Uint32Array(64);
  #lens = new Uint8Array(64);
  #count = 0;
  #v6: Cidr[] = [];

  #push(word: number, len: number): void {
    if (this.#count === this.#words.length) {
      this.#words = grow(this.#words);
      this.#lens = grow(this.#lens);
    }
    this.#words[this.#count] = word;
    this.#lens[this.#count++] = len;
  }

  add(c: Cidr): void {
    if (c.family === 4) this.#push(ipv4Word(c), c.prefix);
    else this.#v6.push(c);
  }

  /** Every net of a scanned list, read from its packed form. */
  addList(list: NetList): void {
    const need = this.#count + list.length;
    if (need > this.#words.length) {
      const size = Math.max(need, this.#words.length * 2);
      const words = new Uint32Array(size);
      const lens = new Uint8Array(size);
      words.set(this.#words.subarray(0, this.#count));
      lens.set(this.#lens.subarray(0, this.#count));
      this.#words = words;
      this.#lens = lens;
    }
    const v4 = list.copyV4(this.#words, this.#lens, this.#count);
    this.#count += v4;
    if (v4 < list.length) for (let i = 0; i < list.length; i++) if (list.family(i) === 6) this.#v6.push(list.at(i));
  }

  /** The canonical prefixes of one family among what was added. */
  pack(family: IpFamily): PackedPrefixes {
    return family === 4 ? packV4(this.#words, this.#lens, this.#count) : packV6(this.#v6);
  }
}

/** Addresses a prefix of each length spans (2 ** (32 - length)). */
const V4_SPAN = Float64Array.from({ length: 33 }, (_, len) => 2 ** (32 - len));

function packV4(words: Uint32Array, lens: Uint8Array, n: number): PackedPrefixes {
  const order = v4Order(words, lens, n);
  const outWords = new Uint32Array(n);
  const outLens = new Uint8Array(n);
  let count = 0;
  let lastEnd = -1;
  for (let i = 0; i < n; i++) {
    const x = order ? order[i]! : i;
    const start = words[x]!;
    const len = lens[x]!;
    if (start <= lastEnd) continue;
    outWords[count] = start;
    outLens[count++] = len;
    lastEnd = start + V4_SPAN[len]! - 1;
  }
  // Most lists hold no duplicate or nested prefix: their arrays are the result as they are.
  if (count === n) return { family: 4, count, words: outWords, lens: outLens };
  return { family: 4, count, words: outWords.slice(0, count), lens: outLens.slice(0, count) };
}

/**
 * IPv4 prefixes in sweep order (by address, shorter first on a tie) as indexes, by LSD radix sort on the address's
 * low then high halves (two linear passes, where a comparison sort of a million prefixes takes a large part of the
 * compile time), then each run of equal addresses in order of length (such runs are rare and short); null when they
 * are in that order already (lists are often written sorted). Ties keep the input order.
 */
export function v4Order(words: Uint32Array, lens: Uint8Array, n: number): Uint32Array | null {
  // Where the list is out of order: sets put one after another (the address classes read every set a side uses)
  // are a few sorted runs, merged in a pass or two.
  const runStarts = [0];
  for (let i = 1; i < n && runStarts.length <= MERGE_RUNS; i++) {
    if (!(words[i - 1]! < words[i]! || (words[i - 1] === words[i] && lens[i - 1]! <= lens[i]!))) runStarts.push(i);
  }
  if (runStarts.length === 1) return null;
  if (runStarts.length <= MERGE_RUNS) return mergeRuns(words, lens, n, runStarts);
  const low = new Uint32Array(n);
  const out = new Uint32Array(n);
  // Pass 1: by the low 16 address bits.
  const counts = new Uint32Array(65537);
  for (let i = 0; i < n; i++) counts[(words[i]! & 0xffff) + 1]!++;
  for (let b = 0; b < 65536; b++) counts[b + 1]! += counts[b]!;
  for (let i = 0; i < n; i++) low[counts[words[i]! & 0xffff]!++] = i;
  // Pass 2: by the high 16 address bits.
  counts.fill(0);
  for (let i = 0; i < n; i++) counts[(words[i]! >>> 16) + 1]!++;
  for (let b = 0; b < 65536; b++) counts[b + 1]! += counts[b]!;
  for (let i = 0; i < n; i++) {
    const x = low[i]!;
    out[counts[words[x]! >>> 16]!++] = x;
  }
  // Runs of one address: by length, stable (Array.prototype.sort is).
  for (let i = 1; i < n; i++) {
    const w = words[out[i]!]!;
    if (words[out[i - 1]!] !== w) continue;
    let end = i + 1;
    while (end < n && words[out[end]!] === w) end++;
    const run = Array.from(out.subarray(i - 1, end));
    run.sort((a, b) => lens[a]! - lens[b]!);
    out.set(run, i - 1);
    i = end - 1;
  }
  return out;
}

/** The most sorted runs merged rather than sorted again. */
const MERGE_RUNS = 16;

/** v4Order of a list made of a few sorted runs: merged pairwise, the left run first on a tie (stable). */
function mergeRuns(words: Uint32Array, lens: Uint8Array, n: number, starts: number[]): Uint32Array {
  let from = new Uint32Array(n);
  for (let i = 0; i < n; i++) from[i] = i;
  let to = new Uint32Array(n);
  let bounds = [...starts, n];
  while (bounds.length > 2) {
    const next = [0];
    for (let r = 0; r + 1 < bounds.length; r += 2) {
      const lo = bounds[r]!;
      const mid = bounds[r + 1]!;
      const hi = r + 2 < bounds.length ? bounds[r + 2]! : mid;
      let i = lo,
        j = mid,
        k = lo;
      while (i < mid && j < hi) {
        const a = from[i]!,
          b = from[j]!;
        if (words[a]! < words[b]! || (words[a] === words[b] && lens[a]! <= lens[b]!)) {
          to[k++] = a;
          i++;
        } else {
          to[k++] = b;
          j++;
        }
      }
      while (i < mid) to[k++] = from[i++]!;
      while (j < hi) to[k++] = from[j++]!;
      next.push(hi);
    }
    [from, to] = [to, from];
    bounds = next;
  }
  return from;
}

function v6Number(addr: Uint8Array): bigint {
  let n = 0n;
  for (const b of addr) n = (n << 8n) | BigInt(b);
  return n;
}

function packV6(cidrs: readonly Cidr[]): PackedPrefixes {
  const list: { start: bigint; prefix: number; addr: Uint8Array }[] = [];
  for (const c of cidrs) list.push({ start: v6Number(c.addr), prefix: c.prefix, addr: c.addr });
  list.sort((x, y) => (x.start < y.start ? -1 : x.start > y.start ? 1 : x.prefix - y.prefix));
  const kept: typeof list = [];
  let lastEnd = -1n;
  for (const p of list) {
    if (p.start <= lastEnd) continue;
    kept.push(p);
    lastEnd = p.start + (1n << BigInt(128 - p.prefix)) - 1n;
  }
  const words = new Uint32Array(kept.length * 4);
  const lens = new Uint8Array(kept.length);
  kept.forEach((p, i) => {
    const dv = new DataView(p.addr.buffer, p.addr.byteOffset, 16);
    for (let w = 0; w < 4; w++) words[i * 4 + w] = dv.getUint32(w * 4, false);
    lens[i] = p.prefix;
  });
  return { family: 6, count: kept.length, words, lens };
}

/** The canonical packed form of prefix texts (an older state file's lists, a set written by hand). */
export function packTexts(family: IpFamily, texts: readonly string[]): PackedPrefixes {
  const cidrs: Cidr[] = [];
  for (const t of texts) {
    const c = parseCidr(t);
    if (!c || c.family !== family) throw new Error(`${JSON.stringify(t)} is not an IPv${family} CIDR`);
    cidrs.push(c);
  }
  return packCidrs(cidrs, family);
}

function v6Bytes(p: PackedPrefixes, i: number): Uint8Array {
  const addr = new Uint8Array(16);
  const dv = new DataView(addr.buffer);
  for (let w = 0; w < 4; w++) dv.setUint32(w * 4, p.words[i * 4 + w]!, false);
  return addr;
}

/** The i-th prefix as canonical text ("10.0.0.0/8", "2001:db8::/32"). */
export function prefixText(p: PackedPrefixes, i: number): string {
  return p.family === 4
    ? `${formatIpv4Word(p.words[i]!)}/${p.lens[i]!}`
    : formatCidr({ family: 6, addr: v6Bytes(p, i), prefix: p.lens[i]! });
}

/** Every prefix as canonical text, in order: what `PrefixSet.prefixes` shows old readers. */
export function packedTexts(p: PackedPrefixes): string[] {
  const out = new Array<string>(p.count);
  for (let i = 0; i < p.count; i++) out[i] = prefixText(p, i);
  return out;
}

const CHUNK = 64 * 1024;
/** IPv4 prefixes whose text surely fits one chunk (at most 19 bytes each with its newline). */
const SMALL_SET = Math.floor((CHUNK - 8) / 19);
/** crypto.hash, one call without a Hash object (Node 20.12 and later; createHash before). */
const oneShot = (crypto as { hash?: (algorithm: string, data: Uint8Array, encoding: 'hex') => string }).hash;
/** One chunk for every digest (compiling is synchronous): a host's ten thousand one-prefix sets allocate nothing. */
let scratch: Buffer | null = null;

/** Each octet's decimal text: its digit count, then up to three ASCII digits. */
const OCTET_TEXT = new Uint8Array(256 * 4);
for (let o = 0; o < 256; o++) {
  const digits = String(o);
  OCTET_TEXT[o * 4] = digits.length;
  for (let d = 0; d < digits.length; d++) OCTET_TEXT[o * 4 + 1 + d] = digits.charCodeAt(d);
}

/** Writes an IPv4 prefix's text at `at` (at most 18 bytes), returns the end. */
function writeV4(buf: Buffer, at: number, word: number, len: number): number {
  let pos = at;
  for (let shift = 24; shift >= 0; shift -= 8) {
    const t = ((word >>> shift) & 255) << 2;
    const n = OCTET_TEXT[t]!;
    buf[pos] = OCTET_TEXT[t + 1]!;
    if (n > 1) buf[pos + 1] = OCTET_TEXT[t + 2]!;
    if (n > 2) buf[pos + 2] = OCTET_TEXT[t + 3]!;
    pos += n;
    buf[pos++] = shift ? 46 /* '.' */ : 47; /* '/' */
  }
  if (len >= 10) buf[pos++] = 48 + ((len / 10) | 0);
  buf[pos++] = 48 + (len % 10);
  return pos;
}

/**
 * sha256 (hex) of `ipv<family>\n` and the canonical texts joined by newlines: the bytes a set's id has always named,
 * fed from the packed form in 64 KiB chunks (no string per prefix for IPv4).
 */
export function packedDigest(p: PackedPrefixes): string {
  // A set whose text fits one chunk (a rule's own nets: most sets of a policy) is hashed in one call.
  if (p.family === 4 && p.count <= SMALL_SET && oneShot) {
    const buf = (scratch ??= Buffer.allocUnsafe(CHUNK));
    let pos = buf.write('ipv4\n', 0, 'latin1');
    for (let i = 0; i < p.count; i++) {
      if (i) buf[pos++] = 10;
      pos = writeV4(buf, pos, p.words[i]!, p.lens[i]!);
    }
    return oneShot('sha256', buf.subarray(0, pos), 'hex');
  }
  const hash: Hash = createHash('sha256').update(`ipv${p.family}\n`);
  if (p.family === 6) {
    for (let i = 0; i < p.count; i++) hash.update(i ? `\n${prefixText(p, i)}` : prefixText(p, i));
    return hash.digest('hex');
  }
  const buf = (scratch ??= Buffer.allocUnsafe(CHUNK));
  let pos = 0;
  for (let i = 0; i < p.count; i++) {
    if (pos > CHUNK - 20) {
      hash.update(buf.subarray(0, pos));
      pos = 0;
    }
    if (i) buf[pos++] = 10;
    pos = writeV4(buf, pos, p.words[i]!, p.lens[i]!);
  }
  hash.update(buf.subarray(0, pos));
  return hash.digest('hex');
}

/** Bytes per prefix in the encoded form: the address words big-endian, then the length. */
const recordBytes = (family: IpFamily): number => wordsPer(family) * 4 + 1;

/** The packed prefixes as base64 of fixed records (5 bytes an IPv4 prefix, 17 an IPv6 one): a state file's form. */
export function encodePacked(p: PackedPrefixes): string {
  const per = wordsPer(p.family);
  const size = recordBytes(p.family);
  const buf = Buffer.allocUnsafe(p.count * size);
  for (let i = 0; i < p.count; i++) {
    const at = i * size;
    for (let w = 0; w < per; w++) buf.writeUInt32BE(p.words[i * per + w]!, at + w * 4);
    buf[at + per * 4] = p.lens[i]!;
  }
  return buf.toString('base64');
}

/** The address words of prefix i as one number (IPv4) or bigint (IPv6), for order checks. */
function startOf(p: { words: Uint32Array }, per: number, i: number): bigint {
  let n = 0n;
  for (let w = 0; w < per; w++) n = (n << 32n) | BigInt(p.words[i * per + w]!);
  return n;
}

/**
 * Reads encodePacked's form back, checking what the address tables rely on: whole records, lengths in range, no host
 * bits, sorted, none inside another. Throws on anything else (the caller treats the file as untrusted).
 */
/**
 * Whether `text` is strict base64 of exactly `count` records of the family: what a stored set must be before it is
 * taken at all (its members are decoded, and checked, only when read). Buffer.from would skip any other character.
 */
export function packedTextFits(family: IpFamily, text: string, count: number): boolean {
  if (!Number.isSafeInteger(count) || count < 0 || text.length % 4 !== 0) return false;
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return false;
  const padding = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  return (text.length / 4) * 3 - padding === count * recordBytes(family);
}

export function decodePacked(family: IpFamily, text: string): PackedPrefixes {
  const buf = Buffer.from(text, 'base64');
  const per = wordsPer(family);
  const size = recordBytes(family);
  const bits = family === 4 ? 32 : 128;
  if (buf.length % size !== 0) throw new Error(`${buf.length} bytes is not a whole number of IPv${family} prefixes`);
  const count = buf.length / size;
  const words = new Uint32Array(count * per);
  const lens = new Uint8Array(count);
  let lastEnd = -1;
  let lastEnd6 = -1n;
  for (let i = 0; i < count; i++) {
    const at = i * size;
    for (let w = 0; w < per; w++) words[i * per + w] = buf.readUInt32BE(at + w * 4);
    const len = buf[at + per * 4]!;
    if (len > bits) throw new Error(`prefix ${i} has length ${len}`);
    lens[i] = len;
    if (family === 4) {
      const start = words[i]!;
      const size4 = 2 ** (32 - len);
      if (start % size4 !== 0 || start <= lastEnd) throw new Error(`prefix ${i} is not canonical`);
      lastEnd = start + size4 - 1;
    } else {
      const start = startOf({ words }, per, i);
      const span = 1n << BigInt(128 - len);
      if (start % span !== 0n || start <= lastEnd6) throw new Error(`prefix ${i} is not canonical`);
      lastEnd6 = start + span - 1n;
    }
  }
  return { family, count, words, lens };
}

/** The empty set of a family. */
export function noPrefixes(family: IpFamily): PackedPrefixes {
  return { family, count: 0, words: new Uint32Array(0), lens: new Uint8Array(0) };
}

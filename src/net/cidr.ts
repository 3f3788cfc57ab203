// IPv4/IPv6 addresses and CIDRs: parsing, canonical form, containment and overlap, with no dependencies.

export type IpFamily = 4 | 6;

/** A parsed CIDR. `addr` has 4 or 16 bytes with the host bits cleared. */
export interface Cidr {
  family: IpFamily;
  addr: Uint8Array;
  prefix: number;
  /** True when the text had host bits set (10.0.0.1/8): the CIDR means the network, which may not be intended. */
  hostBitsSet: boolean;
}

// A scanner, not split and a regular expression per part: a 1M-prefix set parses each address several times.
function parseIpv4(text: string): Uint8Array | null {
  const out = new Uint8Array(4);
  return parseIpv4Into(text, 0, text.length, out, 0) ? out : null;
}

/** Scans the IPv4 address text[from, to) into out[at, at + 4); false when it is not one. */
function parseIpv4Into(text: string, from: number, to: number, out: Uint8Array, at: number): boolean {
  let part = 0,
    n = 0,
    digits = 0;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c === 46 /* . */) {
      if (digits === 0 || part === 3) return false;
      out[at + part++] = n;
      n = 0;
      digits = 0;
      continue;
    }
    // Decimal digits only, no leading zero (010 is octal to some parsers), at most 255.
    if (c < 48 || c > 57 || (digits === 1 && n === 0)) return false;
    n = n * 10 + (c - 48);
    digits++;
    if (n > 255) return false;
  }
  if (part !== 3 || digits === 0) return false;
  out[at + 3] = n;
  return true;
}

/** A prefix length as written after the slash (text from `from` on): decimal, no leading zero, at most `max`; null otherwise. */
function parsePrefixLength(text: string, max: number, from = 0): number | null {
  let n = 0;
  const length = text.length - from;
  if (length <= 0 || length > 3 || (length > 1 && text.charCodeAt(from) === 48)) return null;
  for (let i = from; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) return null;
    n = n * 10 + (c - 48);
  }
  return n > max ? null : n;
}

function parseIpv6(text: string): Uint8Array | null {
  if (text.length > 45 || text.length < 2) return null;
  let head = text;
  let tailV4: Uint8Array | null = null;
  const lastColon = text.lastIndexOf(':');
  if (text.includes('.')) {
    tailV4 = parseIpv4(text.slice(lastColon + 1));
    if (!tailV4) return null;
    head = text.slice(0, lastColon + 1) + '0:0';
  }
  const halves = head.split('::');
  if (halves.length > 2) return null;
  const groups = (s: string): number[] | null => {
    if (s === '') return [];
    const out: number[] = [];
    for (const g of s.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const left = groups(halves[0]!);
  const right = halves.length === 2 ? groups(halves[1]!) : [];
  if (!left || !right) return null;
  const total = left.length + right.length;
  if (halves.length === 1 ? total !== 8 : total > 7) return null;
  const all = [...left, ...new Array<number>(8 - total).fill(0), ...right];
  const out = new Uint8Array(16);
  all.forEach((g, i) => {
    out[2 * i] = g >> 8;
    out[2 * i + 1] = g & 0xff;
  });
  if (tailV4) out.set(tailV4, 12);
  return out;
}

/** Parses an IPv4 or IPv6 address; null when it is not one. */
export function parseIp(text: string): { family: IpFamily; addr: Uint8Array } | null {
  const v4 = parseIpv4(text);
  if (v4) return { family: 4, addr: v4 };
  const v6 = text.includes(':') ? parseIpv6(text) : null;
  return v6 ? { family: 6, addr: v6 } : null;
}

/** Parses `addr` or `addr/prefix`; a bare address is a host route (/32 or /128). Null when invalid. */
export function parseCidr(text: string): Cidr | null {
  const slash = text.indexOf('/');
  const ipText = slash < 0 ? text : text.slice(0, slash);
  const ip = parseIp(ipText);
  if (!ip) return null;
  const max = ip.family === 4 ? 32 : 128;
  let prefix = max;
  if (slash >= 0) {
    const p = parsePrefixLength(text, max, slash + 1);
    if (p === null) return null;
    prefix = p;
  }
  // ip.addr is this call's own array: masked where it is, not copied.
  const hostBitsSet = maskInPlace(ip.addr, prefix);
  return { family: ip.family, addr: ip.addr, prefix, hostBitsSet };
}

/** Clears the host bits of `addr`; true when any was set. */
function maskInPlace(addr: Uint8Array, prefix: number): boolean {
  let cleared = false;
  for (let i = prefix >> 3; i < addr.length; i++) {
    const b = addr[i]! & ((0xff00 >> Math.max(0, Math.min(8, prefix - i * 8))) & 0xff);
    if (b !== addr[i]) {
      cleared = true;
      addr[i] = b;
    }
  }
  return cleared;
}

/** An IPv4 Cidr's address as a u32, most significant octet first. */
export function ipv4Word(c: Pick<Cidr, 'addr'>): number {
  const a = c.addr;
  return ((a[0]! << 24) | (a[1]! << 16) | (a[2]! << 8) | a[3]!) >>> 0;
}

const NET_V6 = 1,
  NET_HOST_BITS = 2;

/**
 * Many parsed nets in their order, packed: the address bytes back to back in slabs, a length, flags and an offset
 * per net (about 10 bytes for an IPv4 net, where a Cidr object with its own view takes ~200). A Cidr is made only
 * for a net read one by one (`at`); the packer reads the words (`v4Word`). For the lists of a 1M-prefix set.
 */
export class NetList {
  #slabs: Uint8Array[] = [];
  #used = SLAB_BYTES;
  /** Per net: slab index * SLAB_BYTES + offset in it. */
  #where = new Uint32Array(1024);
  #prefix = new Uint8Array(1024);
  #flags = new Uint8Array(1024);
  #count = 0;

  get length(): number {
    return this.#count;
  }

  /** Parses like parseCidr and appends the net; false (nothing appended) when the text is not a CIDR. */
  parse(text: string): boolean {
    if (this.#used + 16 > SLAB_BYTES) {
      this.#slabs.push(new Uint8Array(SLAB_BYTES));
      this.#used = 0;
    }
    const slab = this.#slabs[this.#slabs.length - 1]!,
      at = this.#used;
    const slash = text.indexOf('/');
    const end = slash < 0 ? text.length : slash;
    let family: IpFamily = 4;
    if (!parseIpv4Into(text, 0, end, slab, at)) {
      const v6 = text.includes(':') ? parseIpv6(text.slice(0, end)) : null;
      if (!v6) return false;
      slab.set(v6, at);
      family = 6;
    }
    const max = family === 4 ? 32 : 128;
    const prefix = slash < 0 ? max : parsePrefixLength(text, max, slash + 1);
    if (prefix === null) return false;
    const hostBits = maskInPlace(slab.subarray(at, at + max / 8), prefix);
    this.#used += max / 8;
    const n = this.#count;
    if (n === this.#where.length) {
      this.#where = grow(this.#where);
      this.#prefix = grow(this.#prefix);
      this.#flags = grow(this.#flags);
    }
    this.#where[n] = (this.#slabs.length - 1) * SLAB_BYTES + at;
    this.#prefix[n] = prefix;
    this.#flags[n] = (family === 6 ? NET_V6 : 0) | (hostBits ? NET_HOST_BITS : 0);
    this.#count = n + 1;
    return true;
  }

  family(i: number): IpFamily {
    return this.#flags[i]! & NET_V6 ? 6 : 4;
  }

  prefix(i: number): number {
    return this.#prefix[i]!;
  }

  hostBitsSet(i: number): boolean {
    return (this.#flags[i]! & NET_HOST_BITS) !== 0;
  }

  /** Net i's address bytes (a view into its slab). */
  addr(i: number): Uint8Array {
    const w = this.#where[i]!;
    const slab = this.#slabs[Math.floor(w / SLAB_BYTES)]!;
    const at = w % SLAB_BYTES;
    return slab.subarray(at, at + (this.#flags[i]! & NET_V6 ? 16 : 4));
  }

  /** Net i's IPv4 address as a u32, without a view. */
  v4Word(i: number): number {
    const w = this.#where[i]!;
    const s = this.#slabs[Math.floor(w / SLAB_BYTES)]!;
    const at = w % SLAB_BYTES;
    return ((s[at]! << 24) | (s[at + 1]! << 16) | (s[at + 2]! << 8) | s[at + 3]!) >>> 0;
  }

  /**
   * Copies every IPv4 net's address word and length, in order, into `words` and `lens` from index `at` (the caller
   * makes room for `length` more), and returns how many it wrote: the packer's bulk read of a 150,000-net list.
   */
  copyV4(words: Uint32Array, lens: Uint8Array, at: number): number {
    const where = this.#where,
      flags = this.#flags,
      prefix = this.#prefix,
      slabs = this.#slabs;
    let k = at;
    for (let i = 0; i < this.#count; i++) {
      if (flags[i]! & NET_V6) continue;
      const w = where[i]!;
      const s = slabs[w >>> SLAB_SHIFT]!;
      const b = w & (SLAB_BYTES - 1);
      words[k] = ((s[b]! << 24) | (s[b + 1]! << 16) | (s[b + 2]! << 8) | s[b + 3]!) >>> 0;
      lens[k++] = prefix[i]!;
    }
    return k - at;
  }

  /** Net i as a Cidr (its addr a view into the slab, never written after parsing). */
  at(i: number): Cidr {
    return { family: this.family(i), addr: this.addr(i), prefix: this.#prefix[i]!, hostBitsSet: this.hostBitsSet(i) };
  }

  /** Every net as a Cidr, in order: for readers that want the list (plans, diagnostics). */
  toCidrs(): Cidr[] {
    const out = new Array<Cidr>(this.#count);
    for (let i = 0; i < this.#count; i++) out[i] = this.at(i);
    return out;
  }

  /** The nets as flat arrays (a stored form: the persisted parse cache): address bytes back to back, lengths, flags. */
  flat(): { addrs: Uint8Array; prefix: Uint8Array; flags: Uint8Array } {
    let bytes = 0;
    for (let i = 0; i < this.#count; i++) bytes += this.#flags[i]! & NET_V6 ? 16 : 4;
    const addrs = new Uint8Array(bytes);
    for (let i = 0, at = 0; i < this.#count; i++) {
      const a = this.addr(i);
      addrs.set(a, at);
      at += a.length;
    }
    return { addrs, prefix: this.#prefix.slice(0, this.#count), flags: this.#flags.slice(0, this.#count) };
  }

  /**
   * `n` IPv4 nets whose addresses stay where they are: each slab is a view of `addrs` (a slab's worth of nets), so
   * nothing is copied (fresh memory costs a page fault per 4 KiB, slow on this VM), and the next parse() starts a slab
   * of its own. `addrs` must never be written afterwards (the parse cache's entry bytes are not).
   */
  #viewIpv4(addrs: Uint8Array, n: number): void {
    const perSlab = SLAB_BYTES >>> 2;
    const where = this.#where;
    for (let j = 0; j < n;) {
      const start = j;
      const end = Math.min(n, start + perSlab);
      const base = (this.#slabs.push(addrs.subarray(start * 4, end * 4)) - 1) * SLAB_BYTES - start * 4;
      for (; j < end; j++) where[j] = base + j * 4;
    }
    this.#used = SLAB_BYTES;
    this.#count = n;
  }

  /**
   * A list from flat() arrays; null when they do not fit together (a flag or length out of range, bytes left over).
   * An IPv4-only list keeps viewing `f.addrs` (never write to it afterwards); any other copies its addresses.
   */
  static fromFlat(f: { addrs: Uint8Array; prefix: Uint8Array; flags: Uint8Array }): NetList | null {
    const n = f.prefix.length;
    if (f.flags.length !== n) return null;
    const list = new NetList();
    // At least one slot each, so that parse() can still grow them by doubling.
    list.#where = new Uint32Array(Math.max(n, 1));
    list.#prefix = new Uint8Array(Math.max(n, 1));
    list.#prefix.set(f.prefix);
    list.#flags = new Uint8Array(Math.max(n, 1));
    list.#flags.set(f.flags);
    if (n > 0 && f.addrs.length === 4 * n && onlyIpv4(list.#prefix, list.#flags, n)) {
      list.#viewIpv4(f.addrs, n);
      return list;
    }
    // Locals in the loop, and the addresses copied a slab's worth at a time: a copy per net (and the private fields
    // read per net) cost 0.15-0.2 s for the 1M-prefix list's cached files, in a fresh process.
    const { addrs, prefix, flags } = f;
    const slabs = list.#slabs;
    const where = list.#where;
    let used = list.#used;
    let from = 0;
    let runFrom = 0;
    let runAt = used;
    for (let i = 0; i < n; i++) {
      const flag = flags[i]!;
      const size = flag & NET_V6 ? 16 : 4;
      if (flag > (NET_V6 | NET_HOST_BITS) || prefix[i]! > size * 8 || from + size > addrs.length) return null;
      if (used + 16 > SLAB_BYTES) {
        if (from > runFrom) slabs[slabs.length - 1]!.set(addrs.subarray(runFrom, from), runAt);
        slabs.push(new Uint8Array(SLAB_BYTES));
        used = 0;
        runFrom = from;
        runAt = 0;
      }
      where[i] = (slabs.length - 1) * SLAB_BYTES + used;
      used += size;
      from += size;
    }
    if (from !== addrs.length) return null;
    if (from > runFrom) slabs[slabs.length - 1]!.set(addrs.subarray(runFrom, from), runAt);
    list.#used = used;
    list.#count = n;
    return list;
  }
}

/**
 * Whether the first `n` nets are all IPv4 (flags with no bit but NET_HOST_BITS) of lengths up to 32, checked four at
 * a time: `prefix` and `flags` start a buffer of their own (aligned for a 32-bit view).
 */
function onlyIpv4(prefix: Uint8Array, flags: Uint8Array, n: number): boolean {
  const words = n >>> 2;
  const p = new Uint32Array(prefix.buffer, prefix.byteOffset, words);
  const fl = new Uint32Array(flags.buffer, flags.byteOffset, words);
  // A byte over 32 has its top bit set, or gets it once 95 is added (and only such a byte carries into the next).
  for (let i = 0; i < words; i++)
    if (((p[i]! | (p[i]! + 0x5f5f5f5f)) & 0x80808080) !== 0 || (fl[i]! & ~0x02020202) !== 0) return false;
  for (let i = words * 4; i < n; i++) if (prefix[i]! > 32 || (flags[i]! & ~NET_HOST_BITS) !== 0) return false;
  return true;
}

/** An IPv4 address held as a u32 word, in dotted quad ("10.0.0.1"). */
export function formatIpv4Word(word: number): string {
  return `${word >>> 24}.${(word >>> 16) & 255}.${(word >>> 8) & 255}.${word & 255}`;
}

/** A typed array twice as long holding `a` at its start: the growing buffers of packed lists. */
export function grow<T extends Uint8Array | Uint32Array>(a: T): T {
  const out = new (a.constructor as new (n: number) => T)(a.length * 2);
  out.set(a);
  return out;
}

const SLAB_SHIFT = 16;
/** Bytes of one slab of addresses: a power of two, so a net's place splits by shift and mask. */
const SLAB_BYTES = 1 << SLAB_SHIFT;

function maskBytes(addr: Uint8Array, prefix: number): Uint8Array {
  const out = new Uint8Array(addr);
  maskInPlace(out, prefix);
  return out;
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Canonical text: dotted quad, or RFC 5952 IPv6 (lower case, longest zero run compressed). */
export function formatIp(family: IpFamily, addr: Uint8Array): string {
  if (family === 4) return Array.from(addr).join('.');
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((addr[i]! << 8) | addr[i + 1]!);
  let bestStart = -1,
    bestLen = 0;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i > 1) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  const left = hex.slice(0, bestStart).join(':');
  const right = hex.slice(bestStart + bestLen).join(':');
  return `${left}::${right}`;
}

export function formatCidr(c: Pick<Cidr, 'family' | 'addr' | 'prefix'>): string {
  return `${formatIp(c.family, c.addr)}/${c.prefix}`;
}

/** True when `outer` contains every address of `inner`. */
export function cidrContains(outer: Cidr, inner: Cidr): boolean {
  if (outer.family !== inner.family || outer.prefix > inner.prefix) return false;
  return bytesEqual(maskBytes(inner.addr, outer.prefix), outer.addr);
}

/** True when the two CIDRs share at least one address. */
export function cidrOverlaps(a: Cidr, b: Cidr): boolean {
  return cidrContains(a, b) || cidrContains(b, a);
}

/** True when the CIDR is a whole address family (0.0.0.0/0 or ::/0). */
export function isCatchAll(c: Cidr): boolean {
  return c.prefix === 0;
}

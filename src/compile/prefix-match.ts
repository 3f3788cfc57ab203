// Fast membership of an address in a prefix set: sorted, merged address ranges searched by bisection.
import { parseCidr, parseIp, type IpFamily } from '../net/cidr.js';

/** An address as a number: IPv4 fits a double exactly, IPv6 needs a bigint. */
export type AddressValue = { family: 4; value: number } | { family: 6; value: bigint };

function addressValue(family: IpFamily, addr: Uint8Array): AddressValue {
  if (family === 4) return { family, value: ((addr[0]! << 24) | (addr[1]! << 16) | (addr[2]! << 8) | addr[3]!) >>> 0 };
  let n = 0n;
  for (const b of addr) n = (n << 8n) | BigInt(b);
  return { family, value: n };
}

/** Parses an address; null when the text is not one. */
export function parseAddressValue(text: string): AddressValue | null {
  const ip = parseIp(text);
  return ip ? addressValue(ip.family, ip.addr) : null;
}

export interface PrefixMatcher {
  family: IpFamily;
  /** True when the address is inside one of the set's prefixes (always false for the other family). */
  has(address: AddressValue): boolean;
}

/**
 * Builds a matcher for prefixes of one family. Works on any list (unsorted, overlapping, duplicated): ranges are
 * sorted and merged first, so a lookup is one bisection whatever the set's size.
 */
export function prefixMatcher(family: IpFamily, prefixes: readonly string[]): PrefixMatcher {
  if (family === 4) {
    const ranges: [number, number][] = [];
    for (const p of prefixes) {
      const r = v4Range(p);
      if (r) ranges.push(r);
    }
    ranges.sort((a, b) => a[0] - b[0]);
    const starts: number[] = [];
    const ends: number[] = [];
    for (const [s, e] of ranges) {
      const last = ends.length - 1;
      if (last >= 0 && s <= ends[last]! + 1) ends[last] = Math.max(ends[last]!, e);
      else {
        starts.push(s);
        ends.push(e);
      }
    }
    const startArr = Float64Array.from(starts);
    const endArr = Float64Array.from(ends);
    return {
      family,
      has(a) {
        if (a.family !== 4) return false;
        const i = lastAtMost(startArr.length, (k) => startArr[k]! <= a.value);
        return i >= 0 && a.value <= endArr[i]!;
      },
    };
  }
  const ranges: [bigint, bigint][] = [];
  for (const p of prefixes) {
    const c = parseCidr(p);
    if (!c || c.family !== 6) continue;
    const start = addressValue(6, c.addr).value as bigint;
    ranges.push([start, start + (1n << BigInt(128 - c.prefix)) - 1n]);
  }
  ranges.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const starts: bigint[] = [];
  const ends: bigint[] = [];
  for (const [s, e] of ranges) {
    const last = ends.length - 1;
    if (last >= 0 && s <= ends[last]! + 1n) {
      if (e > ends[last]!) ends[last] = e;
    } else {
      starts.push(s);
      ends.push(e);
    }
  }
  return {
    family,
    has(a) {
      if (a.family !== 6) return false;
      const i = lastAtMost(starts.length, (k) => starts[k]! <= a.value);
      return i >= 0 && a.value <= ends[i]!;
    },
  };
}

/**
 * The address range of an IPv4 prefix. Sets hold canonical text ("192.0.2.0/24"), read here without the general
 * parser: building the matcher of a million-prefix deny list is dominated by this.
 */
function v4Range(text: string): [number, number] | null {
  let value = 0,
    octet = 0,
    dots = 0,
    digits = 0,
    prefix = 32;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (ch >= 48 && ch <= 57) {
      octet = octet * 10 + (ch - 48);
      digits++;
      continue;
    }
    if (ch === 46 && digits > 0 && octet <= 255 && dots < 3) {
      value = value * 256 + octet;
      octet = 0;
      digits = 0;
      dots++;
      continue;
    }
    if (ch === 47 && dots === 3 && digits > 0 && octet <= 255) {
      const bits = Number(text.slice(i + 1));
      if (!Number.isInteger(bits) || bits < 0 || bits > 32 || i + 1 === text.length) return null;
      prefix = bits;
      break;
    }
    return null;
  }
  if (dots !== 3 || digits === 0 || octet > 255) return null;
  // Masking in arithmetic: bitwise operators would turn addresses >= 2^31 negative.
  const size = 2 ** (32 - prefix);
  const start = Math.floor((value * 256 + octet) / size) * size;
  return [start, start + size - 1];
}

/** The last index k in [0, n) with ok(k), for a predicate true on a prefix of the range; -1 when none. */
function lastAtMost(n: number, ok: (k: number) => boolean): number {
  let lo = 0,
    hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ok(mid)) lo = mid + 1;
    else hi = mid;
  }
  return lo - 1;
}

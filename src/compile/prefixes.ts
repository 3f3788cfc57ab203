// Prefix lists in canonical form: one family, canonical text, sorted by address, no duplicates, none inside another.
import { formatCidr, type Cidr, type IpFamily } from '../net/cidr.js';

/**
 * The canonical prefixes of one family among `cidrs` (the other family's are left out). Two CIDRs are either
 * nested or disjoint, so after sorting by address (shorter prefix first on a tie) a prefix lies inside an earlier
 * one exactly when it starts before the end of the last prefix kept: one sweep drops them all.
 */
export function canonicalPrefixes(cidrs: readonly Cidr[], family: IpFamily): string[] {
  return family === 4 ? canonicalV4(cidrs) : canonicalV6(cidrs);
}

function canonicalV4(cidrs: readonly Cidr[]): string[] {
  const list: { start: number; prefix: number; cidr: Cidr }[] = [];
  for (const c of cidrs) {
    if (c.family !== 4) continue;
    const a = c.addr;
    list.push({ start: ((a[0]! << 24) | (a[1]! << 16) | (a[2]! << 8) | a[3]!) >>> 0, prefix: c.prefix, cidr: c });
  }
  list.sort((x, y) => x.start - y.start || x.prefix - y.prefix);
  const out: string[] = [];
  let lastEnd = -1;
  for (const p of list) {
    if (p.start <= lastEnd) continue;
    out.push(formatCidr(p.cidr));
    lastEnd = p.start + 2 ** (32 - p.prefix) - 1;
  }
  return out;
}

function v6Number(addr: Uint8Array): bigint {
  let n = 0n;
  for (const b of addr) n = (n << 8n) | BigInt(b);
  return n;
}

function canonicalV6(cidrs: readonly Cidr[]): string[] {
  const list: { start: bigint; prefix: number; cidr: Cidr }[] = [];
  for (const c of cidrs) if (c.family === 6) list.push({ start: v6Number(c.addr), prefix: c.prefix, cidr: c });
  list.sort((x, y) => (x.start < y.start ? -1 : x.start > y.start ? 1 : x.prefix - y.prefix));
  const out: string[] = [];
  let lastEnd = -1n;
  for (const p of list) {
    if (p.start <= lastEnd) continue;
    out.push(formatCidr(p.cidr));
    lastEnd = p.start + (1n << BigInt(128 - p.prefix)) - 1n;
  }
  return out;
}

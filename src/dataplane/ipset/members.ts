// Addresses and CIDRs in the exact text the kernel tools print (ipset save, iptables-save), so desired and read-back compare.
import { parseCidr, formatIp, formatIpv4Word, type Cidr } from '../../net/cidr.js';

export type Family = 4 | 6;

/**
 * An address as glibc's inet_ntop prints it, which is what ipset and iptables-save use: RFC 5952 compression,
 * except that IPv4-mapped (::ffff:a.b.c.d) and IPv4-compatible (::a.b.c.d) addresses keep a dotted tail.
 */
export function formatAddress(family: Family, addr: Uint8Array): string {
  if (family === 4) return formatIp(4, addr);
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) words.push((addr[i]! << 8) | addr[i + 1]!);
  let leadingZeros = 0;
  while (leadingZeros < 8 && words[leadingZeros] === 0) leadingZeros++;
  const dotted = `${addr[12]}.${addr[13]}.${addr[14]}.${addr[15]}`;
  if (leadingZeros === 6) return `::${dotted}`;
  if (leadingZeros === 5 && words[5] === 0xffff) return `::ffff:${dotted}`;
  return formatIp(6, addr);
}

/** A CIDR with host bits cleared, written `addr/len`; null when the text is not an address or CIDR. */
export function canonicalCidr(text: string): { family: Family; text: string; prefix: number } | null {
  const c = parseCidr(text.trim());
  if (!c) return null;
  return { family: c.family, text: `${formatAddress(c.family, c.addr)}/${c.prefix}`, prefix: c.prefix };
}

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?:\/(\d{1,2}))?$/;

/** The common case of huge sets, an IPv4 address or CIDR with a non-zero prefix, without the general parser. */
function ipv4Member(text: string): string | undefined {
  const m = IPV4.exec(text);
  if (!m) return undefined;
  const octets = [m[1], m[2], m[3], m[4]].map((o) => (o!.length > 1 && o![0] === '0' ? NaN : Number(o)));
  const prefix = m[5] === undefined ? 32 : m[5].length > 1 && m[5][0] === '0' ? NaN : Number(m[5]);
  if (octets.some((o) => !(o <= 255)) || !(prefix >= 1 && prefix <= 32)) return undefined;
  const addr = ((octets[0]! << 24) | (octets[1]! << 16) | (octets[2]! << 8) | octets[3]!) >>> 0;
  const net = prefix === 32 ? addr : (addr & (~0 << (32 - prefix))) >>> 0;
  const dotted = formatIpv4Word(net);
  return prefix === 32 ? dotted : `${dotted}/${prefix}`;
}

/**
 * The members a hash:net set holds for one desired entry, as `ipset save` prints them: a host without its /32 or
 * /128, a network with host bits cleared. hash:net refuses a zero prefix, so a whole family becomes its two halves.
 */
export function setMembersFor(text: string): { family: Family; members: string[] } | null {
  const fast = ipv4Member(text);
  if (fast) return { family: 4, members: [fast] };
  const c = parseCidr(text.trim());
  if (!c) return null;
  const max = c.family === 4 ? 32 : 128;
  if (c.prefix === 0) {
    const high = new Uint8Array(c.addr.length);
    high[0] = 0x80;
    return {
      family: c.family,
      members: [`${formatAddress(c.family, c.addr)}/1`, `${formatAddress(c.family, high)}/1`],
    };
  }
  const addr = formatAddress(c.family, c.addr);
  return { family: c.family, members: [c.prefix === max ? addr : `${addr}/${c.prefix}`] };
}

export type { Cidr };

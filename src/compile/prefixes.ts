// Prefix lists in canonical form: one family, canonical text, sorted by address, no duplicates, none inside another.
import type { Cidr, IpFamily } from '../net/cidr.js';
import { packCidrs, packedTexts } from './packed-prefixes.js';

/** The canonical prefixes of one family among `cidrs` as text (the other family's are left out). */
export function canonicalPrefixes(cidrs: readonly Cidr[], family: IpFamily): string[] {
  return packedTexts(packCidrs(cidrs, family));
}

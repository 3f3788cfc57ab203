// `ipset restore` input (pure): a new generation of one set filled under its temporary name, then switched in.
import { NotrackError } from '../../errors.js';
import { setMembersFor, type Family } from './members.js';
import { MAX_SET_NAME, SET_PREFIX, TMP_SUFFIX, tmpSetName } from './names.js';
import type { IpsetDesired } from './types.js';

export class IpsetDesiredError extends NotrackError {
  constructor(message: string) {
    super('ipset-invalid-desired', message);
  }
}

/** A desired set checked and reduced to the members `ipset save` will print, sorted and without duplicates. */
export interface CanonicalSet {
  name: string;
  family: Family;
  members: string[];
}

/** Checks a desired set and canonicalises its members; throws IpsetDesiredError naming the set and the member. */
export function canonicalSet(set: IpsetDesired): CanonicalSet {
  if (!set.name.startsWith(SET_PREFIX) || set.name.length > MAX_SET_NAME || !/^[A-Za-z0-9_.:-]+$/.test(set.name)) {
    throw new IpsetDesiredError(
      `"${set.name}" is not a notrack set name (${SET_PREFIX}..., at most ${MAX_SET_NAME} characters)`,
    );
  }
  if (set.name.endsWith(TMP_SUFFIX))
    throw new IpsetDesiredError(`set name ${set.name} ends with ${TMP_SUFFIX}, which notrack keeps for temporary sets`);
  if (set.family !== 4 && set.family !== 6)
    throw new IpsetDesiredError(`set ${set.name}: family ${String(set.family)} is not 4 or 6`);
  const members = new Set<string>();
  for (const m of set.members) {
    const c = setMembersFor(m);
    if (!c) throw new IpsetDesiredError(`set ${set.name}: "${m}" is not an address or CIDR`);
    if (c.family !== set.family)
      throw new IpsetDesiredError(`set ${set.name} is IPv${set.family} but ${m} is IPv${c.family}`);
    for (const x of c.members) members.add(x);
  }
  return { name: set.name, family: set.family, members: [...members].sort() };
}

const nextPow2 = (n: number): number => 2 ** Math.ceil(Math.log2(Math.max(1, n)));

/**
 * Creation options sized to the members: room to double before maxelem stops adds, and a hash table big enough
 * that filling it does not make the kernel resize it again and again.
 */
export function setOptions(count: number): { hashsize: number; maxelem: number } {
  return { hashsize: Math.max(1024, nextPow2(count / 2)), maxelem: Math.max(65536, nextPow2(count * 2)) };
}

/** How the new generation replaces the live set. */
export type SwitchIn = 'swap' | 'rename' | 'replace-incompatible';

/**
 * Restore input that creates the temporary set, fills it, and switches it in: `swap` with a live set of the same
 * type and family (rules using it see old then new, never a mix), `rename` when there is no live set, or, when
 * the live set has another type or family, destroy it (only possible when nothing uses it) and rename.
 */
export function renderIpsetRestore(set: CanonicalSet, switchIn: SwitchIn): string {
  const tmp = tmpSetName(set.name);
  const { hashsize, maxelem } = setOptions(set.members.length);
  const lines = [
    `create ${tmp} hash:net family ${set.family === 4 ? 'inet' : 'inet6'} hashsize ${hashsize} maxelem ${maxelem}`,
  ];
  for (const m of set.members) lines.push(`add ${tmp} ${m}`);
  if (switchIn === 'swap') lines.push(`swap ${tmp} ${set.name}`, `destroy ${tmp}`);
  else if (switchIn === 'rename') lines.push(`rename ${tmp} ${set.name}`);
  else lines.push(`destroy ${set.name}`, `rename ${tmp} ${set.name}`);
  lines.push('');
  return lines.join('\n');
}

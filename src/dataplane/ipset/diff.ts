// Compares desired ipsets with the kernel's (pure).
import { canonicalSet, type CanonicalSet } from './render.js';
import type { IpsetActual, IpsetChange, IpsetDesired } from './types.js';

/** Every difference: missing and extra sets, wrong type or family, members missing or unexpected, leftovers. */
export function diffIpsets(desired: readonly IpsetDesired[], actual: IpsetActual): IpsetChange[] {
  return diffCanonicalSets(desired.map(canonicalSet), actual);
}

/** diffIpsets for sets already checked and canonicalised (huge sets are canonicalised once per apply). */
export function diffCanonicalSets(desired: readonly CanonicalSet[], actual: IpsetActual): IpsetChange[] {
  const out: IpsetChange[] = [];
  const have = new Map(actual.sets.map((s) => [s.name, s]));
  const wanted = new Set<string>();
  for (const want of desired) {
    wanted.add(want.name);
    const s = have.get(want.name);
    if (!s) {
      out.push({ kind: 'missing-set', name: want.name });
      continue;
    }
    const expected = `hash:net inet${want.family === 6 ? '6' : ''}`;
    const got = `${s.type} ${s.family === 4 ? 'inet' : s.family === 6 ? 'inet6' : 'unknown'}`;
    if (expected !== got) {
      out.push({ kind: 'set-type-mismatch', name: want.name, expected, actual: got });
      continue;
    }
    const haveMembers = new Set(s.members);
    const wantMembers = new Set(want.members);
    const missing = want.members.filter((m) => !haveMembers.has(m));
    const unexpected = s.members.filter((m) => !wantMembers.has(m));
    if (missing.length + unexpected.length > 0)
      out.push({ kind: 'members-differ', name: want.name, missing, unexpected });
  }
  for (const s of actual.sets)
    if (!wanted.has(s.name)) out.push({ kind: 'extra-set', name: s.name, references: s.references });
  for (const s of actual.leftovers) out.push({ kind: 'leftover-temporary-set', name: s.name });
  return out;
}

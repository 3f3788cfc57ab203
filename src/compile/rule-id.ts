// Stable ids for the rules of an interface's ingress: a hash of what each rule matches and does, so that metrics
// label a rule by what it is rather than by its position (inserting a rule renames no other rule's series).
import { createHash } from 'node:crypto';
import type { IngressEntry, InterfaceState } from './desired-state.js';

/** Hex digits of an id: 48 bits, ample for the rules of one policy. */
const ID_LENGTH = 12;

/**
 * The id of every rule counter of `iface` (index i is counter i): sha256 of the rule's compiled entries (action,
 * protocols, ICMP, address sets by content id, resolved ports) for both families, without its position. A rule
 * keeps its id while it is unchanged, wherever it moves; editing it gives a new id. Two identical rules of one
 * policy and direction (the second can never match first) are told apart by a suffix: `-2`, `-3`.
 */
export function ruleIds(iface: Pick<InterfaceState, 'ingress' | 'counters'>): string[] {
  const entries = new Map<number, Omit<IngressEntry, 'counter'>[]>();
  for (const e of [...iface.ingress.v4, ...iface.ingress.v6]) {
    const { counter, ...rest } = e;
    let list = entries.get(counter);
    if (!list) entries.set(counter, (list = []));
    list.push(rest);
  }
  const seen = new Map<string, number>();
  return iface.counters.map((ref, i) => {
    const hash = createHash('sha256')
      .update(JSON.stringify(entries.get(i) ?? []))
      .digest('hex')
      .slice(0, ID_LENGTH);
    const key = `${ref.policy}/${ref.direction}/${hash}`;
    const n = (seen.get(key) ?? 0) + 1;
    seen.set(key, n);
    return n === 1 ? hash : `${hash}-${n}`;
  });
}

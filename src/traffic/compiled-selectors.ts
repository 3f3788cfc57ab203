// Selector addresses read from hosts' compiled states where they hold them, so the lint's second lowering of every
// rule does not resolve, pack and digest a million-prefix selector set again.
import type { IpFamily } from '../net/cidr.js';
import type { DesiredState } from '../compile/desired-state.js';
import { SelectorAddresses } from '../compile/sets.js';
import type { ResourceSet } from '../model/resources.js';
import type { Selector } from '../model/selector/index.js';
import type { PackedPrefixes } from '../compile/packed-prefixes.js';
import { setMembers } from './decisions.js';

type FamilyPrefixes = ReturnType<SelectorAddresses['of']>;

/** The selector a set was made for (`selector S` or `notSelector S`), or null for nets and named ports. */
function selectorOf(origin: string): string | null {
  const m = /^(?:selector|notSelector) (.*)$/s.exec(origin);
  return m ? m[1]! : null;
}

/**
 * SelectorAddresses that answers from compiled states first. Exact: the compiler adds a selector's set with origin
 * `selector S` (or `notSelector S`) and as content exactly what S stands for in that family, and a state keeps the
 * origin of a set's first user; a set of equal content made first for something else is simply not used, and a
 * selector not compiled in both families is resolved as before.
 */
export class CompiledSelectorAddresses extends SelectorAddresses {
  private readonly compiled = new Map<string, Partial<Record<IpFamily, PackedPrefixes>>>();

  constructor(resources: Pick<ResourceSet, 'networkSets' | 'hostEndpoints'>, states: Iterable<DesiredState>) {
    super(resources);
    for (const state of states) {
      for (const set of Object.values(state.sets)) {
        const selector = selectorOf(set.origin);
        if (selector === null) continue;
        const known = this.compiled.get(selector) ?? {};
        // The compiler's own packed list: SetTable knows its id by this object (no second digest).
        known[set.family] ??= setMembers(set);
        this.compiled.set(selector, known);
      }
    }
  }

  override of(selector: Selector): FamilyPrefixes {
    const known = this.compiled.get(selector.toString());
    if (known?.[4] && known[6]) return { 4: known[4], 6: known[6] };
    return super.of(selector);
  }
}

// Address sets: what a rule's nets and selectors stand for, and the content-hashed PrefixSets a host's state shares.
import { createHash } from 'node:crypto';
import type { IpFamily } from '../net/cidr.js';
import type { ResourceSet } from '../model/resources.js';
import type { Selector } from '../model/selector/index.js';
import type { PrefixSet } from './desired-state.js';
import { PrefixCollector, type PackedPrefixes } from './packed-prefixes.js';
import { PackedPrefixSet } from './prefix-set.js';

/** Canonical packed prefixes per family. */
type FamilyPrefixes = Record<IpFamily, PackedPrefixes>;

/**
 * What selectors stand for, as Calico resolves them: the `nets` of every GlobalNetworkSet and the `expectedIPs`
 * of every HostEndpoint (of any node) whose labels match. Interface addresses are not learned. Results are
 * cached by the selector's canonical text, since many rules and every host reuse the same few selectors.
 */
export class SelectorAddresses {
  private readonly cache = new Map<string, FamilyPrefixes>();
  constructor(private readonly resources: Pick<ResourceSet, 'networkSets' | 'hostEndpoints'>) {}

  of(selector: Selector): FamilyPrefixes {
    const key = selector.toString();
    let found = this.cache.get(key);
    if (!found) {
      const nets = new PrefixCollector();
      for (const s of this.resources.networkSets) {
        if (!selector.matches(s.labels)) continue;
        // A scanned list is read packed: its Cidr objects are never made.
        if (s.packedNets) nets.addList(s.packedNets);
        else for (const c of s.nets) nets.add(c);
      }
      for (const h of this.resources.hostEndpoints)
        if (selector.matches(h.labels)) for (const c of h.expectedIPs) nets.add(c);
      found = { 4: nets.pack(4), 6: nets.pack(6) };
      this.cache.set(key, found);
    }
    return found;
  }
}

const idCache = new WeakMap<readonly string[], Map<IpFamily, string>>();

/**
 * The id of a set given as canonical text: 16 hex digits (64 bits) of the sha256 of its family and prefixes, so equal
 * sets share one id (the id PackedPrefixSet.of gives the same set packed).
 */
export function prefixSetId(family: IpFamily, prefixes: readonly string[]): string {
  let byFamily = idCache.get(prefixes);
  const known = byFamily?.get(family);
  if (known) return known;
  const id = createHash('sha256')
    .update(`ipv${family}\n${prefixes.join('\n')}`)
    .digest('hex')
    .slice(0, 16);
  if (!byFamily) {
    byFamily = new Map();
    idCache.set(prefixes, byFamily);
  }
  byFamily.set(family, id);
  return id;
}

/** The set made of a packed list already (a selector's list, used by many rules): its digest is computed once. */
const madeSets = new WeakMap<PackedPrefixes, PackedPrefixSet>();
/** Lists of at most this many prefixes are digested again rather than remembered. */
const REMEMBERED_SIZE = 16;

/** The sets one host's state uses. A set is described by its first user, in evaluation order. */
export class SetTable {
  private readonly sets = new Map<string, PrefixSet>();
  /**
   * The same sets by id, made on the first byId() and kept in step from then on: for lookups while sets are still
   * being added. A compile never asks, and thousands of one-set tables (one per rule) would each add a property.
   */
  private index: Record<string, PrefixSet> | null = null;

  add(prefixes: PackedPrefixes, origin: string): string {
    // Only lists worth it are remembered: a rule's own nets are a new list each time, and a weak map entry per rule
    // costs the collector more than the digest of a few prefixes.
    let made = prefixes.count > REMEMBERED_SIZE ? madeSets.get(prefixes) : undefined;
    if (!made) {
      made = PackedPrefixSet.of(prefixes, origin);
      if (prefixes.count > REMEMBERED_SIZE) madeSets.set(prefixes, made);
    }
    if (!this.sets.has(made.id)) this.remember(made.origin === origin ? made : made.describedAs(origin));
    return made.id;
  }

  /** Takes a set another table made (the fleet's lowering cache), unless one with its content is here already. */
  adopt(set: PrefixSet): void {
    if (!this.sets.has(set.id)) this.remember(set);
  }

  private remember(set: PrefixSet): void {
    this.sets.set(set.id, set);
    if (this.index) this.index[set.id] = set;
  }

  /**
   * Every set so far by id, as a live view (not sorted, not a copy): for code that looks sets up between additions,
   * such as the lint that lowers one rule at a time; record() there would copy and sort every set for every rule.
   */
  byId(): Readonly<Record<string, PrefixSet>> {
    if (!this.index) {
      this.index = {};
      for (const [id, set] of this.sets) this.index[id] = set;
    }
    return this.index;
  }

  /** The sets in the order they were first added. */
  inOrder(): PrefixSet[] {
    return [...this.sets.values()];
  }

  get(id: string): PrefixSet {
    const set = this.sets.get(id);
    if (!set) throw new Error(`no prefix set ${id}`);
    return set;
  }

  record(): Record<string, PrefixSet> {
    const out: Record<string, PrefixSet> = {};
    for (const id of [...this.sets.keys()].sort()) out[id] = this.sets.get(id)!;
    return out;
  }
}

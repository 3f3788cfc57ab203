// When two revisions of an interface's checks differ only in the contents of their sets, where packets can change
// fate: the addresses of the members that changed. A 1M-prefix deny list that gained or lost one member is then
// diffed as that member, not partitioned whole.
//
// Why that is exact: the two lists hold the same checks in the same order, with the same rules and failsafes, and
// differ only in which set a side names. A packet whose source lies outside every changed source set's changed
// members (and likewise its destination) gets the same answer from every set test in both revisions, so the same
// check decides it the same way. Only packets with an address in those members can change, and the diff engine
// partitions exactly those.
import type { IpFamily } from '../net/cidr.js';
import type { DesiredState, IngressEntry, RuleRef, SideMatch } from '../compile/desired-state.js';
import { sameEntry, samePorts } from './entry-compare.js';
import { egressView } from '../compile/egress-entries.js';
import { interfaceState } from '../compile/evaluate.js';
import type { Direction } from '../model/resources.js';
import { setIndex } from './decisions.js';
import { IntervalSet } from './interval-set.js';
import { changedMemberRanges } from './prefix-index.js';

/** Addresses where the two revisions may decide differently, per address field (empty: nowhere). */
export interface SetDelta {
  src: IntervalSet;
  dst: IntervalSet;
}

interface ChecksOf {
  /** What decides besides the entries: the fallback, the rule counters and the failsafes. */
  fallback: string;
  counters: readonly RuleRef[];
  failsafes: string;
  entries: readonly IngressEntry[];
  /** The set ids, in the order the entries name them, with the field each constrains. */
  sets: { field: 'src' | 'dst'; id: string }[];
}

function checksOf(state: DesiredState, iface: string, direction: Direction, family: IpFamily): ChecksOf | null {
  let entries: readonly IngressEntry[];
  let counters: readonly RuleRef[];
  let fallback: string;
  if (direction === 'ingress') {
    const ifc = interfaceState(state, iface);
    if (!ifc) return null;
    entries = family === 4 ? ifc.ingress.v4 : ifc.ingress.v6;
    counters = ifc.counters;
    fallback = 'interface';
  } else {
    const v = egressView(state, iface, family);
    if (!v.active) return null;
    entries = v.entries;
    counters = v.counters;
    fallback = v.chain === null ? 'no-chain' : 'chain';
  }
  const sets: ChecksOf['sets'] = [];
  for (const e of entries) {
    for (const [field, side] of [
      ['src', e.source],
      ['dst', e.destination],
    ] as const) {
      for (const id of side.inSets) sets.push({ field, id });
      for (const id of side.notInSets) sets.push({ field, id });
    }
  }
  return { fallback, counters, failsafes: JSON.stringify(state.failsafes), entries, sets };
}

const sameSideShape = (a: SideMatch, b: SideMatch): boolean =>
  a.inSets.length === b.inSets.length &&
  a.notInSets.length === b.notInSets.length &&
  samePorts(a.ports, b.ports) &&
  samePorts(a.notPorts, b.notPorts);

/**
 * Whether two revisions' checks are alike but for which sets they name: the same entries field by field (set ids
 * aside, their number not), counters, failsafes and fallback. Compared in place: two 10,000-entry lists written out
 * as text to compare them cost more than the rest of a one-prefix diff.
 */
function sameShape(b: ChecksOf, h: ChecksOf): boolean {
  if (b.fallback !== h.fallback || b.failsafes !== h.failsafes || b.entries.length !== h.entries.length) return false;
  if (b.counters.length !== h.counters.length) return false;
  for (let i = 0; i < b.counters.length; i++) {
    const x = b.counters[i]!,
      y = h.counters[i]!;
    if (x.policy !== y.policy || x.direction !== y.direction || x.index !== y.index) return false;
  }
  for (let i = 0; i < b.entries.length; i++) {
    const e = b.entries[i]!,
      f = h.entries[i]!;
    if (e.counter !== f.counter || !sameEntry(e, f, sameSideShape)) return false;
  }
  return true;
}

/**
 * The addresses, per field, where the two revisions may decide packets of the interface, direction and family
 * differently; null when they differ in more than set contents (then the whole space must be compared).
 */
export function setDelta(
  base: DesiredState | null,
  head: DesiredState | null,
  iface: string,
  direction: Direction,
  family: IpFamily,
): SetDelta | null {
  if (!base || !head) return null;
  const b = checksOf(base, iface, direction, family);
  const h = checksOf(head, iface, direction, family);
  if (!b || !h || !sameShape(b, h) || b.sets.length !== h.sets.length) return null;
  const changed = { src: [] as IntervalSet[], dst: [] as IntervalSet[] };
  const seen = new Set<string>();
  b.sets.forEach((bs, i) => {
    const hs = h.sets[i]!;
    const pair = `${bs.field} ${bs.id} ${hs.id}`;
    if (bs.id === hs.id || seen.has(pair)) return;
    seen.add(pair);
    changed[bs.field].push(changedMemberRanges(setIndex(base.sets, bs.id), setIndex(head.sets, hs.id)));
  });
  const union = (list: IntervalSet[]): IntervalSet => list.reduce((u, s) => u.union(s), IntervalSet.empty());
  return { src: union(changed.src), dst: union(changed.dst) };
}

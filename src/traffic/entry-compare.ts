// Two classifier entries compared field by field, in place: revisions of a 10,000-rule interface are compared this
// way instead of as texts written out from them.
import type { IngressEntry, PortRange, SideMatch } from '../compile/desired-state.js';

export function samePorts(a: readonly PortRange[], b: readonly PortRange[]): boolean {
  return a.length === b.length && a.every((r, i) => r.from === b[i]!.from && r.to === b[i]!.to);
}

function sameIcmp(a: IngressEntry['icmp'], b: IngressEntry['icmp']): boolean {
  return a === null || b === null ? a === b : a.type === b.type && a.code === b.code;
}

/** Whether the entries match alike apart from their counters, with `sameSide` deciding about each side. */
export function sameEntry(
  e: Omit<IngressEntry, 'counter'>,
  f: Omit<IngressEntry, 'counter'>,
  sameSide: (a: SideMatch, b: SideMatch) => boolean,
): boolean {
  return (
    e.action === f.action &&
    e.protocol === f.protocol &&
    e.notProtocol === f.notProtocol &&
    sameIcmp(e.icmp, f.icmp) &&
    sameIcmp(e.notICMP, f.notICMP) &&
    sameSide(e.source, f.source) &&
    sameSide(e.destination, f.destination)
  );
}

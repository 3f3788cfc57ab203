// Named ports resolved to (protocol, port), and a rule split into pieces of one protocol each when its ports need it.
//
// Calico turns a named port into an IP-port set: the address, protocol and port of every endpoint that defines the
// name. notrack matches the protocol and port only and leaves addresses to the rule's nets and selectors: the
// XDP classifier keys ports by protocol, not by address, and the deny and allow lists people write name
// addresses anyway. So `ports: [postgres]` with no selector means "TCP 5432 on any address", where Calico would
// mean "TCP 5432 to the addresses of the endpoints that define postgres". With a selector on the same side,
// both use only the endpoints that selector picks.
import type { HostEndpoint, PolicyRule, EntityMatch } from '../model/resources.js';
import type { Selector } from '../model/selector/index.js';
import type { PortRange } from './desired-state.js';

/** The protocols whose packets carry ports (the entry program sets NT_PKT_F_PORTS for exactly these). */
export const PORT_PROTOCOLS: readonly number[] = [6, 17, 132, 136];

/** Every port: a rule side that needs a packet with ports, whatever the port. */
const ANY_PORT: PortRange = { from: 0, to: 65535 };

export interface SidePorts {
  ports: PortRange[];
  notPorts: PortRange[];
}

/** A rule, or the part of it for one protocol; pieces of one rule never match the same packet. */
export interface RulePiece {
  protocol: number | null;
  notProtocol: number | null;
  source: SidePorts;
  destination: SidePorts;
}

/** Sorted, with overlapping and adjacent ranges merged: the same ports, written one way. */
function mergeRanges(ranges: readonly PortRange[]): PortRange[] {
  const sorted = [...ranges].sort((a, b) => a.from - b.from || a.to - b.to);
  const out: PortRange[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && r.from <= last.to + 1) last.to = Math.max(last.to, r.to);
    else out.push({ from: r.from, to: r.to });
  }
  return out;
}

/** Named ports as the HostEndpoints define them; lookups cached per name and selector. */
export class NamedPorts {
  private readonly cache = new Map<string, { protocol: number; port: number }[]>();
  constructor(private readonly endpoints: readonly HostEndpoint[]) {}

  /** Every (protocol, port) the name stands for on the endpoints `selector` picks (all endpoints without one). */
  resolve(name: string, selector: Selector | null): { protocol: number; port: number }[] {
    const key = `${name}\u0000${selector?.toString() ?? ''}`;
    let found = this.cache.get(key);
    if (!found) {
      const seen = new Map<string, { protocol: number; port: number }>();
      for (const h of this.endpoints) {
        if (selector && !selector.matches(h.labels)) continue;
        for (const p of h.ports) {
          if (p.name === name) seen.set(`${p.protocol}/${p.port}`, { protocol: p.protocol, port: p.port });
        }
      }
      found = [...seen.values()].sort((a, b) => a.protocol - b.protocol || a.port - b.port);
      this.cache.set(key, found);
    }
    return found;
  }
}

function hasNamed(side: EntityMatch): boolean {
  return side.ports.some((p) => p.kind === 'named') || side.notPorts.some((p) => p.kind === 'named');
}

/** The ranges of `list` that apply to `protocol`: numeric ones always, named ones when their protocol is it. */
function rangesFor(
  list: EntityMatch['ports'],
  side: EntityMatch,
  protocol: number | null,
  named: NamedPorts,
): PortRange[] {
  const out: PortRange[] = [];
  for (const p of list) {
    if (p.kind === 'range') out.push({ from: p.from, to: p.to });
    else
      for (const r of named.resolve(p.name, side.selector))
        if (r.protocol === protocol) out.push({ from: r.port, to: r.port });
  }
  return mergeRanges(out);
}

/** The protocols a side's `ports` allow: those of its named ports, or every port protocol once a number is listed. */
function sideProtocols(side: EntityMatch, named: NamedPorts): Set<number> | null {
  if (side.ports.length === 0) return null;
  if (side.ports.some((p) => p.kind === 'range')) return new Set(PORT_PROTOCOLS);
  return new Set(
    side.ports.flatMap((p) => (p.kind === 'named' ? named.resolve(p.name, side.selector).map((r) => r.protocol) : [])),
  );
}

function sidePorts(side: EntityMatch, protocol: number | null, named: NamedPorts): SidePorts | null {
  const ports = rangesFor(side.ports, side, protocol, named);
  const notPorts = rangesFor(side.notPorts, side, protocol, named);
  // Listed ports that all resolve to other protocols leave nothing this piece could match.
  if (side.ports.length > 0 && ports.length === 0) return null;
  // The rule needs a packet with ports even when none of its notPorts apply to this protocol.
  if (ports.length === 0 && notPorts.length === 0 && side.notPorts.length > 0) return { ports: [ANY_PORT], notPorts };
  return { ports, notPorts };
}

/**
 * The pieces of a rule: one, unless it has named ports and no protocol, in which case one per protocol its ports
 * can have (ascending), each with that protocol's ports. Pieces that can never match are left out, so a rule may
 * have none (its counter stays, at zero).
 */
export function rulePieces(rule: PolicyRule, named: NamedPorts): RulePiece[] {
  const split = rule.protocol === null && (hasNamed(rule.source) || hasNamed(rule.destination));
  let protocols: (number | null)[] = [rule.protocol];
  if (split) {
    let candidates = new Set(PORT_PROTOCOLS);
    for (const side of [rule.source, rule.destination]) {
      const allowed = sideProtocols(side, named);
      if (allowed) candidates = new Set([...candidates].filter((p) => allowed.has(p)));
    }
    protocols = [...candidates].filter((p) => p !== rule.notProtocol).sort((a, b) => a - b);
  }
  const pieces: RulePiece[] = [];
  for (const protocol of protocols) {
    const source = sidePorts(rule.source, protocol, named);
    const destination = sidePorts(rule.destination, protocol, named);
    if (!source || !destination) continue;
    pieces.push({ protocol, notProtocol: split ? null : rule.notProtocol, source, destination });
  }
  return pieces;
}

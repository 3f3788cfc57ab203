// Named ports with Calico's meaning, and a rule split into pieces that each fit one classifier entry.
//
// Calico turns a named port into an IP-port set: the (address, protocol, port) of every endpoint that defines the
// name (only those the same side's selector picks, when it has one). So `destination: {ports: [postgres]}` matches
// TCP 5432 to the addresses of the endpoints that define postgres, not TCP 5432 to any address, and a named port
// defined only on endpoints without expectedIPs matches nothing. notPorts is the negation of the same membership.
//
// An entry is a conjunction (addresses in every listed set, port in the ranges), while a side's ports are an
// alternative (a number, or this address with that port, or …), so a rule becomes pieces:
//   - one per protocol when it has no protocol of its own and names ports (a named port carries its protocol);
//   - per side, one alternative for the numeric ports and one per port number a named port stands for (with the
//     addresses defining it); a negated named port splits into "another port" and "that port, another address";
//   - the product of the two sides' alternatives.
// Pieces of one rule are adjacent in the entry lists and share its counter, so first match over entries is first
// match over rules; two pieces of a rule may match the same packet, which changes nothing.
import type { Cidr } from '../net/cidr.js';
import type { HostEndpoint, PolicyRule, EntityMatch } from '../model/resources.js';
import type { Selector } from '../model/selector/index.js';
import type { PortRange } from './desired-state.js';

/** The protocols whose packets carry ports (the entry program sets NT_PKT_F_PORTS for exactly these). */
export const PORT_PROTOCOLS: readonly number[] = [6, 17, 132, 136];

/** Every port: a rule side that needs a packet with ports, whatever the port. */
const ANY_PORT: PortRange = { from: 0, to: 65535 };

/** One side of a piece: ports, and the address sets named ports add (each listed set is one more condition). */
export interface SidePorts {
  ports: PortRange[];
  notPorts: PortRange[];
  /** The address must be in each of these (the endpoints defining a named port). */
  inAddresses: NamedAddresses[];
  /** The address must be in none of these (the endpoints defining a negated named port). */
  notInAddresses: NamedAddresses[];
}

/** The addresses of the endpoints that define a named port with one protocol and port. */
export interface NamedAddresses {
  name: string;
  addresses: Cidr[];
}

/** A rule, or a part of it; see the top of this file. */
export interface RulePiece {
  protocol: number | null;
  notProtocol: number | null;
  source: SidePorts;
  destination: SidePorts;
}

/** What a named port stands for on the endpoints that define it: a protocol, a port and their addresses. */
export interface NamedPortDefinition {
  protocol: number;
  port: number;
  addresses: Cidr[];
}

/** Sorted, with overlapping and adjacent ranges merged: the same ports, written one way. */
export function mergeRanges(ranges: readonly PortRange[]): PortRange[] {
  const sorted = [...ranges].sort((a, b) => a.from - b.from || a.to - b.to);
  const out: PortRange[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && r.from <= last.to + 1) last.to = Math.max(last.to, r.to);
    else out.push({ from: r.from, to: r.to });
  }
  return out;
}

/** The ports in both lists (an empty list meaning "no constraint"); null when none are. */
function intersectRanges(a: readonly PortRange[], b: readonly PortRange[]): PortRange[] | null {
  if (a.length === 0) return [...b];
  if (b.length === 0) return [...a];
  const out: PortRange[] = [];
  for (const x of a)
    for (const y of b) {
      const from = Math.max(x.from, y.from),
        to = Math.min(x.to, y.to);
      if (from <= to) out.push({ from, to });
    }
  return out.length ? mergeRanges(out) : null;
}

/** Named ports as the HostEndpoints define them; lookups cached per name and selector. */
export class NamedPorts {
  private readonly cache = new Map<string, NamedPortDefinition[]>();
  constructor(private readonly endpoints: readonly HostEndpoint[]) {}

  /** Every (protocol, port) the name stands for on the endpoints `selector` picks (all without one), with their addresses. */
  resolve(name: string, selector: Selector | null): NamedPortDefinition[] {
    const key = `${name}\u0000${selector?.toString() ?? ''}`;
    let found = this.cache.get(key);
    if (!found) {
      const seen = new Map<string, NamedPortDefinition>();
      for (const h of this.endpoints) {
        if (selector && !selector.matches(h.labels)) continue;
        for (const p of h.ports) {
          if (p.name !== name) continue;
          const k = `${p.protocol}/${p.port}`;
          const d = seen.get(k) ?? { protocol: p.protocol, port: p.port, addresses: [] };
          d.addresses.push(...h.expectedIPs);
          seen.set(k, d);
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

/** The protocols a side's `ports` allow: those of its named ports, or every port protocol once a number is listed. */
function sideProtocols(side: EntityMatch, named: NamedPorts): Set<number> | null {
  if (side.ports.length === 0) return null;
  if (side.ports.some((p) => p.kind === 'range')) return new Set(PORT_PROTOCOLS);
  return new Set(
    side.ports.flatMap((p) => (p.kind === 'named' ? named.resolve(p.name, side.selector).map((r) => r.protocol) : [])),
  );
}

/** The named ports of a list that apply to `protocol`, by port number, with the addresses defining each. */
function namedByPort(
  list: EntityMatch['ports'],
  side: EntityMatch,
  protocol: number | null,
  named: NamedPorts,
): Map<number, NamedAddresses> {
  const out = new Map<number, NamedAddresses>();
  for (const p of list) {
    if (p.kind !== 'named') continue;
    for (const d of named.resolve(p.name, side.selector)) {
      if (d.protocol !== protocol) continue;
      const a = out.get(d.port);
      if (a) {
        if (!a.name.split(', ').includes(p.name)) a.name = [...a.name.split(', '), p.name].sort().join(', ');
        a.addresses.push(...d.addresses);
      } else out.set(d.port, { name: p.name, addresses: [...d.addresses] });
    }
  }
  // By port (and names sorted), so that the order the names are written in changes nothing compiled.
  return new Map([...out].sort((a, b) => a[0] - b[0]));
}

const rangesOf = (list: EntityMatch['ports']): PortRange[] =>
  mergeRanges(list.flatMap((p) => (p.kind === 'range' ? [{ from: p.from, to: p.to }] : [])));

/** The alternatives of one side for a piece of `protocol`: none when the side can never match. */
function sideAlternatives(side: EntityMatch, protocol: number | null, named: NamedPorts): SidePorts[] {
  // A side without ports (most sides) has one alternative that asks nothing of the port.
  if (side.ports.length === 0 && side.notPorts.length === 0)
    return [{ ports: [], notPorts: [], inAddresses: [], notInAddresses: [] }];
  const numeric = rangesOf(side.ports);
  const positives: { ports: PortRange[]; inAddresses: NamedAddresses[] }[] = [];
  if (side.ports.length === 0) positives.push({ ports: [], inAddresses: [] });
  else {
    if (numeric.length) positives.push({ ports: numeric, inAddresses: [] });
    for (const [port, a] of namedByPort(side.ports, side, protocol, named)) {
      positives.push({ ports: [{ from: port, to: port }], inAddresses: [a] });
    }
  }
  const numericNot = rangesOf(side.notPorts);
  const negated = namedByPort(side.notPorts, side, protocol, named);
  const negatives: { ports: PortRange[]; notPorts: PortRange[]; notInAddresses: NamedAddresses[] }[] = [
    // Another port than any negated one: the address does not matter.
    {
      ports: [],
      notPorts: mergeRanges([...numericNot, ...[...negated.keys()].map((p) => ({ from: p, to: p }))]),
      notInAddresses: [],
    },
  ];
  for (const [port, a] of negated) {
    // That port, from an address that does not define it.
    if (!numericNot.some((r) => r.from <= port && port <= r.to))
      negatives.push({ ports: [{ from: port, to: port }], notPorts: [], notInAddresses: [a] });
  }
  const needsPorts = side.ports.length > 0 || side.notPorts.length > 0;
  const out: SidePorts[] = [];
  for (const pos of positives) {
    for (const neg of negatives) {
      let ports = intersectRanges(pos.ports, neg.ports);
      if (ports === null) continue;
      // The rule needs a packet with ports even when none of its notPorts apply to this protocol.
      if (needsPorts && ports.length === 0 && neg.notPorts.length === 0) ports = [ANY_PORT];
      out.push({ ports, notPorts: neg.notPorts, inAddresses: pos.inAddresses, notInAddresses: neg.notInAddresses });
    }
  }
  return out;
}

/**
 * The pieces of a rule (see the top of this file), in a fixed order: by protocol, then source and destination
 * alternatives. Pieces that can never match are left out, so a rule may have none (its counter stays, at zero).
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
    const notProtocol = split ? null : rule.notProtocol;
    for (const source of sideAlternatives(rule.source, protocol, named)) {
      for (const destination of sideAlternatives(rule.destination, protocol, named)) {
        pieces.push({ protocol, notProtocol, source, destination });
      }
    }
  }
  return pieces;
}

// The reference evaluator: the verdict the dataplane must give a packet on an interface, computed in plain code.
//
// Ingress takes the same steps as the entry program and the policy program: failsafes first (only for packets with
// ports), then the interface's entries for the packet's family in order (Log records and goes on; Allow, Deny and
// Pass decide), and no match passes to tracked processing. Egress takes raw OUTPUT's steps: nothing when no egress
// rule of the family exists; else failsafe traffic returns tracked (replies from inbound failsafe ports, connections
// to outbound ones), then the interface's (or `*`'s) rules in order, read back from the iptables tokens
// (egress-entries.ts), with the same meaning of Allow, Deny, Pass and Log. Matchers for sets are built once per state.
import { NotrackError } from '../errors.js';
import type { Direction } from '../model/resources.js';
import type {
  DesiredState,
  Failsafe,
  IngressEntry,
  InterfaceState,
  PacketDescription,
  PortRange,
  RuleRef,
  SideMatch,
  Verdict,
} from './desired-state.js';
import { egressView } from './egress-entries.js';
import { PORT_PROTOCOLS } from './named-ports.js';
import { parseAddressValue, prefixMatcher, type AddressValue, type PrefixMatcher } from './prefix-match.js';

/** The packet description cannot be evaluated (an address of the wrong family, a port out of range). */
export class PacketError extends NotrackError {
  constructor(message: string) {
    super('invalid-packet', message);
  }
}

/**
 * IPv6 extension headers the entry program walks past (hop-by-hop, routing, fragment, AH, destination options): never
 * the protocol of a packet it parses whole.
 */
export const IPV6_EXTENSION_HEADERS: readonly number[] = [0, 43, 44, 51, 60];

/** TCP, UDP, UDPLite or SCTP, and not a later fragment: the packet's header carries ports. */
function packetHasPorts(p: PacketDescription): boolean {
  return !p.laterFragment && PORT_PROTOCOLS.includes(p.protocol);
}

/** ICMP in IPv4 or ICMPv6 in IPv6, and not a later fragment: the packet's header carries type and code. */
function packetHasIcmp(p: PacketDescription): boolean {
  return !p.laterFragment && ((p.family === 4 && p.protocol === 1) || (p.family === 6 && p.protocol === 58));
}

/** The state an interface runs: its own endpoint's, else the host's `*` endpoint's; null when neither exists. */
export function interfaceState(state: DesiredState, iface: string): InterfaceState | null {
  return state.interfaces.find((i) => i.name === iface) ?? state.interfaces.find((i) => i.name === '*') ?? null;
}

interface Compiled {
  sets: Map<string, PrefixMatcher>;
  nets: Map<string, PrefixMatcher>;
}

const compiledStates = new WeakMap<DesiredState, Compiled>();

function compiled(state: DesiredState): Compiled {
  let c = compiledStates.get(state);
  if (!c) {
    c = { sets: new Map(), nets: new Map() };
    compiledStates.set(state, c);
  }
  return c;
}

function setMatcher(state: DesiredState, id: string): PrefixMatcher {
  const c = compiled(state);
  let m = c.sets.get(id);
  if (!m) {
    const set = state.sets[id];
    if (!set) throw new NotrackError('invalid-state', `the state refers to prefix set ${id}, which it does not hold`);
    m = prefixMatcher(set.family, set.prefixes);
    c.sets.set(id, m);
  }
  return m;
}

interface Addresses {
  src: AddressValue;
  dst: AddressValue;
}

function addresses(p: PacketDescription): Addresses {
  const src = parseAddressValue(p.src);
  const dst = parseAddressValue(p.dst);
  if (!src || !dst) throw new PacketError(`"${src ? p.dst : p.src}" is not an IP address`);
  if (src.family !== p.family || dst.family !== p.family) {
    throw new PacketError(`an IPv${p.family} packet needs IPv${p.family} addresses, not ${p.src} > ${p.dst}`);
  }
  if (p.family === 6 && !p.laterFragment && IPV6_EXTENSION_HEADERS.includes(p.protocol)) {
    throw new PacketError(
      `IPv6 next header ${p.protocol} is an extension header, which the dataplane walks past: a packet's protocol is the header after it`,
    );
  }
  for (const port of [p.sport, p.dport]) {
    if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port <= 65535))
      throw new PacketError(`port ${port} is out of range 0-65535`);
  }
  return { src, dst };
}

/** The failsafe the dataplane passes this packet by (tracked, before any policy), if any. */
export function matchingFailsafe(
  state: DesiredState,
  packet: PacketDescription,
  direction: Direction = 'ingress',
): Failsafe | null {
  if (!packetHasPorts(packet)) return null;
  const a = addresses(packet);
  return findFailsafe(state, packet, direction === 'ingress' ? a.src : a.dst, direction);
}

/**
 * The failsafe matching a packet with ports, `peer` being the far end's address. Ingress: a peer opens an inbound
 * failsafe service here (its destination port), or answers this host's connection to an outbound one (its source
 * port). Egress mirrors it: the reply of an inbound failsafe service leaves from its port, a connection to an
 * outbound one goes to it.
 */
function findFailsafe(
  state: DesiredState,
  p: PacketDescription,
  peer: AddressValue,
  direction: Direction,
): Failsafe | null {
  const c = compiled(state);
  for (const f of state.failsafes) {
    if (f.protocol !== p.protocol) continue;
    // Ingress: a peer opens an inbound failsafe service here, or answers this host's own connection to an outbound
    // one, which the entry program confirms with conntrack: a source port alone never passes.
    if (direction === 'ingress' && f.direction === 'outbound' && p.reply !== true) continue;
    const port = (f.direction === 'inbound') === (direction === 'ingress') ? p.dport : p.sport;
    if (port !== f.port) continue;
    if (f.net !== null) {
      let m = c.nets.get(f.net);
      if (!m) {
        const family = f.net.includes(':') ? 6 : 4;
        m = prefixMatcher(family, [f.net]);
        c.nets.set(f.net, m);
      }
      if (!m.has(peer)) continue;
    }
    return f;
  }
  return null;
}

function inRanges(port: number, ranges: readonly PortRange[]): boolean {
  for (const r of ranges) if (port >= r.from && port <= r.to) return true;
  return false;
}

function sideMatches(
  state: DesiredState,
  side: SideMatch,
  address: AddressValue,
  port: number | undefined,
  hasPorts: boolean,
): boolean {
  for (const id of side.inSets) if (!setMatcher(state, id).has(address)) return false;
  for (const id of side.notInSets) if (setMatcher(state, id).has(address)) return false;
  if (side.ports.length || side.notPorts.length) {
    if (!hasPorts) return false;
    const p = port ?? 0;
    if (side.ports.length && !inRanges(p, side.ports)) return false;
    if (inRanges(p, side.notPorts)) return false;
  }
  return true;
}

function icmpMatches(m: { type?: number; code?: number }, p: PacketDescription): boolean {
  return (
    (m.type === undefined || m.type === (p.icmpType ?? 0)) && (m.code === undefined || m.code === (p.icmpCode ?? 0))
  );
}

/** Whether one classifier entry matches the packet. */
function entryMatches(
  state: DesiredState,
  e: IngressEntry,
  p: PacketDescription,
  a: Addresses = addresses(p),
): boolean {
  if (e.protocol !== null && p.protocol !== e.protocol) return false;
  if (e.notProtocol !== null && p.protocol === e.notProtocol) return false;
  if (e.icmp || e.notICMP) {
    // Like the ports, the ICMP fields (negated or not) need the header: later fragments match neither.
    if (!packetHasIcmp(p)) return false;
    if (e.icmp && !icmpMatches(e.icmp, p)) return false;
    if (e.notICMP && icmpMatches(e.notICMP, p)) return false;
  }
  const hasPorts = packetHasPorts(p);
  return (
    sideMatches(state, e.source, a.src, p.sport, hasPorts) &&
    sideMatches(state, e.destination, a.dst, p.dport, hasPorts)
  );
}

const NO_POLICY: Verdict = { outcome: 'pass', reason: 'no-policy', counter: null, rule: null, logged: [] };

/**
 * The verdict of the dataplane for `packet` arriving on (ingress: the XDP pipeline) or leaving by (egress: raw
 * OUTPUT) interface `iface` of the state's host. Counters index the interface's ingress counters, or for egress
 * the `counters` of its egressView.
 */
export function evaluatePacket(
  state: DesiredState,
  iface: string,
  packet: PacketDescription,
  direction: Direction = 'ingress',
): Verdict {
  const a = addresses(packet);
  let entries: readonly IngressEntry[];
  let counters: readonly RuleRef[];
  if (direction === 'ingress') {
    const ifc = interfaceState(state, iface);
    // Nothing attached: the packet never meets notrack.
    if (!ifc) return { ...NO_POLICY, logged: [] };
    entries = packet.family === 4 ? ifc.ingress.v4 : ifc.ingress.v6;
    counters = ifc.counters;
  } else {
    const view = egressView(state, iface, packet.family);
    // No egress chain for the family: notrack's raw OUTPUT rules do not look at the packet.
    if (!view.active) return { ...NO_POLICY, logged: [] };
    entries = view.entries;
    counters = view.counters;
  }
  if (packetHasPorts(packet) && findFailsafe(state, packet, direction === 'ingress' ? a.src : a.dst, direction)) {
    return { outcome: 'pass', reason: 'failsafe', counter: null, rule: null, logged: [] };
  }
  if (direction === 'egress' && egressView(state, iface, packet.family).chain === null)
    return { ...NO_POLICY, logged: [] };
  const logged: number[] = [];
  for (const e of entries) {
    if (!entryMatches(state, e, packet, a)) continue;
    if (e.action === 'Log') {
      logged.push(e.counter);
      continue;
    }
    const outcome = e.action === 'Allow' ? 'allow' : e.action === 'Deny' ? 'deny' : 'pass';
    return { outcome, reason: 'rule', counter: e.counter, rule: { ...counters[e.counter]! }, logged };
  }
  return { outcome: 'pass', reason: 'no-match', counter: null, rule: null, logged };
}

// Egress rules lowered to iptables match tokens for the raw OUTPUT chains, written as iptables-save prints them.
//
// iptables takes one address per -s/-d, so a set of exactly one prefix becomes a plain -s/-d (one per side; a
// second single-prefix set on the same side goes to an ipset) and every other set, empty ones included (an empty
// ipset never matches, like an empty classifier set), becomes a hash:net ipset `notrack-<set id>`. Ports use the
// protocol's own match for one range per side, multiport for more (15 slots per match, a range taking two): more
// positive ports than one match holds become several iptables rules with the same rule reference; more negative
// ports become several negated matches in one rule. A side that needs ports but allows any port keeps the bare
// protocol match, which like the port matches only sees packets whose header carries ports (no later fragments).
import type { IpFamily } from '../net/cidr.js';
import type { EgressRule, IpsetState, PortRange } from './desired-state.js';
import type { LoweredRule, SideSets } from './entries.js';
import type { RulePiece, SidePorts } from './named-ports.js';
import type { SetTable } from './sets.js';
import { memberCount } from './prefix-set.js';

/** Protocol names as iptables-save prints them (ip6tables calls ICMPv6 ipv6-icmp). */
const PROTOCOL_NAMES: Record<number, string> = {
  1: 'icmp',
  6: 'tcp',
  17: 'udp',
  58: 'ipv6-icmp',
  132: 'sctp',
  136: 'udplite',
};
/** Protocols with their own match module taking --sport/--dport. */
const PORT_MODULES: Record<number, string> = { 6: 'tcp', 17: 'udp', 132: 'sctp' };
/** Protocols multiport accepts. */
const MULTIPORT = new Set([6, 17, 132, 136]);
const MULTIPORT_SLOTS = 15;

const IPSET_PREFIX = 'notrack-';

/** The ipset that holds prefix set `id`: 8 + 16 characters, room for the `-tmp` suffix within ipset's 31. */
function ipsetNameOf(setId: string): string {
  return `${IPSET_PREFIX}${setId}`;
}

const protocolName = (p: number): string => PROTOCOL_NAMES[p] ?? String(p);
const portText = (r: PortRange): string => (r.from === r.to ? String(r.from) : `${r.from}:${r.to}`);
const isAnyPort = (list: readonly PortRange[]): boolean =>
  list.length === 1 && list[0]!.from === 0 && list[0]!.to === 65535;

/** Splits ranges into multiport-sized lists. */
function chunks(ranges: readonly PortRange[]): PortRange[][] {
  const out: PortRange[][] = [];
  let cur: PortRange[] = [];
  let used = 0;
  for (const r of ranges) {
    const cost = r.from === r.to ? 1 : 2;
    if (used + cost > MULTIPORT_SLOTS) {
      out.push(cur);
      cur = [];
      used = 0;
    }
    cur.push(r);
    used += cost;
  }
  if (cur.length) out.push(cur);
  return out;
}

interface Collected {
  ipsets: Map<string, IpsetState>;
}

function addressTokens(
  sides: { source: SideSets; destination: SideSets },
  family: IpFamily,
  table: SetTable,
  out: Collected,
): { basic: string[]; matches: string[] } {
  const basic: string[] = [];
  const matches: string[] = [];
  for (const [side, flag, dir] of [
    ['source', '-s', 'src'],
    ['destination', '-d', 'dst'],
  ] as const) {
    let plainUsed = false;
    const one = (id: string, negate: boolean): void => {
      const set = table.get(id);
      const not = negate ? ['!'] : [];
      if (memberCount(set) === 1 && !plainUsed) {
        plainUsed = true;
        basic.push(...not, flag, set.prefixes[0]!);
        return;
      }
      const name = ipsetNameOf(id);
      out.ipsets.set(name, { name, family, set: id });
      matches.push('-m', 'set', ...not, '--match-set', name, dir);
    };
    for (const id of sides[side].inSets) one(id, false);
    for (const id of sides[side].notInSets) one(id, true);
  }
  return { basic, matches };
}

/** Port tokens of one piece: the alternatives (one per combination of positive chunks), or null if unmatchable. */
function portAlternatives(piece: RulePiece): string[][] | null {
  const sides: [SidePorts, 'sport' | 'dport'][] = [
    [piece.source, 'sport'],
    [piece.destination, 'dport'],
  ];
  if (sides.every(([s]) => s.ports.length === 0 && s.notPorts.length === 0)) return [[]];
  const proto = piece.protocol;
  if (proto === null || !MULTIPORT.has(proto)) return null; // such a packet never carries ports
  const module = PORT_MODULES[proto];
  // Options for the protocol's own match (one range each), then multiport matches.
  const own: string[] = [];
  const negMulti: string[][] = [];
  let bareModule = false;
  let alternatives: string[][] = [[]];
  for (const [s, opt] of sides) {
    if (s.ports.length === 0 && s.notPorts.length === 0) continue;
    // "Any port" only asks for a header with ports, which every port match (negated ones too) already needs.
    const positive = isAnyPort(s.ports) ? [] : s.ports;
    if (positive.length === 0 && s.notPorts.length === 0) {
      if (module) bareModule = true;
      else own.push(`--${opt}`, '0:65535'); // udplite: multiport below stands in
      continue;
    }
    // The protocol's match takes one --sport and one --dport: a side's second option goes to multiport.
    let ownUsed = false;
    if (positive.length === 1 && module) {
      own.push(`--${opt}`, portText(positive[0]!));
      ownUsed = true;
    } else if (positive.length > 0) {
      const options = chunks(positive).map((c) => ['-m', 'multiport', `--${opt}s`, c.map(portText).join(',')]);
      alternatives = alternatives.flatMap((a) => options.map((o) => [...a, ...o]));
    }
    if (s.notPorts.length === 1 && module && !ownUsed) own.push('!', `--${opt}`, portText(s.notPorts[0]!));
    else if (s.notPorts.length > 0) {
      for (const c of chunks(s.notPorts))
        negMulti.push(['-m', 'multiport', '!', `--${opt}s`, c.map(portText).join(',')]);
    }
  }
  let head: string[] = [];
  if (module && (own.length || bareModule)) head = ['-m', module, ...own];
  else if (!module && own.length) {
    // udplite has no match of its own: "any port" on a side is a full multiport range.
    for (let i = 0; i < own.length; i += 2) head.push('-m', 'multiport', `${own[i]!}s`, own[i + 1]!);
  }
  return alternatives.map((a) => [...head, ...a, ...negMulti.flat()]);
}

function icmpTokens(lowered: LoweredRule, family: IpFamily): string[] {
  const out: string[] = [];
  const [module, opt] = family === 4 ? ['icmp', '--icmp-type'] : ['icmp6', '--icmpv6-type'];
  const text = (m: { type?: number; code?: number }): string =>
    m.code === undefined ? String(m.type) : `${m.type}/${m.code}`;
  const { icmp, notICMP } = lowered.rule;
  if (icmp?.type !== undefined) out.push('-m', module, opt, text(icmp));
  if (notICMP?.type !== undefined) out.push('-m', module, '!', opt, text(notICMP));
  return out;
}

/** The iptables rules of a lowered egress rule for one family; the ipsets they use are added to `ipsets`. */
export function egressRules(
  lowered: LoweredRule,
  family: IpFamily,
  table: SetTable,
  ipsets: Map<string, IpsetState>,
): EgressRule[] {
  const out: EgressRule[] = [];
  for (const piece of lowered.pieces) {
    const sides = piece.sets[family];
    if (!sides) continue;
    const ports = portAlternatives(piece);
    if (!ports) continue;
    const addresses = addressTokens(sides, family, table, { ipsets });
    const protocol =
      piece.protocol !== null
        ? ['-p', protocolName(piece.protocol)]
        : piece.notProtocol !== null
          ? ['!', '-p', protocolName(piece.notProtocol)]
          : [];
    const icmp = icmpTokens(lowered, family);
    for (const p of ports) {
      out.push({
        rule: { ...lowered.ref },
        action: lowered.rule.action,
        family,
        match: [...addresses.basic, ...protocol, ...p, ...icmp, ...addresses.matches],
      });
    }
  }
  return out;
}

// The traffic part of a plan: every host's traffic changes, grouped across hosts that change alike, with the deciding
// rules located in each revision's files, the region in words, its size and an example packet.
import type { Cidr, IpFamily, NetList } from '../net/cidr.js';
import { PrefixCollector } from '../compile/packed-prefixes.js';
import type { DesiredState } from '../compile/desired-state.js';
import type { RuleLocator } from '../compile/explain.js';
import { formatPacket } from '../compile/packet-text.js';
import type { Direction, ResourceSet } from '../model/resources.js';
import type { Decider } from '../traffic/decisions.js';
import { describeBox, matchBox, regionSize, type AddressNamer, type MatchBox } from '../traffic/describe.js';
import { TrafficDiffer, type TrafficChange } from '../traffic/diff.js';
import { indexCidrs, indexPacked, type PrefixIndex } from '../traffic/prefix-index.js';
import { exampleBox, examplePacket, ownAddressHints } from '../traffic/regions.js';
import { boxKey } from '../traffic/space.js';
import { naturalCompare } from './natural-sort.js';
import { failsafeText } from './plan.js';

/** A rule where one revision writes it. */
export interface LocatedRuleRef {
  policy: string;
  direction: Direction;
  index: number;
  file: string;
  line: number;
}

/** What decides a region in one revision. */
export interface TrafficSide {
  outcome: Decider['outcome'];
  reason: Decider['reason'];
  rule: LocatedRuleRef | null;
  /** The failsafe, when one decides: `inbound tcp 22 10.0.255.0/24`. */
  failsafe?: string;
}

export interface TrafficChangeEntry {
  /** The hosts where exactly this region changes exactly so, in natural order. */
  hosts: string[];
  interface: string;
  direction: Direction;
  family: IpFamily;
  before: TrafficSide;
  after: TrafficSide;
  /** One packet of the region, in explain's notation. */
  example: string;
  /** The region in words, one line per box. */
  region: string[];
  /** Exact counts, as decimal text (IPv6 counts exceed JSON's numbers). */
  size: { sources: string; destinations: string; portPairs: string };
  match: MatchBox[];
}

export interface TrafficSummary {
  /** Change entries (a region changing alike on several hosts counts once). */
  regions: number;
  allowed: number;
  denied: number;
  tracked: number;
  /** Same outcome, another deciding rule or failsafe. */
  ruleChanged: number;
}

export interface RevisionContext {
  states: ReadonlyMap<string, DesiredState>;
  resources: ResourceSet | null;
  locator: RuleLocator | null;
}

function side(d: Decider, locator: RuleLocator | null): TrafficSide {
  let rule: LocatedRuleRef | null = null;
  if (d.rule) {
    const at = locator?.locate(d.rule);
    rule = { ...d.rule, file: at?.file ?? '', line: at?.line ?? 0 };
  }
  const out: TrafficSide = { outcome: d.outcome, reason: d.reason, rule };
  if (d.failsafe) out.failsafe = failsafeText(d.failsafe);
  return out;
}

function listFamilies(list: NetList): Set<IpFamily> {
  const out = new Set<IpFamily>();
  for (let i = 0; i < list.length && out.size < 2; i++) out.add(list.family(i));
  return out;
}

/** A scanned list's addresses of one family, indexed from its packed form (the same addresses as its nets). */
function indexNetList(list: NetList, family: IpFamily): PrefixIndex {
  const c = new PrefixCollector();
  c.addList(list);
  return indexPacked(c.pack(family));
}

/**
 * Names addresses after what the two revisions call them: GlobalNetworkSets (`set ddos-deny-list`) and host
 * endpoints' expected addresses (`endpoint db-1-eth0`); an exact match first, else the smallest that holds them.
 */
export function addressNamer(resources: (ResourceSet | null)[]): AddressNamer {
  const named: { label: string; family: IpFamily; index: () => PrefixIndex }[] = [];
  const seen = new Set<string>();
  for (const r of resources) {
    if (!r) continue;
    const add = (label: string, families: ReadonlySet<IpFamily>, index: (family: IpFamily) => PrefixIndex) => {
      for (const family of [4, 6] as const) {
        if (seen.has(`${label}/${family}`) || !families.has(family)) continue;
        seen.add(`${label}/${family}`);
        named.push({ label, family, index: () => index(family) });
      }
    };
    const ofCidrs = (nets: readonly Cidr[]) => (family: IpFamily) => indexCidrs(family, nets);
    for (const s of r.networkSets) {
      // A scanned list is read packed: a million Cidr objects are never made to name addresses.
      const list = s.packedNets;
      if (list) add(`set ${s.name}`, listFamilies(list), (family) => indexNetList(list, family));
      else add(`set ${s.name}`, new Set(s.nets.map((n) => n.family)), ofCidrs(s.nets));
    }
    for (const h of r.hostEndpoints)
      add(`endpoint ${h.name}`, new Set(h.expectedIPs.map((n) => n.family)), ofCidrs(h.expectedIPs));
  }
  // Indexed on first use (a plan without traffic changes never names anything), smallest first: the first that holds
  // the addresses is the best name for them.
  const byFamily = new Map<IpFamily, { label: string; index: PrefixIndex; size: bigint }[]>();
  const indexed = (family: IpFamily) => {
    let list = byFamily.get(family);
    if (!list) {
      list = named
        .filter((n) => n.family === family)
        .map((n) => {
          const index = n.index();
          return { label: n.label, index, size: index.size() };
        })
        .sort((a, b) => (a.size < b.size ? -1 : a.size > b.size ? 1 : 0));
      byFamily.set(family, list);
    }
    return list;
  };
  return (family, addresses) => {
    if (addresses.isEmpty) return null;
    const size = addresses.size();
    for (const n of indexed(family)) {
      if (n.size < size || !n.index.containsAll(addresses)) continue;
      return n.size === size ? n.label : `in ${n.label}`;
    }
    return null;
  };
}

/** Every host's traffic changes between the two revisions, grouped where hosts change alike. */
export function planTraffic(
  base: RevisionContext,
  head: RevisionContext,
  differ: TrafficDiffer = new TrafficDiffer(),
): { entries: TrafficChangeEntry[]; byHost: Map<string, number[]>; summary: TrafficSummary } {
  const hosts = [...new Set([...base.states.keys(), ...head.states.keys()])].sort(naturalCompare);
  const namer = addressNamer([head.resources, base.resources]);
  const groups = new Map<string, { change: TrafficChange; hosts: string[] }>();
  const keysByHost = new Map<string, string[]>();
  for (const host of hosts) {
    const changes = differ.host(base.states.get(host) ?? null, head.states.get(host) ?? null);
    const keys: string[] = [];
    for (const c of changes) {
      const key = [c.interface, c.direction, c.family, c.before.key, c.after.key, ...c.boxes.map(boxKey)].join('\n');
      const g = groups.get(key);
      if (g) g.hosts.push(host);
      else groups.set(key, { change: c, hosts: [host] });
      keys.push(key);
    }
    keysByHost.set(host, keys);
  }
  const entries: TrafficChangeEntry[] = [];
  const index = new Map<string, number>();
  for (const [key, { change: c, hosts: hs }] of groups) {
    const size = regionSize(c.boxes);
    index.set(key, entries.length);
    entries.push({
      hosts: hs,
      interface: c.interface,
      direction: c.direction,
      family: c.family,
      before: side(c.before, base.locator),
      after: side(c.after, head.locator),
      example: formatPacket(
        examplePacket(
          c.family,
          exampleBox(c.boxes),
          ownAddressHints([head.resources, base.resources], hs[0]!, c.interface, c.family, c.direction),
        ),
      ),
      region: c.boxes.map((b) => describeBox(c.family, b, namer)),
      size: {
        sources: size.sources.toString(),
        destinations: size.destinations.toString(),
        portPairs: size.portPairs.toString(),
      },
      match: c.boxes.map((b) => matchBox(c.family, b)),
    });
  }
  const byHost = new Map<string, number[]>();
  for (const [host, keys] of keysByHost)
    byHost.set(
      host,
      keys.map((k) => index.get(k)!),
    );
  return { entries, byHost, summary: summarizeTraffic(entries) };
}

export function summarizeTraffic(entries: readonly TrafficChangeEntry[]): TrafficSummary {
  const s: TrafficSummary = { regions: entries.length, allowed: 0, denied: 0, tracked: 0, ruleChanged: 0 };
  for (const e of entries) {
    if (e.before.outcome === e.after.outcome) s.ruleChanged++;
    else if (e.after.outcome === 'allow') s.allowed++;
    else if (e.after.outcome === 'deny') s.denied++;
    else s.tracked++;
  }
  return s;
}

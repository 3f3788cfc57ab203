// The traffic part of a plan: every host's traffic changes, grouped across hosts that change alike, with the deciding
// rules located in each revision's files, the region in words, its size and an example packet.
import type { Cidr, IpFamily, NetList } from '../net/cidr.js';
import { PrefixCollector } from '../compile/packed-prefixes.js';
import type { DesiredState } from '../compile/desired-state.js';
import { formatPacket } from '../compile/packet-text.js';
import type { Direction, ResourceSet } from '../model/resources.js';
import type { Decider } from '../traffic/decisions.js';
import { describeBox, matchBox, regionSize, type AddressNamer, type MatchBox } from '../traffic/describe.js';
import { TrafficDiffer, type TrafficChange } from '../traffic/diff.js';
import { indexCidrs, indexPacked, type PrefixIndex } from '../traffic/prefix-index.js';
import { exampleBox, examplePacket, ownAddressHints } from '../traffic/regions.js';
import { boxKey } from '../traffic/space.js';
import { IntervalSet } from '../traffic/interval-set.js';
import { naturalCompare } from './natural-sort.js';
import { failsafeText } from './plan.js';
import type { RuleLineLocator } from './rule-lines.js';

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
  locator: RuleLineLocator | null;
}

function side(d: Decider, locator: RuleLineLocator | null): TrafficSide {
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

/** The first and last address of a net, as bigints. */
function netRange(c: Cidr): [bigint, bigint] {
  let start = 0n;
  for (const b of c.addr) start = (start << 8n) | BigInt(b);
  return [start, start + (1n << BigInt(c.addr.length * 8 - c.prefix)) - 1n];
}

/** A named list's nets of one family, read one by one (from the packed list, or the set's Cidrs). */
interface NamedNets {
  count: number;
  family(i: number): IpFamily;
  /** Net i's first address as a double: IPv4 only. */
  v4Start(i: number): number;
  /** Net i's prefix length. */
  prefix(i: number): number;
  at(i: number): Cidr;
}

function packedNets(list: NetList): NamedNets {
  return {
    count: list.length,
    family: (i) => list.family(i),
    v4Start: (i) => list.v4Word(i),
    prefix: (i) => list.prefix(i),
    at: (i) => list.at(i),
  };
}

function cidrNets(nets: readonly Cidr[]): NamedNets {
  return {
    count: nets.length,
    family: (i) => nets[i]!.family,
    v4Start: (i) => Number(netRange(nets[i]!)[0]),
    prefix: (i) => nets[i]!.prefix,
    at: (i) => nets[i]!,
  };
}

const v4Tables = new WeakMap<NamedNets, { starts: Float64Array; ends: Float64Array; at: Uint32Array }>();

/** A list's IPv4 nets as ranges in typed arrays, in list order, made once: each name asked scans them. */
function v4Table(nets: NamedNets): { starts: Float64Array; ends: Float64Array; at: Uint32Array } {
  let t = v4Tables.get(nets);
  if (!t) {
    const at: number[] = [];
    for (let i = 0; i < nets.count; i++) if (nets.family(i) === 4) at.push(i);
    const starts = Float64Array.from(at, (i) => nets.v4Start(i));
    const ends = Float64Array.from(at, (i, k) => starts[k]! + 2 ** (32 - nets.prefix(i)) - 1);
    t = { starts, ends, at: Uint32Array.from(at) };
    v4Tables.set(nets, t);
  }
  return t;
}

/**
 * Whether the nets of `family` hold every address of `addresses`. Only the nets that meet them are indexed (a linear
 * scan, no sort): the nets that do not meet the addresses add nothing to what covers them, so this is exact.
 */
function holdsAll(nets: NamedNets, family: IpFamily, addresses: IntervalSet): boolean {
  const ranges = addresses.ranges();
  const meeting: Cidr[] = [];
  if (family === 4) {
    const bounds = new Float64Array(ranges.length * 2);
    ranges.forEach(([lo, hi], r) => {
      bounds[2 * r] = Number(lo);
      bounds[2 * r + 1] = Number(hi);
    });
    const { starts, ends, at } = v4Table(nets);
    for (let i = 0; i < starts.length; i++) {
      const lo = starts[i]!,
        hi = ends[i]!;
      // The first range ending at or after lo: the net meets the addresses when that range starts by hi.
      let a = 0,
        b = ranges.length;
      while (a < b) {
        const mid = (a + b) >> 1;
        if (bounds[2 * mid + 1]! < lo) a = mid + 1;
        else b = mid;
      }
      if (a < ranges.length && bounds[2 * a]! <= hi) meeting.push(nets.at(at[i]!));
    }
  } else {
    for (let i = 0; i < nets.count; i++) {
      if (nets.family(i) !== 6) continue;
      const c = nets.at(i);
      const [lo, hi] = netRange(c);
      if (addresses.meets(IntervalSet.range(lo, hi))) meeting.push(c);
    }
  }
  return meeting.length > 0 && indexCidrs(family, meeting).containsAll(addresses);
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
  const named: { label: string; family: IpFamily; nets: NamedNets; index: () => PrefixIndex }[] = [];
  const seen = new Set<string>();
  for (const r of resources) {
    if (!r) continue;
    const add = (
      label: string,
      families: ReadonlySet<IpFamily>,
      nets: NamedNets,
      index: (family: IpFamily) => PrefixIndex,
    ) => {
      for (const family of [4, 6] as const) {
        if (seen.has(`${label}/${family}`) || !families.has(family)) continue;
        seen.add(`${label}/${family}`);
        named.push({ label, family, nets, index: () => index(family) });
      }
    };
    const ofCidrs = (nets: readonly Cidr[]) => (family: IpFamily) => indexCidrs(family, nets);
    for (const s of r.networkSets) {
      // A scanned list is read packed: a million Cidr objects are never made to name addresses.
      const list = s.packedNets;
      if (list) add(`set ${s.name}`, listFamilies(list), packedNets(list), (family) => indexNetList(list, family));
      else add(`set ${s.name}`, new Set(s.nets.map((n) => n.family)), cidrNets(s.nets), ofCidrs(s.nets));
    }
    for (const h of r.hostEndpoints)
      add(
        `endpoint ${h.name}`,
        new Set(h.expectedIPs.map((n) => n.family)),
        cidrNets(h.expectedIPs),
        ofCidrs(h.expectedIPs),
      );
  }
  // A list's size needs its whole index (members merged): made only for lists that hold the addresses, once.
  const sizes = new Map<(typeof named)[number], bigint>();
  const sizeOf = (n: (typeof named)[number]): bigint => {
    let size = sizes.get(n);
    if (size === undefined) {
      size = n.index().size();
      sizes.set(n, size);
    }
    return size;
  };
  const answers = new Map<string, string | null>();
  return (family, addresses) => {
    if (addresses.isEmpty) return null;
    // The boxes of a region mostly share their addresses: each set of them is looked up once.
    const key = addresses.rangeCount <= 64 ? `${family} ${addresses.key}` : null;
    if (key !== null && answers.has(key)) return answers.get(key)!;
    const name = nameOf(family, addresses);
    if (key !== null) answers.set(key, name);
    return name;
  };
  function nameOf(family: IpFamily, addresses: IntervalSet): string | null {
    // The smallest list that holds the addresses is the best name for them (the first named on a tie).
    let best: { label: string; size: bigint } | null = null;
    for (const n of named) {
      if (n.family !== family || !holdsAll(n.nets, family, addresses)) continue;
      const size = sizeOf(n);
      if (!best || size < best.size) best = { label: n.label, size };
    }
    if (!best) return null;
    return best.size === addresses.size() ? best.label : `in ${best.label}`;
  }
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

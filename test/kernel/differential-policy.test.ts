// Differential test of the generated policy program: random desired states and random packets aimed at rule
// boundaries; for every packet the full XDP pipeline's verdict (action + metadata flag) must equal the reference
// evaluator's, and after each policy's batch the per-rule and Log-overflow counters must equal the reference's.
//
// Replay a failure with the seed it prints:
//   NOTRACK_SEED=<seed> node --import tsx node_modules/uvu/bin.js test/kernel differential
// NOTRACK_CASES=<n> changes the number of packets per run (default 24,000).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { evaluatePacket } from '../../src/compile/evaluate.js';
import type {
  DesiredState,
  Failsafe,
  IngressEntry,
  PacketDescription,
  PortRange,
  PrefixSet,
  SideMatch,
  Verdict,
} from '../../src/compile/desired-state.js';
import { Limits } from '../../src/abi/notrack.js';
import { formatIp, type IpFamily } from '../../src/net/cidr.js';
import { buildClassifier, stepBudget } from '../../src/compile/program/index.js';
import { treeDepth } from '../../src/compile/program/ipv6-lengths.js';
import { expectedAction, frameFor, Pipeline } from '../support/pipeline.js';
import { mulberry32, type Rng } from '../support/seeded-random.js';
import { kernelGate } from '../support/kernel-gate.js';

const gate = kernelGate('differential-policy');
const kernelTest = gate.test;

const BASE_SEED =
  process.env.NOTRACK_SEED !== undefined ? Number(process.env.NOTRACK_SEED) : Date.now() % 1_000_000_007;
const TOTAL_CASES = Number(process.env.NOTRACK_CASES ?? 24_000);
const IFACE = 'eth0';

// ---------------------------------------------------------------------------------------------------------------
// Randomness

const int = (r: Rng, lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));
const pick = <T>(r: Rng, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
const chance = (r: Rng, p: number): boolean => r() < p;

// ---------------------------------------------------------------------------------------------------------------
// Prefixes as big integers (IPv4 in the low 32 bits)

interface Prefix {
  family: IpFamily;
  value: bigint;
  len: number;
}

const bits = (f: IpFamily): number => (f === 4 ? 32 : 128);

function toBytes(f: IpFamily, v: bigint): Uint8Array {
  const n = bits(f) / 8;
  const out = new Uint8Array(n);
  for (let i = n - 1; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

const addressText = (f: IpFamily, v: bigint): string => formatIp(f, toBytes(f, v));
const prefixText = (p: Prefix): string => `${addressText(p.family, p.value)}/${p.len}`;
const first = (p: Prefix): bigint => p.value;
const last = (p: Prefix): bigint => p.value + (1n << BigInt(bits(p.family) - p.len)) - 1n;

function randomBig(r: Rng, nbits: number): bigint {
  let v = 0n;
  for (let i = 0; i < nbits; i += 16) v = (v << 16n) | BigInt(int(r, 0, 0xffff));
  return v & ((1n << BigInt(nbits)) - 1n);
}

/** Address space the generator aims at, so that sets nest and overlap and packets land in them. */
const ANCHORS: Record<IpFamily, Prefix[]> = {
  4: [
    { family: 4, value: 0x0a000000n, len: 8 }, // 10.0.0.0/8
    { family: 4, value: 0xc0a80000n, len: 16 }, // 192.168.0.0/16
    { family: 4, value: 0xc6120000n, len: 15 }, // 198.18.0.0/15
  ],
  6: [
    { family: 6, value: 0x20010db8n << 96n, len: 32 }, // 2001:db8::/32
    { family: 6, value: 0xfd00n << 112n, len: 16 }, // fd00::/16
  ],
};

function subPrefix(r: Rng, outer: Prefix, len: number): Prefix {
  const total = bits(outer.family);
  const free = len - outer.len;
  const mid = free > 0 ? randomBig(r, free) << BigInt(total - len) : 0n;
  return { family: outer.family, value: outer.value | mid, len };
}

/** A random prefix of any length 0..32 or 0..128 under (or above) an anchor. */
function randomPrefix(r: Rng, f: IpFamily): Prefix {
  const anchor = pick(r, ANCHORS[f]);
  const max = bits(f);
  // IPv6 lengths past the anchor's +64 less often, so that most prefixes still hold packets aimed at others.
  const len = chance(r, 0.05)
    ? int(r, 0, anchor.len)
    : int(r, anchor.len, f === 4 || chance(r, 0.3) ? max : Math.min(max, anchor.len + 64));
  if (len <= anchor.len) return { family: f, value: anchor.value & ~((1n << BigInt(max - len)) - 1n), len };
  return subPrefix(r, anchor, len);
}

/**
 * Prefixes nested along one random address at `n` random lengths (IPv6: the address table's search tree then has
 * many lengths, and markers at most of them), some of them split in two by their last bit.
 */
function nestedChain(r: Rng, f: IpFamily, n: number): Prefix[] {
  const leaf = subPrefix(r, pick(r, ANCHORS[f]), bits(f));
  const out: Prefix[] = [];
  for (let k = 0; k < n; k++) {
    const len = int(r, 0, bits(f));
    const value = leaf.value & ~((1n << BigInt(bits(f) - len)) - 1n);
    out.push({ family: f, value, len });
    if (len > 0 && chance(r, 0.3)) out.push({ family: f, value: value ^ (1n << BigInt(bits(f) - len)), len });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Random desired states

const PORTS = [0, 1, 22, 53, 79, 80, 81, 443, 1023, 1024, 8080, 32768, 65534, 65535];

function randomRange(r: Rng): PortRange {
  if (chance(r, 0.5)) {
    const p = pick(r, PORTS);
    return { from: p, to: p };
  }
  const a = chance(r, 0.5) ? pick(r, PORTS) : int(r, 0, 65535);
  const b = chance(r, 0.3) ? a : Math.min(65535, a + int(r, 0, chance(r, 0.5) ? 100 : 30000));
  return { from: Math.min(a, b), to: Math.max(a, b) };
}

const ranges = (r: Rng, max: number): PortRange[] => Array.from({ length: int(r, 1, max) }, () => randomRange(r));

function randomSide(r: Rng, setIds: string[], protocolHasPorts: boolean): SideMatch {
  const some = (p: number): string[] =>
    setIds.length && chance(r, p) ? Array.from({ length: int(r, 1, 2) }, () => pick(r, setIds)) : [];
  return {
    inSets: some(0.35),
    notInSets: some(0.15),
    ports: protocolHasPorts && chance(r, 0.35) ? ranges(r, 3) : [],
    notPorts: protocolHasPorts && chance(r, 0.12) ? ranges(r, 2) : [],
  };
}

function randomIcmp(r: Rng): { type?: number; code?: number } {
  const type = chance(r, 0.7) ? pick(r, [0, 3, 8, 11, 128, 129, 135]) : int(r, 0, 254);
  return chance(r, 0.4) ? { type, code: chance(r, 0.7) ? int(r, 0, 3) : int(r, 0, 255) } : { type };
}

/**
 * Which fields a "shaped" entry constrains (every one of them, no other): policies made of a few shapes put their
 * entries in separate groups of the program's layout, as real rule sets do.
 */
interface Shape {
  proto: boolean;
  sport: boolean;
  dport: boolean;
  saddr: boolean;
  daddr: boolean;
  icmp: boolean;
}

function randomShape(r: Rng): Shape {
  const icmp = chance(r, 0.15);
  const ports = !icmp && chance(r, 0.6);
  return {
    icmp,
    proto: icmp || ports || chance(r, 0.5),
    sport: ports && chance(r, 0.3),
    dport: ports && chance(r, 0.8),
    saddr: chance(r, 0.5),
    daddr: chance(r, 0.3),
  };
}

function randomEntry(r: Rng, f: IpFamily, counter: number, setIds: string[], shape?: Shape): IngressEntry {
  const action = pick(r, ['Allow', 'Allow', 'Deny', 'Deny', 'Pass', 'Log', 'Log'] as const);
  const icmpProto = f === 4 ? 1 : 58;
  if (shape) {
    const sides = (m: boolean, ports: boolean): SideMatch => {
      const side = randomSide(r, setIds, ports);
      if (m && side.inSets.length === 0 && side.notInSets.length === 0 && setIds.length)
        side.inSets = [pick(r, setIds)];
      if (!m) {
        side.inSets = [];
        side.notInSets = [];
      }
      if (ports && side.ports.length === 0 && side.notPorts.length === 0) side.ports = ranges(r, 2);
      if (!ports) {
        side.ports = [];
        side.notPorts = [];
      }
      return side;
    };
    const anyPorts = shape.sport || shape.dport;
    const protocol = shape.icmp
      ? icmpProto
      : shape.proto
        ? pick(r, anyPorts ? [6, 17, 132, 136] : [6, 17, icmpProto, 47])
        : null;
    return {
      counter,
      action,
      protocol,
      notProtocol: null,
      icmp: shape.icmp ? randomIcmp(r) : null,
      notICMP: shape.icmp && chance(r, 0.2) ? randomIcmp(r) : null,
      source: sides(shape.saddr, shape.sport),
      destination: sides(shape.daddr, shape.dport),
    };
  }
  const protocol = chance(r, 0.45) ? null : pick(r, [6, 6, 17, 17, icmpProto, 132, 136, 47, f === 4 ? 58 : 1]);
  const notProtocol = protocol === null && chance(r, 0.15) ? pick(r, [6, 17, icmpProto, 50]) : null;
  const hasPorts = protocol === null || [6, 17, 132, 136].includes(protocol);
  const icmpOk = protocol === icmpProto || protocol === null;
  return {
    counter,
    action,
    protocol,
    notProtocol,
    icmp: icmpOk && chance(r, protocol === icmpProto ? 0.5 : 0.05) ? randomIcmp(r) : null,
    notICMP: icmpOk && chance(r, protocol === icmpProto ? 0.2 : 0.03) ? randomIcmp(r) : null,
    source: randomSide(r, setIds, hasPorts),
    destination: randomSide(r, setIds, hasPorts),
  };
}

function randomSet(r: Rng, f: IpFamily, id: string, size: number): PrefixSet {
  const seen = new Set<string>();
  const prefixes: string[] = [];
  // A few sets are fragments of another (nested prefixes across sets) or wide; some hold a nested chain.
  const chain = chance(r, 0.3) ? nestedChain(r, f, int(r, 2, Math.min(size, f === 4 ? 12 : 40))) : [];
  for (let i = 0; i < size * 3 && prefixes.length < size; i++) {
    const t = prefixText(chain[i] ?? randomPrefix(r, f));
    if (!seen.has(t)) {
      seen.add(t);
      prefixes.push(t);
    }
  }
  return { id, family: f, prefixes: prefixes.sort(), origin: `random set ${id}` };
}

/**
 * A /16 no generator aims at (100.64.0.0/16): only prefixes wide enough to cover all of it reach it, so a set
 * crowding it keeps the /16 two-valued (in the set or not), the shape of a wide bitmap.
 */
const DENSE_ANCHOR: Prefix = { family: 4, value: 0x64400000n, len: 16 };

/**
 * A large set: `size` distinct /32 (IPv4) or /128 and /64 (IPv6) prefixes under `anchor` (the first of the family's
 * unless told), plus some wider ones.
 */
function largeSet(r: Rng, f: IpFamily, id: string, size: number, anchor = ANCHORS[f][0]!): PrefixSet {
  const seen = new Set<string>();
  const prefixes: string[] = [];
  while (prefixes.length < size) {
    const len = f === 4 ? 32 : chance(r, 0.5) ? 128 : 64;
    const t = prefixText(subPrefix(r, anchor, chance(r, 0.05) ? len - int(r, 1, 8) : len));
    if (!seen.has(t)) {
      seen.add(t);
      prefixes.push(t);
    }
  }
  return { id, family: f, prefixes, origin: `large set ${id}` };
}

interface Scenario {
  state: DesiredState;
  /** Prefixes of each family, to aim packets at. */
  prefixes: Record<IpFamily, Prefix[]>;
}

function parsePrefix(text: string, f: IpFamily): Prefix {
  const [a, l] = text.split('/');
  const bytes = f === 4 ? a!.split('.').map(Number) : null;
  let value = 0n;
  if (bytes) for (const b of bytes) value = (value << 8n) | BigInt(b);
  else value = BigInt(`0x${expand6(a!)}`);
  return { family: f, value, len: Number(l) };
}

function expand6(text: string): string {
  const [head, tail] = text.split('::');
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  return groups.map((g) => g.padStart(4, '0')).join('');
}

/**
 * Deny-list style entries that constrain exactly one field, each address entry over a set of its own (random
 * prefixes of every length, nested and overlapping within and across the sets): the classes such entries make are
 * decided by one lookup (TERMINAL values in the class maps), and IPv4 ones fill the DIR-16-8-8 table's groups.
 */
function singleFieldEntries(
  r: Rng,
  f: IpFamily,
  n: number,
  next: () => number,
  sets: Record<string, PrefixSet>,
): IngressEntry[] {
  const out: IngressEntry[] = [];
  for (let i = 0; i < n; i++) {
    const id = `one${f}-${Object.keys(sets).length}`;
    const field = pick(r, ['saddr', 'saddr', 'saddr', 'daddr', 'dport', 'proto'] as const);
    const side = (inSets: string[] = [], ports: PortRange[] = []): SideMatch => ({
      inSets,
      notInSets: [],
      ports,
      notPorts: [],
    });
    if (field === 'saddr' || field === 'daddr') sets[id] = randomSet(r, f, id, int(r, 1, 8));
    const notSet = field === 'saddr' && chance(r, 0.1);
    out.push({
      counter: next(),
      action: pick(r, ['Deny', 'Deny', 'Allow', 'Pass', 'Log'] as const),
      protocol: field === 'proto' ? pick(r, [6, 17, 47]) : null,
      notProtocol: null,
      icmp: null,
      notICMP: null,
      source: field === 'saddr' ? (notSet ? { ...side(), notInSets: [id] } : side([id])) : side(),
      destination: field === 'daddr' ? side([id]) : field === 'dport' ? side([], ranges(r, 2)) : side(),
    });
  }
  return out;
}

function randomScenario(
  seed: number,
  entries: { v4: number; v6: number },
  large: number,
  singleField = 0,
  dense = 0,
): Scenario {
  const r = mulberry32(seed);
  const sets: Record<string, PrefixSet> = {};
  const ids: Record<IpFamily, string[]> = { 4: [], 6: [] };
  for (const f of [4, 6] as const) {
    const count = int(r, 0, 8);
    for (let i = 0; i < count; i++) {
      const id = `s${f}-${i}`;
      sets[id] = randomSet(r, f, id, chance(r, 0.2) ? int(r, 20, 200) : int(r, 1, 6));
      ids[f].push(id);
    }
    if (large > 0) {
      const id = `big${f}`;
      sets[id] = largeSet(r, f, id, f === 4 ? large : Math.ceil(large / 10));
      ids[f].push(id);
    }
  }
  // Now and then an entry names a set of the other family: it can never match an address of this one.
  const crossIds = (f: IpFamily): string[] =>
    chance(r, 0.1) ? [...ids[f], ...ids[f === 4 ? 6 : 4].slice(0, 1)] : ids[f];
  let counter = 0;
  // Half the policies are made of a few shapes (most entries) plus some free-form ones.
  const shapes = chance(r, 0.5) ? Array.from({ length: int(r, 1, 4) }, () => randomShape(r)) : [];
  const list = (f: IpFamily, n: number): IngressEntry[] => {
    const out: IngressEntry[] = [];
    for (let i = 0; i < n; i++) {
      // Pieces of one rule share a counter (as named ports split a rule by protocol).
      const shared = out.length > 0 && chance(r, 0.05);
      const shape = shapes.length && chance(r, 0.9) ? pick(r, shapes) : undefined;
      const e = randomEntry(r, f, shared ? out[out.length - 1]!.counter : counter++, crossIds(f), shape);
      if (shared) e.action = out[out.length - 1]!.action;
      out.push(e);
    }
    return out;
  };
  const next = (): number => counter++;
  const v4 = [...singleFieldEntries(r, 4, singleField, next, sets), ...list(4, entries.v4)];
  if (dense > 0) {
    sets.dense4 = largeSet(r, 4, 'dense4', dense, DENSE_ANCHOR);
    const side = (inSets: string[]): SideMatch => ({ inSets, notInSets: [], ports: [], notPorts: [] });
    v4.unshift({
      counter: next(),
      action: 'Deny',
      protocol: null,
      notProtocol: null,
      icmp: null,
      notICMP: null,
      source: side(['dense4']),
      destination: side([]),
    });
  }
  const v6 = [...singleFieldEntries(r, 6, Math.ceil(singleField / 4), next, sets), ...list(6, entries.v6)];
  const failsafes: Failsafe[] = [];
  if (chance(r, 0.6)) failsafes.push({ direction: 'inbound', protocol: 6, port: 22, net: null });
  if (chance(r, 0.4))
    failsafes.push({ direction: 'outbound', protocol: 17, port: 53, net: chance(r, 0.5) ? '10.0.0.0/9' : null });
  if (chance(r, 0.3))
    failsafes.push({
      direction: 'inbound',
      protocol: 6,
      port: 443,
      net: chance(r, 0.5) ? '2001:db8::/33' : '192.168.0.0/17',
    });
  const state: DesiredState = {
    formatVersion: 1,
    host: 'diff',
    hash: '',
    config: {
      acceptMark: 0,
      passMark: 0,
      xdpMode: 'native' as DesiredState['config']['xdpMode'],
      logRate: 0,
      logBurst: 0,
    },
    failsafes,
    sets,
    interfaces: [
      {
        name: IFACE,
        endpoint: 'diff-hep',
        ingress: { v4, v6 },
        counters: Array.from({ length: counter }, (_, i) => ({
          policy: `p${i}`,
          direction: 'ingress' as const,
          index: 0,
        })),
      },
    ],
    egress: { interfaces: [], ipsets: [] },
  };
  const prefixes: Record<IpFamily, Prefix[]> = { 4: [], 6: [] };
  for (const s of Object.values(sets)) {
    // Big sets are sampled, not walked.
    const list2 = s.prefixes.length > 500 ? Array.from({ length: 200 }, () => pick(r, s.prefixes)) : s.prefixes;
    for (const t of list2) prefixes[s.family].push(parsePrefix(t, s.family));
  }
  return { state, prefixes };
}

// ---------------------------------------------------------------------------------------------------------------
// Packets aimed at boundaries

function aimAddress(r: Rng, f: IpFamily, prefixes: Prefix[]): string {
  const max = (1n << BigInt(bits(f))) - 1n;
  if (prefixes.length === 0 || chance(r, 0.15)) {
    return addressText(f, chance(r, 0.5) ? randomBig(r, bits(f)) : subPrefix(r, pick(r, ANCHORS[f]), bits(f)).value);
  }
  const p = pick(r, prefixes);
  const edge = int(r, 0, 5);
  let v =
    edge === 0
      ? first(p)
      : edge === 1
        ? last(p)
        : edge === 2
          ? first(p) - 1n
          : edge === 3
            ? last(p) + 1n
            : first(p) + randomBig(r, bits(f) - p.len);
  if (v < 0n) v = 0n;
  if (v > max) v = max;
  return addressText(f, v);
}

function aimPort(r: Rng, e: IngressEntry | undefined, side: 'source' | 'destination'): number {
  const ranges2 = e ? [...e[side].ports, ...e[side].notPorts] : [];
  if (ranges2.length === 0 || chance(r, 0.2)) return chance(r, 0.5) ? pick(r, PORTS) : int(r, 0, 65535);
  const g = pick(r, ranges2);
  const v = pick(r, [g.from, g.to, g.from - 1, g.to + 1, int(r, g.from, g.to)]);
  return Math.max(0, Math.min(65535, v));
}

function randomPacket(r: Rng, s: Scenario): { packet: PacketDescription; vlan: boolean } {
  const f: IpFamily = chance(r, 0.6) ? 4 : 6;
  const list = f === 4 ? s.state.interfaces[0]!.ingress.v4 : s.state.interfaces[0]!.ingress.v6;
  const e = list.length > 0 && chance(r, 0.85) ? pick(r, list) : undefined;
  const icmpProto = f === 4 ? 1 : 58;
  let protocol = e?.protocol ?? pick(r, [6, 17, icmpProto, 132, 136, 47, 6, 17]);
  // (Not 0, 43, 44, 51 or 60 in IPv6: those are extension headers, which the parser walks through.)
  if (chance(r, 0.1)) protocol = pick(r, f === 4 ? [6, 17, icmpProto, 50, 0, 255] : [6, 17, icmpProto, 50, 255]);
  const packet: PacketDescription = {
    family: f,
    protocol,
    src: aimAddress(r, f, s.prefixes[f]),
    dst: aimAddress(r, f, s.prefixes[f]),
  };
  if ([6, 17, 132, 136].includes(protocol)) {
    packet.sport = chance(r, 0.08) ? pick(r, [22, 53, 443]) : aimPort(r, e, 'source');
    packet.dport = chance(r, 0.08) ? pick(r, [22, 53, 443]) : aimPort(r, e, 'destination');
  }
  if (protocol === icmpProto) {
    const m = e?.icmp ?? e?.notICMP;
    packet.icmpType = m?.type !== undefined && chance(r, 0.7) ? m.type : int(r, 0, 255);
    packet.icmpCode = m?.code !== undefined && chance(r, 0.7) ? m.code : chance(r, 0.5) ? 0 : int(r, 0, 255);
  }
  if (chance(r, 0.08)) {
    packet.laterFragment = true;
    delete packet.sport;
    delete packet.dport;
    delete packet.icmpType;
    delete packet.icmpCode;
  }
  return { packet, vlan: chance(r, 0.05) };
}

// ---------------------------------------------------------------------------------------------------------------
// The comparison

interface Expected {
  packets: bigint;
  bytes: bigint;
}

function describe(s: Scenario, p: PacketDescription, want: Verdict): string {
  const list = p.family === 4 ? s.state.interfaces[0]!.ingress.v4 : s.state.interfaces[0]!.ingress.v6;
  const rule = want.counter === null ? null : list.find((e) => e.counter === want.counter);
  return `packet ${JSON.stringify(p)}\nreference: ${JSON.stringify(want)}\ndeciding entry: ${JSON.stringify(rule)}`;
}

interface BatchOptions {
  seed: number;
  entries: { v4: number; v6: number };
  large: number;
  /** A set of this many hosts crowding one /16 (DENSE_ANCHOR), denied by source in front. */
  dense?: number;
  packets: number;
  /** Deny-list style one-field entries in front (see singleFieldEntries). */
  singleField?: number;
  /** Force a tiny step budget, starting from this many steps per part. */
  smallSteps?: number;
  /** Smallest group in the layout (small values make many groups of small policies). */
  minGroupEntries?: number;
  /** Run the naive baseline instead of the generated program. */
  naive?: boolean;
}

/** What the cases covered, printed at the end so a run shows it exercised every outcome. */
const tally = new Map<string, number>();
const count = (key: string): void => {
  tally.set(key, (tally.get(key) ?? 0) + 1);
};

function runBatch(pl: Pipeline, o: BatchOptions): number {
  const s = randomScenario(o.seed, o.entries, o.large, o.singleField ?? 0, o.dense ?? 0);
  const steps = o.smallSteps === undefined ? undefined : smallSteps(s.state, o.smallSteps, o.minGroupEntries);
  const replay = `NOTRACK_SEED=${BASE_SEED} node --import tsx node_modules/uvu/bin.js test/kernel differential`;
  const what = o.naive ? 'naive program' : `steps ${steps ?? 'default'}, groups of ${o.minGroupEntries ?? 'default'}`;
  const where = `scenario seed ${o.seed} (${o.entries.v4}+${o.entries.v6} entries, large set ${o.large}, dense set ${o.dense ?? 0}, ${what}); replay: ${replay}`;
  try {
    if (o.naive) pl.installNaive(s.state, IFACE);
    else pl.install(s.state, IFACE, { steps, minGroupEntries: o.minGroupEntries });
  } catch (e) {
    throw new Error(`loading failed for ${where}: ${(e as Error).message}`);
  }
  const groups = { 4: 0, 6: 0 };
  for (const f of [4, 6] as const) {
    const c = buildClassifier(s.state, IFACE, f, { minGroupEntries: o.minGroupEntries });
    groups[f] = c.placement.groups.filter((g) => !g.log).length;
    for (const field of c.fields) {
      tally.set('terminal classes', (tally.get('terminal classes') ?? 0) + field.terminalClasses);
      if (field.map.kind === 'stride') {
        tally.set('IPv4 table groups', (tally.get('IPv4 table groups') ?? 0) + field.map.elements - 256);
        tally.set('IPv4 bitmap groups', (tally.get('IPv4 bitmap groups') ?? 0) + field.map.bitmapCount);
        tally.set('IPv4 wide bitmaps', (tally.get('IPv4 wide bitmaps') ?? 0) + field.map.wideCount);
      }
      if (field.map.kind === 'lengths') {
        const m = field.map;
        tally.set('IPv6 table elements', (tally.get('IPv6 table elements') ?? 0) + m.count);
        tally.set('IPv6 table markers', (tally.get('IPv6 table markers') ?? 0) + m.markers);
        const depth = treeDepth(m.tree);
        tally.set('IPv6 deepest search', Math.max(tally.get('IPv6 deepest search') ?? 0, depth));
        if (m.tree.length >= 16) count('IPv6 tables of 16 lengths or more');
      }
    }
  }
  const counters = s.state.interfaces[0]!.counters.map((_, i) => i);
  const before = pl.ruleCounters(counters);
  const overflowBefore = pl.counter('logOverflow').packets;
  const expected: Expected[] = counters.map(() => ({ packets: 0n, bytes: 0n }));
  let overflow = 0n;
  const r = mulberry32(o.seed ^ 0x5eed);
  for (let i = 0; i < o.packets; i++) {
    const { packet, vlan } = randomPacket(r, s);
    const want = evaluatePacket(s.state, IFACE, packet);
    const frame = frameFor(packet, vlan ? { vlan: [int(r, 1, 4094)] } : {});
    const got = pl.run(frame);
    const exp = expectedAction(want.outcome);
    if (got.action !== exp.action || got.accepted !== exp.accepted) {
      assert.unreachable(
        `case ${i} of ${where}\n${describe(s, packet, want)}\nkernel: action ${got.action}, accepted ${got.accepted}`,
      );
    }
    count(`${want.outcome}/${want.reason}`);
    count(`IPv${packet.family}`);
    if (packet.laterFragment) count('later fragment');
    if (want.logged.length > 0) count('logged');
    if (want.logged.length > Limits.logMax) count('log overflow');
    if (steps !== undefined) count('small step budget');
    if (groups[packet.family] > 1) count('several groups');
    const len = BigInt(frame.length);
    if (want.counter !== null) {
      expected[want.counter]!.packets += 1n;
      expected[want.counter]!.bytes += len;
    }
    for (const c of want.logged.slice(0, Limits.logMax)) {
      expected[c]!.packets += 1n;
      expected[c]!.bytes += len;
    }
    overflow += BigInt(Math.max(0, want.logged.length - Limits.logMax));
  }
  const after = pl.ruleCounters(counters);
  counters.forEach((c) => {
    const got = { packets: after[c]!.packets - before[c]!.packets, bytes: after[c]!.bytes - before[c]!.bytes };
    assert.equal(got, expected[c], `rule counter ${c} after the batch of ${where}`);
  });
  assert.is(pl.counter('logOverflow').packets - overflowBefore, overflow, `Log overflow count of ${where}`);
  return o.packets;
}

let pipeline: Pipeline | undefined;
test.before(() => {
  if (gate.runs) pipeline = Pipeline.open();
});
test.after(() => {
  pipeline?.close();
});

/** The smallest step budget from `from` up that both families' worst cases fit: packets cross parts often. */
function smallSteps(s: DesiredState, from: number, minGroupEntries: number | undefined): number {
  const shapes = ([4, 6] as const).map((f) => buildClassifier(s, IFACE, f, { minGroupEntries }));
  for (let steps = from; ; steps++) {
    try {
      for (const c of shapes) stepBudget(c.shape.summaryWords, c.shape.words, c.placement.groups.length, steps);
      return steps;
    } catch {
      /* too small for this policy: one more */
    }
  }
}

kernelTest('random policies: every kernel verdict and rule counter equals the reference evaluator', () => {
  console.log(`differential: seed ${BASE_SEED}, ${TOTAL_CASES} cases`);
  const r = mulberry32(BASE_SEED);
  let cases = 0;
  let batches = 0;
  // Mostly small policies (dense in rule boundaries), some with many words, one with more than 4096 entries
  // (several summary words), some with a large set, some with a tiny step budget (every packet crosses parts).
  const plan: Omit<BatchOptions, 'seed' | 'packets'>[] = [
    { entries: { v4: 5000, v6: 300 }, large: 0 },
    { entries: { v4: 40, v6: 20 }, large: 50_000 },
    { entries: { v4: 700, v6: 200 }, large: 0 },
    { entries: { v4: 30, v6: 10 }, large: 0, singleField: 400 },
    { entries: { v4: 0, v6: 0 }, large: 20_000, singleField: 60 },
    // Every seed covers wide bitmaps: a set crowding one /16 that nothing else cuts.
    { entries: { v4: 40, v6: 10 }, large: 0, dense: 20_000 },
  ];
  while (cases < TOTAL_CASES) {
    const fixed = plan[batches];
    const entries = fixed?.entries ?? {
      v4: int(r, 0, chance(r, 0.3) ? 400 : 40),
      v6: int(r, 0, chance(r, 0.2) ? 200 : 25),
    };
    const small = !fixed && chance(r, 0.3) ? int(r, 1, 3) : undefined;
    const packets = Math.min(TOTAL_CASES - cases, fixed ? 1500 : 400);
    const singleField = fixed ? fixed.singleField : chance(r, 0.3) ? int(r, 1, 120) : 0;
    // Often small groups, so that small policies too are scanned group by group.
    const minGroupEntries = !fixed && chance(r, 0.5) ? int(r, 1, 8) : undefined;
    cases += runBatch(pipeline!, {
      seed: int(r, 1, 2 ** 31),
      entries,
      large: fixed?.large ?? 0,
      dense: fixed?.dense,
      packets,
      smallSteps: small,
      minGroupEntries,
      singleField,
    });
    batches++;
  }
  console.log(`differential: ${cases} cases in ${batches} policies agreed with the reference evaluator`);
  console.log(
    `differential: ${[...tally]
      .sort()
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
  );
  assert.ok(cases >= 20_000 || TOTAL_CASES < 20_000);
  assert.ok((tally.get('terminal classes') ?? 0) > 0, 'some classes were decided by one lookup');
  assert.ok((tally.get('IPv4 table groups') ?? 0) > 0, 'the IPv4 tables had groups past the first table');
  assert.ok((tally.get('IPv4 bitmap groups') ?? 0) > 0, 'the IPv4 tables had bitmap groups');
  assert.ok((tally.get('IPv4 wide bitmaps') ?? 0) > 0, 'the IPv4 tables had wide bitmaps');
  assert.ok((tally.get('IPv6 table markers') ?? 0) > 0, 'the IPv6 tables had markers');
  assert.ok((tally.get('IPv6 deepest search') ?? 0) >= 5, 'an IPv6 table had a search of 5 probes or more');
});

kernelTest('the naive baseline of the benchmark gives the same verdicts and counters', () => {
  const r = mulberry32(BASE_SEED ^ 0x0a17e);
  let cases = 0;
  for (let i = 0; i < 6; i++) {
    // One policy past the naive program's entries per part, so that its parts are chained too.
    const entries = i === 1 ? { v4: 1500, v6: 40 } : { v4: int(r, 0, 60), v6: int(r, 0, 30) };
    cases += runBatch(pipeline!, {
      seed: int(r, 1, 2 ** 31),
      entries,
      large: i === 0 ? 2000 : 0,
      packets: 500,
      naive: true,
    });
  }
  console.log(`differential: naive baseline agreed on ${cases} cases`);
});

test.run();

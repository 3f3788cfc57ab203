// One interface, direction and family of a DesiredState as an ordered list of decisions over boxes: what the
// dataplane checks, in the order it checks it, exactly as the reference evaluator (compile/evaluate.ts) decides.
//
// Ingress: inbound failsafes (packets with ports; an outbound one passes only a conntrack-confirmed reply, which no
// header shows), then the interface's classifier entries; no interface state means nothing of notrack's sees the
// packet. Egress: nothing when no egress rule of the family exists, else failsafes, then the rules of the
// interface's (or `*`'s) chain read back from the iptables tokens. Log entries are kept apart: they never decide.
import type { IpFamily } from '../net/cidr.js';
import type {
  DesiredState,
  Failsafe,
  IngressEntry,
  PrefixSet,
  RuleRef,
  SideMatch,
  Verdict,
} from '../compile/desired-state.js';
import { egressView } from '../compile/egress-entries.js';
import { interfaceState } from '../compile/evaluate.js';
import type { PackedPrefixes } from '../compile/packed-prefixes.js';
import { packedMembers } from '../compile/prefix-set.js';
import type { Direction } from '../model/resources.js';
import { IntervalSet } from './interval-set.js';
import { indexPacked, indexPrefixTexts, type PrefixIndex } from './prefix-index.js';
import { addressBits, domains, F, type Box } from './space.js';

/** What decides a packet: an outcome and why, with the rule or failsafe behind it. */
export interface Decider {
  outcome: Verdict['outcome'];
  reason: Verdict['reason'];
  rule: RuleRef | null;
  failsafe: Failsafe | null;
  /** Equal keys mean the same decision by the same rule: what a traffic change compares. */
  key: string;
}

/** One check of the list: the packets it matches (a union of boxes) and what it decides for them. */
export interface DecisionItem {
  decider: Decider;
  boxes: Box[];
  /** For Log entries: the rule counter, since they record and go on instead of deciding. */
  logCounter?: number;
}

export interface DecisionList {
  family: IpFamily;
  direction: Direction;
  /** Deciding checks in evaluation order (failsafes first). */
  items: DecisionItem[];
  /** Log entries, in order, with the index of the deciding item that follows each. */
  logs: { item: DecisionItem; before: number }[];
  /** What happens to packets no item matches. */
  fallback: Decider;
  /** Rule references by counter, as the evaluator numbers them. */
  counters: readonly RuleRef[];
}

export function ruleKey(r: RuleRef): string {
  return `${r.policy}/${r.direction}/${r.index}`;
}

export function failsafeKey(f: Failsafe): string {
  return `${f.direction}/${f.protocol}/${f.port}/${f.net ?? '*'}`;
}

function decider(
  outcome: Decider['outcome'],
  reason: Decider['reason'],
  rule: RuleRef | null,
  failsafe: Failsafe | null = null,
): Decider {
  const what = rule ? ruleKey(rule) : failsafe ? failsafeKey(failsafe) : '';
  return { outcome, reason, rule, failsafe, key: `${outcome}|${reason}|${what}` };
}

export const NO_POLICY = decider('pass', 'no-policy', null);
const NO_MATCH = decider('pass', 'no-match', null);

/** Indexes of prefix sets, by set id: ids are content hashes, so one cache serves every state. */
const setIndexes = new Map<string, PrefixIndex>();

export function prefixRanges(family: IpFamily, prefixes: readonly string[]): IntervalSet {
  return indexPrefixTexts(family, prefixes).ranges();
}

/**
 * A compiled set's members, packed: the one place the traffic engine and the plan read them (a compiled set makes
 * its text only when `prefixes` is read, a million strings for a deny list).
 */
export function setMembers(set: PrefixSet): PackedPrefixes {
  return packedMembers(set);
}

/** The index of a set the state holds (built once per id). */
export function setIndex(sets: Record<string, PrefixSet>, id: string): PrefixIndex {
  let r = setIndexes.get(id);
  if (!r) {
    const s = sets[id];
    if (!s) throw new Error(`the state refers to prefix set ${id}, which it does not hold`);
    r = indexPacked(setMembers(s));
    setIndexes.set(id, r);
  }
  return r;
}

/**
 * Where a decision list is asked about: only packets whose source (destination) lies in `src` (`dst`). A list built
 * with a focus is exact for those packets and may say anything about others; large sets are then read only where
 * they meet the focus.
 */
export interface AddressFocus {
  src?: IntervalSet;
  dst?: IntervalSet;
}

function portSet(ranges: readonly { from: number; to: number }[]): IntervalSet {
  return IntervalSet.of(ranges.map((r) => [BigInt(r.from), BigInt(r.to)] as const));
}

function sideSets(
  sets: Record<string, PrefixSet>,
  family: IpFamily,
  side: SideMatch,
  focus: IntervalSet | undefined,
): [IntervalSet, IntervalSet] {
  const d = domains(family);
  let addresses = focus ?? d.addresses;
  const read = (id: string): IntervalSet => (focus ? setIndex(sets, id).within(focus) : setIndex(sets, id).ranges());
  for (const id of side.inSets) addresses = addresses.intersect(read(id));
  for (const id of side.notInSets) addresses = addresses.subtract(read(id));
  let ports = d.any[F.sport]!;
  if (side.ports.length || side.notPorts.length) {
    ports = (side.ports.length ? portSet(side.ports) : d.realPorts).subtract(portSet(side.notPorts));
    ports = ports.intersect(d.realPorts);
  }
  return [addresses, ports];
}

/** The (type, code) pairs an ICMP match with `type` and `code` (each optional) accepts, among real ICMP headers. */
function icmpPairs(m: { type?: number; code?: number }, realIcmp: IntervalSet): [IntervalSet, IntervalSet] {
  return [
    m.type === undefined ? realIcmp : IntervalSet.single(BigInt(m.type)),
    m.code === undefined ? realIcmp : IntervalSet.single(BigInt(m.code)),
  ];
}

/** An entry's constraint on each field, before they are combined into boxes (any field may be empty). */
export interface EntryFields {
  proto: IntervalSet;
  src: IntervalSet;
  dst: IntervalSet;
  sport: IntervalSet;
  dport: IntervalSet;
  /** ICMP (type, code) pairs: one, or two when a notICMP with a code leaves an L-shaped rest. */
  icmp: [IntervalSet, IntervalSet][];
}

export function entryFields(
  sets: Record<string, PrefixSet>,
  family: IpFamily,
  e: Omit<IngressEntry, 'counter'>,
  focus: AddressFocus = {},
): EntryFields {
  const d = domains(family);
  let proto = e.protocol !== null ? IntervalSet.single(BigInt(e.protocol)) : d.any[F.proto]!;
  if (e.notProtocol !== null) proto = proto.subtract(IntervalSet.single(BigInt(e.notProtocol)));
  let icmp: [IntervalSet, IntervalSet][] = [[d.any[F.icmpType]!, d.any[F.icmpCode]!]];
  if (e.icmp || e.notICMP) {
    // Like the ports, the ICMP fields (negated or not) need the header: packets without one match neither.
    icmp = [e.icmp ? icmpPairs(e.icmp, d.realIcmp) : [d.realIcmp, d.realIcmp]];
    if (e.notICMP) {
      const [t, c] = icmpPairs(e.notICMP, d.realIcmp);
      // Not (type t and code c): another type, or type t with another code.
      const rest: [IntervalSet, IntervalSet][] = [[d.realIcmp.subtract(t), d.realIcmp]];
      if (e.notICMP.code !== undefined) rest.push([t, d.realIcmp.subtract(c)]);
      icmp = icmp
        .flatMap(([a, b]) => rest.map(([x, y]): [IntervalSet, IntervalSet] => [a.intersect(x), b.intersect(y)]))
        .filter(([a, b]) => !a.isEmpty && !b.isEmpty);
    }
  }
  const [src, sport] = sideSets(sets, family, e.source, focus.src);
  const [dst, dport] = sideSets(sets, family, e.destination, focus.dst);
  return { proto, src, dst, sport, dport, icmp };
}

/** The packets an entry matches, as boxes (two when a notICMP with a code leaves an L-shaped rest). */
export function entryBoxes(
  sets: Record<string, PrefixSet>,
  family: IpFamily,
  e: Omit<IngressEntry, 'counter'>,
  focus: AddressFocus = {},
): Box[] {
  const f = entryFields(sets, family, e, focus);
  const frag = domains(family).any[F.frag]!;
  const boxes: Box[] = [];
  for (const [type, code] of f.icmp) {
    const box = [f.proto, frag, f.sport, f.dport, type, code, f.src, f.dst];
    if (box.every((x) => !x.isEmpty)) boxes.push(box);
  }
  return boxes;
}

/** The packets a failsafe passes, in a direction: see findFailsafe in compile/evaluate.ts. */
function failsafeBox(family: IpFamily, f: Failsafe, direction: Direction): Box | null {
  // Inbound, an outbound failsafe passes only the reply to a connection this host opened, which the entry program
  // confirms with conntrack; the packet space describes packets by their headers, and no header makes a reply.
  if (direction === 'ingress' && f.direction === 'outbound') return null;
  const d = domains(family);
  let peer = d.addresses;
  if (f.net !== null) {
    peer = prefixRanges(family, [f.net]);
    if (peer.isEmpty) return null;
  }
  const port = IntervalSet.single(BigInt(f.port));
  const onDestinationPort = (f.direction === 'inbound') === (direction === 'ingress');
  const box = [...d.any];
  box[F.proto] = IntervalSet.single(BigInt(f.protocol));
  box[onDestinationPort ? F.dport : F.sport] = port;
  box[direction === 'ingress' ? F.src : F.dst] = peer;
  return box;
}

function fromEntries(
  state: DesiredState,
  family: IpFamily,
  direction: Direction,
  entries: readonly IngressEntry[],
  counters: readonly RuleRef[],
  fallback: Decider,
  focus: AddressFocus,
): DecisionList {
  const items: DecisionItem[] = [];
  for (const f of state.failsafes) {
    if (f.net !== null && (f.net.includes(':') ? 6 : 4) !== family) continue;
    const box = failsafeBox(family, f, direction);
    if (box) items.push({ decider: decider('pass', 'failsafe', null, f), boxes: [box] });
  }
  const logs: DecisionList['logs'] = [];
  for (const e of entries) {
    const boxes = entryBoxes(state.sets, family, e, focus);
    const rule = counters[e.counter]!;
    if (e.action === 'Log') {
      logs.push({
        item: { decider: decider('pass', 'rule', rule), boxes, logCounter: e.counter },
        before: items.length,
      });
      continue;
    }
    const outcome = e.action === 'Allow' ? 'allow' : e.action === 'Deny' ? 'deny' : 'pass';
    items.push({ decider: decider(outcome, 'rule', rule), boxes });
  }
  return { family, direction, items, logs, fallback, counters };
}

/**
 * The decisions for packets of `family` arriving on (ingress) or leaving by (egress) interface `iface` of a host.
 * A null state is a host that does not exist in that revision: nothing of notrack's sees its packets.
 */
export function decisionList(
  state: DesiredState | null,
  iface: string,
  direction: Direction,
  family: IpFamily,
  focus: AddressFocus = {},
): DecisionList {
  const none: DecisionList = { family, direction, items: [], logs: [], fallback: NO_POLICY, counters: [] };
  if (!state) return none;
  if (direction === 'ingress') {
    const ifc = interfaceState(state, iface);
    if (!ifc) return none;
    return fromEntries(
      state,
      family,
      direction,
      family === 4 ? ifc.ingress.v4 : ifc.ingress.v6,
      ifc.counters,
      NO_MATCH,
      focus,
    );
  }
  const view = egressView(state, iface, family);
  if (!view.active) return none;
  return fromEntries(
    state,
    family,
    direction,
    view.entries,
    view.counters,
    view.chain === null ? NO_POLICY : NO_MATCH,
    focus,
  );
}

/** A content key of a decision list: equal keys decide every packet alike (used to reuse results across hosts). */
export function decisionListKey(list: DecisionList): string {
  const parts = [list.fallback.key];
  for (const it of list.items) parts.push(it.decider.key, ...it.boxes.map((b) => b.map((s) => s.key).join('|')));
  return `${list.family}/${list.direction}/${parts.join(';')}`;
}

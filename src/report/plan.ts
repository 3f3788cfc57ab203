// What would change between two revisions, host by host: policies, rules, set contents, programs, egress, failsafes.
import type { IpFamily } from '../net/cidr.js';
import { egressView } from '../compile/egress-entries.js';
import { setIndex } from '../traffic/decisions.js';
import { memberCount } from '../compile/prefix-set.js';
import { changedMembers } from '../traffic/prefix-index.js';
import { sameEntry, samePorts } from '../traffic/entry-compare.js';
import { naturalCompare } from './natural-sort.js';
import type {
  DesiredState,
  Failsafe,
  IngressEntry,
  InterfaceState,
  PortRange,
  PrefixSet,
  RuleRef,
  SideMatch,
} from '../compile/desired-state.js';

type PlanAction = 'add' | 'remove' | 'update';

export interface RuleChange {
  rule: RuleRef;
  action: PlanAction;
  before: string | null;
  after: string | null;
}

export interface SetChange {
  /** Which rule side uses the set, in words: `ddos-deny ingress[0] source (IPv4)`. */
  usedBy: string;
  /** What the set is: `selector dos-deny-list == "true"`. */
  origin: string;
  family: IpFamily;
  sizeBefore: number;
  sizeAfter: number;
  added: string[];
  removed: string[];
}

export interface InterfacePlan {
  name: string;
  action: PlanAction;
  policies: { policy: string; action: PlanAction }[];
  rules: RuleChange[];
  sets: SetChange[];
  /** Classifier entries per family, when they change (the policy program is rebuilt). */
  programs: { family: IpFamily; entriesBefore: number; entriesAfter: number }[];
  egress: RuleChange[];
}

export interface HostPlan {
  host: string;
  action: 'create' | 'delete' | 'update' | 'no-op';
  baseHash: string | null;
  headHash: string | null;
  interfaces: InterfacePlan[];
  failsafes: { action: 'add' | 'remove'; failsafe: string }[];
  config: { field: string; before: string; after: string }[];
}

export interface Plan {
  hosts: HostPlan[];
  summary: { hosts: number; changed: number; unchanged: number; created: number; deleted: number };
}

const FAMILY_NAME: Record<IpFamily, string> = { 4: 'IPv4', 6: 'IPv6' };
const PROTOCOLS: Record<number, string> = { 1: 'icmp', 6: 'tcp', 17: 'udp', 58: 'icmpv6', 132: 'sctp', 136: 'udplite' };

function ports(list: readonly PortRange[]): string {
  return list.map((p) => (p.from === p.to ? String(p.from) : `${p.from}:${p.to}`)).join(',');
}

/** A set in words: literal nets are listed when short; selector sets by their selector (sizes show in set changes). */
function setWords(ids: readonly string[], sets: Record<string, PrefixSet>): string {
  return ids
    .map((id) => {
      const s = sets[id];
      if (!s) return id;
      // Literal nets are listed when short; a selector's set (a deny list of a million) is named, never read.
      if (!/^(nets|notNets) of /.test(s.origin)) return s.origin;
      return memberCount(s) <= 3 ? s.prefixes.join(',') : `${memberCount(s)} prefixes`;
    })
    .join(' and ');
}

function side(name: 'from' | 'to', m: SideMatch, sets: Record<string, PrefixSet>): string[] {
  const out: string[] = [];
  if (m.inSets.length) out.push(`${name} ${setWords(m.inSets, sets)}`);
  if (m.notInSets.length) out.push(`${name} not ${setWords(m.notInSets, sets)}`);
  if (m.ports.length) out.push(`${name === 'from' ? 'sport' : 'dport'} ${ports(m.ports)}`);
  if (m.notPorts.length) out.push(`${name === 'from' ? 'sport' : 'dport'} not ${ports(m.notPorts)}`);
  return out;
}

/** A rule in one line, from its classifier entries (pieces of one rule are joined with "or"). */
function describeEntries(entries: readonly IngressEntry[], sets: Record<string, PrefixSet>): string {
  if (entries.length === 0) return 'matches nothing';
  const pieces = entries.map((e) => {
    const bits: string[] = [];
    if (e.protocol !== null) bits.push(PROTOCOLS[e.protocol] ?? `proto ${e.protocol}`);
    if (e.notProtocol !== null) bits.push(`not ${PROTOCOLS[e.notProtocol] ?? `proto ${e.notProtocol}`}`);
    if (e.icmp) bits.push(`type ${e.icmp.type ?? 'any'}${e.icmp.code !== undefined ? ` code ${e.icmp.code}` : ''}`);
    if (e.notICMP)
      bits.push(`not type ${e.notICMP.type ?? 'any'}${e.notICMP.code !== undefined ? ` code ${e.notICMP.code}` : ''}`);
    bits.push(...side('from', e.source, sets), ...side('to', e.destination, sets));
    return bits.join(' ') || 'any packet';
  });
  return `${entries[0]!.action} ${[...new Set(pieces)].join(' or ')}`;
}

function refKey(r: RuleRef): string {
  return `${r.policy}\0${r.direction}\0${r.index}`;
}

/** A rule's entries on an interface (per family, in order), the sets each side uses, and its text made on first read. */
class RuleText {
  readonly entries: Partial<Record<IpFamily, IngressEntry[]>> = {};
  readonly sets = new Map<string, string>();
  #text: string | undefined;

  constructor(
    readonly ref: RuleRef,
    private readonly state: DesiredState,
    private readonly fallback: string,
  ) {}

  /** The rule in one line (both families): made only for rules a plan shows, not for the 10,000 it compares. */
  get text(): string {
    if (this.#text === undefined) {
      const parts: string[] = [];
      for (const family of [4, 6] as const) {
        const list = this.entries[family];
        if (list) parts.push(`${FAMILY_NAME[family]}: ${describeEntries(list, this.state.sets)}`);
      }
      this.#text = parts.length ? parts.join('; ') : this.fallback;
    }
    return this.#text;
  }
}

type RuleTexts = Map<string, RuleText>;

function sameSide(a: SideMatch, b: SideMatch): boolean {
  const ids = (x: readonly string[], y: readonly string[]) => x.length === y.length && x.every((v, i) => v === y[i]);
  return (
    ids(a.inSets, b.inSets) &&
    ids(a.notInSets, b.notInSets) &&
    samePorts(a.ports, b.ports) &&
    samePorts(a.notPorts, b.notPorts)
  );
}

/**
 * Whether two revisions' texts of a rule are equal without making them: the same entries (counters aside) naming the
 * same sets, each of the same origin. Exact: a text is made from the entries and, per set, its origin and its content,
 * which its id (a digest of the content) fixes.
 */
function sameRule(b: RuleText, a: RuleText, before: DesiredState, after: DesiredState): boolean {
  for (const family of [4, 6] as const) {
    const x = b.entries[family],
      y = a.entries[family];
    if (!x || !y) {
      if (x !== y) return false;
      continue;
    }
    if (x.length !== y.length) return false;
    for (let i = 0; i < x.length; i++) {
      const e = x[i]!,
        f = y[i]!;
      if (!sameEntry(e, f, sameSide)) return false;
      for (const side of [e.source, e.destination])
        for (const id of [...side.inSets, ...side.notInSets])
          if (before.sets[id]?.origin !== after.sets[id]?.origin) return false;
    }
  }
  return true;
}

/** Per rule: its entries (both families) and the sets each side uses, from entries numbered by `counters`. */
function rulesFrom(
  entries: Record<IpFamily, readonly IngressEntry[]>,
  counters: readonly RuleRef[],
  state: DesiredState,
  fallback: string,
): RuleTexts {
  const out: RuleTexts = new Map();
  const add = (ref: RuleRef, family: IpFamily, list: IngressEntry[]): void => {
    const key = refKey(ref);
    const r = out.get(key) ?? new RuleText(ref, state, fallback);
    r.entries[family] = list;
    list.forEach((e) => {
      for (const [sideName, m] of [
        ['source', e.source],
        ['destination', e.destination],
      ] as const) {
        m.inSets.forEach((id, i) => r.sets.set(`${sideName} ${FAMILY_NAME[family]} in ${i}`, id));
        m.notInSets.forEach((id, i) => r.sets.set(`${sideName} ${FAMILY_NAME[family]} not ${i}`, id));
      }
    });
    out.set(key, r);
  };
  counters.forEach((ref) => out.set(refKey(ref), new RuleText(ref, state, fallback)));
  for (const family of [4, 6] as const) {
    // Grouped once: filtering every entry for every counter is quadratic (10,000 rules: 10^8 steps).
    const byCounter = new Map<number, IngressEntry[]>();
    for (const e of entries[family]) {
      const list = byCounter.get(e.counter);
      if (list) list.push(e);
      else byCounter.set(e.counter, [e]);
    }
    counters.forEach((ref, counter) => {
      const list = byCounter.get(counter);
      if (list) add(ref, family, list);
    });
  }
  return out;
}

/** Per ingress rule of an interface. */
function rulesOf(iface: InterfaceState, state: DesiredState): RuleTexts {
  return rulesFrom(
    { 4: iface.ingress.v4, 6: iface.ingress.v6 },
    iface.counters,
    state,
    'matches nothing on this interface',
  );
}

/** Per egress rule of an interface's own chain, read back from its iptables rules: in the same words as ingress. */
function egressOf(state: DesiredState | null, name: string): RuleTexts {
  if (!state) return new Map();
  const entries: Record<IpFamily, IngressEntry[]> = { 4: [], 6: [] };
  const counters: RuleRef[] = [];
  for (const family of [4, 6] as const) {
    const view = egressView(state, name, family);
    if (view.chain !== name) continue;
    for (const e of view.entries) {
      const ref = view.counters[e.counter]!;
      let c = counters.findIndex((r) => refKey(r) === refKey(ref));
      if (c < 0) c = counters.push(ref) - 1;
      entries[family].push({ ...e, counter: c });
    }
  }
  return rulesFrom(entries, counters, state, 'matches nothing on this interface');
}

function diffKeyed(
  before: RuleTexts,
  after: RuleTexts,
  states: { before: DesiredState | null; after: DesiredState | null },
): RuleChange[] {
  const out: RuleChange[] = [];
  const { before: bs, after: as } = states;
  for (const [k, a] of after) {
    const b = before.get(k);
    if (!b) out.push({ rule: a.ref, action: 'add', before: null, after: a.text });
    else if (bs && as && sameRule(b, a, bs, as)) continue;
    else if (b.text !== a.text) out.push({ rule: a.ref, action: 'update', before: b.text, after: a.text });
  }
  for (const [k, b] of before)
    if (!after.has(k)) out.push({ rule: b.ref, action: 'remove', before: b.text, after: null });
  return out;
}

function policiesOf(iface: InterfaceState | null, state: DesiredState | null): Set<string> {
  const out = new Set<string>();
  for (const r of iface?.counters ?? []) out.add(r.policy);
  for (const p of state?.egress.interfaces.find((i) => i.name === iface?.name)?.policies ?? []) out.add(p.policy);
  return out;
}

/** How a plan compares rules (the result is the same either way). */
export interface PlanOptions {
  /** Make and compare every rule's text, even where the entries show it unchanged: the reference for tests. */
  compareTexts?: boolean;
}

function planInterface(
  name: string,
  base: DesiredState | null,
  head: DesiredState | null,
  options: PlanOptions,
): InterfacePlan | null {
  const b = base?.interfaces.find((i) => i.name === name) ?? null;
  const h = head?.interfaces.find((i) => i.name === name) ?? null;
  const empty: InterfaceState = { name, endpoint: '', ingress: { v4: [], v6: [] }, counters: [] };
  const bRules = rulesOf(b ?? empty, base ?? head!);
  const hRules = rulesOf(h ?? empty, head ?? base!);
  const same = (before: DesiredState | null, after: DesiredState | null) =>
    options.compareTexts ? { before: null, after: null } : { before, after };
  const rules = diffKeyed(bRules, hRules, same(base ?? head, head ?? base));
  const bEgress = egressOf(base, name),
    hEgress = egressOf(head, name);
  const egress = diffKeyed(bEgress, hEgress, same(base, head));

  const bPol = policiesOf(b ?? { ...empty }, base),
    hPol = policiesOf(h ?? { ...empty }, head);
  const policies: InterfacePlan['policies'] = [];
  for (const p of hPol) if (!bPol.has(p)) policies.push({ policy: p, action: 'add' });
  for (const p of bPol) if (!hPol.has(p)) policies.push({ policy: p, action: 'remove' });
  const touched = new Set([...rules, ...egress].map((r) => r.rule.policy));
  for (const p of hPol) if (bPol.has(p) && touched.has(p)) policies.push({ policy: p, action: 'update' });

  // Set contents, compared for each rule side that exists in both revisions.
  const sets: SetChange[] = [];
  for (const [k, hr, br] of [
    ...[...hRules].map(([k, v]) => [k, v, bRules.get(k)] as const),
    ...[...hEgress].map(([k, v]) => [k, v, bEgress.get(k)] as const),
  ]) {
    if (!br) continue;
    for (const [slot, hid] of hr.sets) {
      const bid = br.sets.get(slot);
      if (!bid || bid === hid) continue;
      const bs = base!.sets[bid],
        hs = head!.sets[hid];
      if (!bs || !hs) continue;
      // By the sets' numeric indexes (shared with the traffic diff), not by a million strings in hash sets.
      const { added, removed } = changedMembers(setIndex(base!.sets, bid), setIndex(head!.sets, hid));
      const [sideName, fam] = slot.split(' ');
      sets.push({
        usedBy: `${hr.ref.policy} ${hr.ref.direction}[${hr.ref.index}] ${sideName} (${fam})`,
        origin: hs.origin,
        family: hs.family,
        sizeBefore: memberCount(bs),
        sizeAfter: memberCount(hs),
        added,
        removed,
      });
    }
  }
  const programs: InterfacePlan['programs'] = [];
  for (const [family, key] of [
    [4, 'v4'],
    [6, 'v6'],
  ] as const) {
    const eb = b?.ingress[key] ?? [],
      eh = h?.ingress[key] ?? [];
    if (JSON.stringify(eb) !== JSON.stringify(eh) || (b && h && sets.some((s) => s.family === family))) {
      programs.push({ family, entriesBefore: eb.length, entriesAfter: eh.length });
    }
  }
  const action: PlanAction = !b ? 'add' : !h ? 'remove' : 'update';
  if (action === 'update' && !rules.length && !egress.length && !sets.length && !programs.length && !policies.length)
    return null;
  return { name, action, policies, rules, sets, programs, egress };
}

/** A failsafe in a plan's words: `inbound tcp 22 10.0.255.0/24`. */
export function failsafeText(f: Failsafe): string {
  return `${f.direction} ${PROTOCOLS[f.protocol] ?? f.protocol} ${f.port}${f.net ? ` ${f.net}` : ''}`;
}

/** The plan for one host between two compiled revisions (null = the host does not exist in that revision). */
export function planHost(
  host: string,
  base: DesiredState | null,
  head: DesiredState | null,
  options: PlanOptions = {},
): HostPlan {
  if (base && head && base.hash === head.hash) {
    return {
      host,
      action: 'no-op',
      baseHash: base.hash,
      headHash: head.hash,
      interfaces: [],
      failsafes: [],
      config: [],
    };
  }
  const names = new Set<string>();
  for (const s of [base, head]) {
    for (const i of s?.interfaces ?? []) names.add(i.name);
    for (const i of s?.egress.interfaces ?? []) names.add(i.name);
  }
  const interfaces = [...names]
    .sort()
    .map((n) => planInterface(n, base, head, options))
    .filter((p): p is InterfacePlan => p !== null);
  const bf = new Set((base?.failsafes ?? []).map(failsafeText)),
    hf = new Set((head?.failsafes ?? []).map(failsafeText));
  const failsafes: HostPlan['failsafes'] = [
    ...[...hf].filter((f) => !bf.has(f)).map((failsafe) => ({ action: 'add' as const, failsafe })),
    ...[...bf].filter((f) => !hf.has(f)).map((failsafe) => ({ action: 'remove' as const, failsafe })),
  ];
  const config: HostPlan['config'] = [];
  if (base && head) {
    for (const field of Object.keys(head.config) as (keyof DesiredState['config'])[]) {
      const b = String(base.config[field]),
        h = String(head.config[field]);
      if (b !== h) config.push({ field, before: b, after: h });
    }
  }
  const same = base?.hash === head?.hash;
  const action = !base ? 'create' : !head ? 'delete' : same ? 'no-op' : 'update';
  return { host, action, baseHash: base?.hash ?? null, headHash: head?.hash ?? null, interfaces, failsafes, config };
}

/** Plans every host that exists in either revision. */
export function planAll(
  base: ReadonlyMap<string, DesiredState>,
  head: ReadonlyMap<string, DesiredState>,
  options: PlanOptions = {},
): Plan {
  const hosts = [...new Set([...base.keys(), ...head.keys()])]
    .sort(naturalCompare)
    .map((h) => planHost(h, base.get(h) ?? null, head.get(h) ?? null, options));
  return {
    hosts,
    summary: {
      hosts: hosts.length,
      changed: hosts.filter((h) => h.action !== 'no-op').length,
      unchanged: hosts.filter((h) => h.action === 'no-op').length,
      created: hosts.filter((h) => h.action === 'create').length,
      deleted: hosts.filter((h) => h.action === 'delete').length,
    },
  };
}

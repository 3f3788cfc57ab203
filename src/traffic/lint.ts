// Lint from the packet-space engine, exact: rules that match no packet, rules that can never decide one (covered by
// a union of earlier rules and failsafes, named), and untracked Allow regions whose replies go through conntrack the
// other way on the same interface (the uncovered reply region, with an example packet): a flow untracked one way and
// tracked the other is dropped as invalid. Replies the other way denies are a decision, not a gap.
//
// Hosts whose endpoints carry the same interfaces and labels and the same failsafes compile to the same decisions,
// so one host of each kind is compiled and each distinct interface is analysed once.
import type { IpFamily } from '../net/cidr.js';
import { compileHosts } from '../compile/compile-host.js';
import type { DesiredState, RuleRef } from '../compile/desired-state.js';
import { ingressEntries, lowerRule } from '../compile/entries.js';
import { NamedPorts } from '../compile/named-ports.js';
import { orderPolicies } from '../compile/order.js';
import { formatPacket } from '../compile/packet-text.js';
import { SetTable } from '../compile/sets.js';
import { resolveConfiguration } from '../model/configuration.js';
import type { Diagnostic } from '../model/diagnostics.js';
import { diagnosticAt, type SourceDocument } from '../model/documents.js';
import { ruleExplainedEmpty } from '../model/lint.js';
import type { Direction, ResourceSet } from '../model/resources.js';
import {
  decisionList,
  entryBoxes,
  entryFields,
  ruleKey,
  type Decider,
  type DecisionItem,
  type DecisionList,
} from './decisions.js';
import { CompiledSelectorAddresses } from './compiled-selectors.js';
import { describeBox } from './describe.js';
import { IntervalSet } from './interval-set.js';
import { partition, walkLists } from './partition.js';
import { examplePacket, mergeBoxes, ownAddressHints } from './regions.js';
import { F, intersectBoxes, NO_ICMP, universe, type Box } from './space.js';

const FAMILIES: readonly IpFamily[] = [4, 6];
const DIRECTIONS: readonly Direction[] = ['ingress', 'egress'];
const OTHER: Record<Direction, Direction> = { ingress: 'egress', egress: 'ingress' };

interface Located {
  doc: SourceDocument;
  path: (string | number)[];
}

/** One host of each kind: the same interfaces with the same labels, and the same failsafes. */
function representativeHosts(resources: ResourceSet): string[] {
  const byHost = new Map<string, string[]>();
  for (const h of resources.hostEndpoints) {
    if (h.interfaceName === null) continue;
    const list = byHost.get(h.node) ?? [];
    list.push(JSON.stringify([h.interfaceName, Object.entries(h.labels).sort()]));
    byHost.set(h.node, list);
  }
  const kinds = new Map<string, string>();
  for (const [host, endpoints] of [...byHost].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))) {
    const config = resolveConfiguration(resources, host);
    const key = JSON.stringify([endpoints.sort(), config.failsafeInbound, config.failsafeOutbound]);
    if (!kinds.has(key)) kinds.set(key, host);
  }
  return [...kinds.values()];
}

// ---- rules that match no packet ------------------------------------------------------------------------------------

type LoweringContext = Parameters<typeof lowerRule>[2];

/** Why a rule matches nothing, from the fields of its lowered pieces; null when it matches some packet. */
function emptyReason(
  ctx: LoweringContext,
  policy: ResourceSet['policies'][number],
  dir: Direction,
  index: number,
): string | null {
  const { sets } = ctx;
  const lowered = lowerRule({ policy: policy.name, direction: dir, index }, policy[dir][index]!, ctx);
  if (lowered.families.length === 0) return 'its ipVersion, protocol and nets leave no address family';
  if (lowered.pieces.length === 0) return 'none of the ports it names exists for its protocol';
  const record = sets.byId();
  const reasons = new Set<string>();
  for (const family of lowered.families) {
    const entries = ingressEntries(lowered, family, 0);
    if (entries.length === 0) reasons.add(`its named ports have no IPv${family} address`);
    for (const e of entries) {
      if (entryBoxes(record, family, e).some((b) => universe(family).some((u) => intersectBoxes(u.box, b))))
        return null;
      const f = entryFields(record, family, e);
      if (f.proto.isEmpty) reasons.add('its protocol is also its notProtocol');
      else if (f.src.isEmpty) reasons.add('its source nets, selectors and notNets have no address in common');
      else if (f.dst.isEmpty) reasons.add('its destination nets, selectors and notNets have no address in common');
      else if (f.sport.isEmpty) reasons.add('every source port it allows is also in its notPorts');
      else if (f.dport.isEmpty) reasons.add('every destination port it allows is also in its notPorts');
      else if (f.icmp.length === 0) reasons.add('its notICMP excludes every ICMP type and code its icmp allows');
      else reasons.add('its protocol excludes the port or ICMP fields it names');
    }
  }
  return [...reasons].join('; ');
}

// ---- per interface analysis -----------------------------------------------------------------------------------------

interface RuleFacts {
  /** The rule is in some decision list (it matches packets of some interface and family). */
  appears: boolean;
  /** It decides some packet there (or, for Log, sees one: no earlier rule decides all it matches). */
  decides: boolean;
  /** Where it first appeared without deciding: for the cover. */
  example: { host: string; iface: string; list: DecisionList; item: DecisionItem; position: number } | null;
}

interface ReturnGap {
  host: string;
  iface: string;
  family: IpFamily;
  region: Box[];
  decider: Decider;
  count: number;
}

function itemsOfRule(list: DecisionList, key: string): { item: DecisionItem; position: number }[] {
  const out: { item: DecisionItem; position: number }[] = [];
  list.items.forEach((item, position) => {
    if (item.decider.rule && ruleKey(item.decider.rule) === key) out.push({ item, position });
  });
  for (const l of list.logs)
    if (l.item.decider.rule && ruleKey(l.item.decider.rule) === key) out.push({ item: l.item, position: l.before });
  return out;
}

/** A reply to each packet of the box: addresses and ports swapped, echo requests answered; null when none is due. */
function replyBox(family: IpFamily, box: Box): Box | null {
  if (box[F.frag]!.min === 1n) return null; // later fragments: their first fragment's reply is what counts
  const out = [...box];
  [out[F.src], out[F.dst]] = [box[F.dst]!, box[F.src]!];
  [out[F.sport], out[F.dport]] = [box[F.dport]!, box[F.sport]!];
  if (!box[F.icmpType]!.has(NO_ICMP)) {
    const [request, reply] = family === 4 ? [8n, 0n] : [128n, 129n];
    if (!box[F.icmpType]!.has(request)) return null;
    out[F.icmpType] = IntervalSet.single(reply);
  }
  return out;
}

/** Whether some box of the item holds a packet (a box of non-empty fields can still fit no packet shape). */
function holdsPacket(family: IpFamily, item: DecisionItem): boolean {
  return item.boxes.some((b) => universe(family).some((u) => intersectBoxes(u.box, b)));
}

class InterfaceLint {
  readonly rules = new Map<string, RuleFacts>();
  readonly gaps = new Map<string, ReturnGap>();
  /**
   * Rules some decision list shows matching a packet. A list's boxes are what the dataplane matches for the rule,
   * made from the compiler's lowering (one for the whole fleet, with the same selectors and named ports as the
   * empty-rule check's): such a rule matches some packet, and is not lowered a second time to learn it.
   */
  readonly matching = new Set<string>();

  analyse(host: string, state: DesiredState, iface: string): void {
    for (const family of FAMILIES) {
      const lists = {
        ingress: decisionList(state, iface, 'ingress', family),
        egress: decisionList(state, iface, 'egress', family),
      };
      for (const dir of DIRECTIONS) {
        const list = lists[dir];
        for (const item of [...list.items, ...list.logs.map((l) => l.item)]) {
          if (!item.decider.rule) continue;
          const key = ruleKey(item.decider.rule);
          if (!this.matching.has(key) && holdsPacket(family, item)) this.matching.add(key);
        }
        const cells = new Map<number, Box[]>();
        partition(list, (box, item) => {
          if (item === null) return;
          const c = cells.get(item);
          if (c) c.push(box);
          else cells.set(item, [box]);
        });
        this.record(host, iface, list, cells);
        this.returnPaths(host, iface, family, list, lists[OTHER[dir]], cells);
      }
    }
  }

  private facts(key: string): RuleFacts {
    let f = this.rules.get(key);
    if (!f) {
      f = { appears: false, decides: false, example: null };
      this.rules.set(key, f);
    }
    return f;
  }

  private record(host: string, iface: string, list: DecisionList, cells: Map<number, Box[]>): void {
    list.items.forEach((item, position) => {
      if (!item.decider.rule || item.boxes.length === 0) return;
      const f = this.facts(ruleKey(item.decider.rule));
      f.appears = true;
      if (cells.has(position)) f.decides = true;
      else f.example ??= { host, iface, list, item, position };
    });
    for (const log of list.logs) {
      if (!log.item.decider.rule || log.item.boxes.length === 0) continue;
      const f = this.facts(ruleKey(log.item.decider.rule));
      f.appears = true;
      // A Log rule sees a packet when some packet it matches gets past every rule before it.
      const before: DecisionList = { ...list, items: list.items.slice(0, log.before) };
      let sees = false;
      partition(
        before,
        (_box, item) => {
          if (item === null) sees = true;
        },
        log.item.boxes,
      );
      if (sees) f.decides = true;
      else f.example ??= { host, iface, list, item: log.item, position: log.before };
    }
  }

  private returnPaths(
    host: string,
    iface: string,
    family: IpFamily,
    list: DecisionList,
    other: DecisionList,
    cells: Map<number, Box[]>,
  ): void {
    for (const [position, boxes] of cells) {
      const item = list.items[position]!;
      if (item.decider.outcome !== 'allow' || !item.decider.rule) continue;
      const replies = mergeBoxes(boxes)
        .map((b) => replyBox(family, b))
        .filter((b): b is Box => b !== null);
      if (replies.length === 0) continue;
      const uncovered = new Map<string, { decider: Decider; cells: Box[] }>();
      walkLists(
        [other],
        (box, [first]) => {
          const d = first === null || first === undefined ? other.fallback : other.items[first]!.decider;
          // Untracked both ways is the point; a Deny the other way is a decision (a deny list blocks both ways on
          // purpose). What is left goes through conntrack one way only: half-tracked, dropped as invalid.
          if (d.outcome !== 'pass') return;
          // Failsafes come first both ways and no policy can move them: a reply that meets one (a peer that chose
          // source port 179 or 53) is the failsafe's design, and a warning about it could not be acted on.
          if (d.reason === 'failsafe') return;
          const g = uncovered.get(d.key) ?? { decider: d, cells: [] };
          g.cells.push(box);
          uncovered.set(d.key, g);
        },
        { within: replies },
      );
      if (uncovered.size === 0) continue;
      const key = ruleKey(item.decider.rule);
      const known = this.gaps.get(key);
      if (known) known.count++;
      else {
        const first = [...uncovered.values()][0]!;
        this.gaps.set(key, { host, iface, family, region: mergeBoxes(first.cells), decider: first.decider, count: 1 });
      }
    }
  }
}

function ruleName(ref: RuleRef, relativeTo: string): string {
  return ref.policy === relativeTo ? `${ref.direction}[${ref.index}]` : `${ref.policy} ${ref.direction}[${ref.index}]`;
}

function deciderWords(d: Decider, relativeTo: string): string {
  if (d.rule)
    return `${ruleName(d.rule, relativeTo)} (${d.outcome === 'allow' ? 'Allow' : d.outcome === 'deny' ? 'Deny' : 'Pass'})`;
  if (d.failsafe)
    return `failsafe ${d.failsafe.direction} ${d.failsafe.protocol === 6 ? 'tcp' : 'udp'} ${d.failsafe.port}`;
  return d.reason === 'no-policy' ? 'no notrack policy' : 'no rule';
}

function fateWords(d: Decider, policy: string): string {
  if (d.reason === 'failsafe' && d.failsafe) return `are passed tracked by ${deciderWords(d, policy)}`;
  if (d.reason === 'rule') return `are passed to tracked processing by ${deciderWords(d, policy)}`;
  if (d.reason === 'no-policy') return 'meet no notrack policy, so they are tracked';
  return 'match no rule, so they are tracked';
}

/** How lintTraffic works (the findings are the same either way). */
export interface LintOptions {
  /**
   * Lower every rule again to find the rules that match no packet, even those a decision list already shows
   * matching one: the reference the faster path is tested against.
   */
  lowerEveryRule?: boolean;
}

/**
 * Every engine lint over valid resources. `docs` finds each policy's document; `earlier` are the resource-level
 * warnings (a rule one of them already says matches nothing is not reported again); `compiled` are hosts' states
 * already compiled from these resources.
 */
export function lintTraffic(
  resources: ResourceSet,
  docs: ReadonlyMap<string, SourceDocument>,
  earlier: readonly Diagnostic[] = [],
  compiled?: ReadonlyMap<string, DesiredState>,
  options: LintOptions = {},
): Diagnostic[] {
  const out: Diagnostic[] = [];
  const explained = new Set(
    earlier.flatMap((d) => {
      const rule = ruleExplainedEmpty(d);
      return rule ? [`${d.file}#${d.document ?? 0}#${rule}`] : [];
    }),
  );
  const where = (ref: RuleRef): Located | null => {
    const doc = docs.get(ref.policy);
    return doc ? { doc, path: ['spec', ref.direction, ref.index] } : null;
  };

  const lint = new InterfaceLint();
  const seen = new Set<string>();
  // Hosts the caller compiled already (plan compiles every host of the head) are not compiled again.
  const hosts = representativeHosts(resources);
  const missing = compileHosts(
    resources,
    hosts.filter((h) => !compiled?.has(h)),
  );
  for (const host of hosts) {
    const state = compiled?.get(host) ?? missing.get(host)!;
    for (const ifc of state.interfaces) {
      const key = JSON.stringify([
        ifc.ingress,
        ifc.counters,
        state.egress.interfaces.find((i) => i.name === ifc.name),
        state.failsafes,
      ]);
      if (seen.has(key)) continue;
      seen.add(key);
      lint.analyse(host, state, ifc.name);
    }
  }

  // Rules that match no packet at all, on any host.
  const empty = new Set<string>();
  const ctx: LoweringContext = {
    sets: new SetTable(),
    selectors: new CompiledSelectorAddresses(resources, compiled?.values() ?? []),
    namedPorts: new NamedPorts(resources.hostEndpoints),
  };
  for (const policy of orderPolicies(resources.policies)) {
    for (const dir of DIRECTIONS) {
      if (!policy.types.includes(dir)) continue;
      policy[dir].forEach((rule, index) => {
        const matches =
          !options.lowerEveryRule && lint.matching.has(ruleKey({ policy: policy.name, direction: dir, index }));
        const reason = matches ? null : emptyReason(ctx, policy, dir, index);
        if (reason === null) return;
        const ref = { policy: policy.name, direction: dir, index };
        empty.add(ruleKey(ref));
        const at = where(ref);
        if (!at || explained.has(`${at.doc.file}#${at.doc.index}#spec.${dir}[${index}]`)) return;
        out.push(
          diagnosticAt(
            at.doc,
            at.path,
            'warning',
            'empty-rule',
            `${dir}[${index}] (${rule.action}) matches no packet: ${reason}`,
          ),
        );
      });
    }
  }

  for (const [key, facts] of lint.rules) {
    if (facts.decides || !facts.appears || empty.has(key) || !facts.example) continue;
    const { host, iface, list, item, position } = facts.example;
    const ref = item.decider.rule!;
    const at = where(ref);
    if (!at) continue;
    const covers = new Map<string, Decider>();
    partition(
      { ...list, items: list.items.slice(0, position) },
      (_box, i) => {
        if (i !== null) covers.set(list.items[i]!.decider.key, list.items[i]!.decider);
      },
      item.boxes,
    );
    const names = [...covers.values()].map((d) => deciderWords(d, ref.policy));
    const together =
      names.length === 1
        ? `${names[0]} matches`
        : `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]} together match`;
    const isLog = item.logCounter !== undefined;
    out.push(
      diagnosticAt(
        at.doc,
        at.path,
        'warning',
        'shadowed-rule',
        `${ref.direction}[${ref.index}] ${isLog ? '(Log) never sees a packet' : 'can never decide a packet'} on ${host} ${iface}${
          list.family === 4 ? '' : ' (IPv6)'
        } or any other interface it applies to: ${together} everything it matches before it`,
      ),
    );
  }

  for (const [key, gap] of lint.gaps) {
    const [policy, direction, index] = key.split('/') as [string, Direction, string];
    const at = where({ policy, direction, index: Number(index) });
    if (!at) continue;
    const region = gap.region[0]!;
    const hints = ownAddressHints([resources], gap.host, gap.iface, gap.family, OTHER[direction]);
    const example = formatPacket(examplePacket(gap.family, region, hints));
    const more = gap.region.length > 1 ? ` (and ${gap.region.length - 1} more boxes)` : '';
    const others =
      gap.count > 1
        ? ` (and on ${gap.count - 1} more ${gap.count === 2 ? 'interface or address family' : 'interfaces or address families'})`
        : '';
    out.push(
      diagnosticAt(
        at.doc,
        at.path,
        'warning',
        'no-return-rule',
        `untracked Allow without a return path on ${gap.host} ${gap.iface}${others}: the replies to what it allows ` +
          `${fateWords(gap.decider, policy)} on ${OTHER[direction]}: ${describeBox(gap.family, region)}${more}, e.g. ${example}`,
      ),
    );
  }
  return out;
}

// What the egress chains of a state mean for one interface and family, read back from the iptables match tokens notrack
// installs: the entries (in the same shape as ingress classifier entries) that a packet leaving the interface meets.
//
// Reading the tokens rather than the policy keeps the reference evaluator and the traffic plan honest about the
// lowering: an ipset, a plain -d, a multiport list split over several rules all mean what iptables makes of them.
// The dispatch is raw OUTPUT's (src/dataplane/iptables/ruleset.ts): failsafe traffic returns first, then the
// interface's own endpoint decides, else the host's `*` endpoint; nothing of notrack's sees a packet of a family
// no egress rule uses.
import { NotrackError } from '../errors.js';
import { parseCidr, formatCidr, type IpFamily } from '../net/cidr.js';
import type { DesiredState, IngressEntry, PortRange, RuleRef, SideMatch } from './desired-state.js';
import { prefixSetId } from './sets.js';

/** The egress rules a packet leaving an interface meets, for one family. */
export interface EgressView {
  /** Whether notrack has egress chains for this family at all: failsafe RETURN rules exist only then. */
  active: boolean;
  /** The endpoint interface whose chain the packet is dispatched to (the same or `*`); null when none. */
  chain: string | null;
  /** Entries in evaluation order; `counter` indexes `counters`. */
  entries: IngressEntry[];
  /** One reference per policy rule, in evaluation order. */
  counters: RuleRef[];
}

/** A match token notrack's egress lowering does not produce: the state was not made by this notrack. */
class EgressTokenError extends NotrackError {
  constructor(rule: RuleRef, tokens: readonly string[], problem: string) {
    super(
      'invalid-state',
      `egress rule ${rule.policy} egress[${rule.index}] has match "${tokens.join(' ')}" that notrack cannot read: ${problem}`,
    );
  }
}

const PROTOCOL_NUMBERS: Record<string, number> = {
  icmp: 1,
  tcp: 6,
  udp: 17,
  'ipv6-icmp': 58,
  icmpv6: 58,
  sctp: 132,
  udplite: 136,
};

function emptySide(): SideMatch {
  return { inSets: [], notInSets: [], ports: [], notPorts: [] };
}

function portList(text: string): PortRange[] {
  return text.split(',').map((p) => {
    const [a, b] = p.split(':');
    const from = Number(a),
      to = b === undefined ? from : Number(b);
    return { from, to };
  });
}

function icmpValue(text: string): { type: number; code?: number } {
  const [t, c] = text.split('/');
  return c === undefined ? { type: Number(t) } : { type: Number(t), code: Number(c) };
}

/** Parses one egress rule's match tokens into an entry (counter and action filled in by the caller). */
export function parseEgressMatch(
  state: DesiredState,
  rule: RuleRef,
  family: IpFamily,
  tokens: readonly string[],
): Omit<IngressEntry, 'counter' | 'action'> {
  const ipsets = new Map(state.egress.ipsets.map((s) => [s.name, s.set]));
  const out: Omit<IngressEntry, 'counter' | 'action'> = {
    protocol: null,
    notProtocol: null,
    icmp: null,
    notICMP: null,
    source: emptySide(),
    destination: emptySide(),
  };
  const fail = (problem: string): never => {
    throw new EgressTokenError(rule, tokens, problem);
  };
  let needsPorts = false;
  let module = '';
  for (let i = 0; i < tokens.length; i++) {
    let t = tokens[i]!;
    let negate = false;
    if (t === '!') {
      negate = true;
      t = tokens[++i] ?? fail('"!" at the end');
    }
    const arg = (): string => tokens[++i] ?? fail(`${t} without a value`);
    switch (t) {
      case '-s':
      case '-d': {
        const c = parseCidr(arg());
        if (!c || c.family !== family) fail(`${tokens[i]} is not an IPv${family} CIDR`);
        const side = t === '-s' ? out.source : out.destination;
        (negate ? side.notInSets : side.inSets).push(prefixSetId(family, [formatCidr(c!)]));
        break;
      }
      case '-p': {
        const name = arg();
        const n = PROTOCOL_NUMBERS[name] ?? (/^\d+$/.test(name) ? Number(name) : fail(`unknown protocol ${name}`));
        if (negate) out.notProtocol = n;
        else out.protocol = n;
        break;
      }
      case '-m':
        module = arg();
        // The protocol's own match (even with no option) and multiport only see packets whose header has ports.
        if (['tcp', 'udp', 'sctp', 'multiport'].includes(module)) needsPorts = true;
        if (!['tcp', 'udp', 'sctp', 'multiport', 'set', 'icmp', 'icmp6'].includes(module))
          fail(`unknown match module ${module}`);
        break;
      case '--sport':
      case '--dport':
      case '--sports':
      case '--dports': {
        const side = t.startsWith('--s') ? out.source : out.destination;
        const ranges = portList(arg());
        if (negate) side.notPorts.push(...ranges);
        else side.ports.push(...ranges);
        break;
      }
      case '--match-set': {
        const id = ipsets.get(arg()) ?? fail(`unknown ipset ${tokens[i]}`);
        const dir = arg();
        const side = dir === 'src' ? out.source : dir === 'dst' ? out.destination : fail(`set direction ${dir}`);
        (negate ? side.notInSets : side.inSets).push(id);
        break;
      }
      case '--icmp-type':
      case '--icmpv6-type':
        if (negate) out.notICMP = icmpValue(arg());
        else out.icmp = icmpValue(arg());
        break;
      default:
        fail(`unknown token ${t}`);
    }
  }
  const sides = [out.source, out.destination];
  if (needsPorts && sides.every((s) => s.ports.length === 0 && s.notPorts.length === 0)) {
    out.source.ports.push({ from: 0, to: 65535 });
  }
  for (const s of sides) {
    // A side with only negated ports still needs a packet with ports, which the module already asks for.
    if (s.ports.length === 0 && s.notPorts.length > 0) s.ports.push({ from: 0, to: 65535 });
  }
  return out;
}

const viewCache = new WeakMap<DesiredState, Map<string, EgressView>>();

/** The egress rules a packet of `family` leaving interface `iface` of the state's host meets. */
export function egressView(state: DesiredState, iface: string, family: IpFamily): EgressView {
  let byKey = viewCache.get(state);
  if (!byKey) {
    byKey = new Map();
    viewCache.set(state, byKey);
  }
  const key = `${iface}\u0000${family}`;
  let view = byKey.get(key);
  if (!view) {
    view = buildView(state, iface, family);
    byKey.set(key, view);
  }
  return view;
}

function buildView(state: DesiredState, iface: string, family: IpFamily): EgressView {
  const rulesOf = (name: string) =>
    (state.egress.interfaces.find((i) => i.name === name)?.policies ?? []).flatMap((p) =>
      p.rules.filter((r) => r.family === family),
    );
  const active = state.egress.interfaces.some((i) => rulesOf(i.name).length > 0);
  const endpoint =
    state.egress.interfaces.find((i) => i.name === iface) ?? state.egress.interfaces.find((i) => i.name === '*');
  if (!active || !endpoint) return { active, chain: null, entries: [], counters: [] };
  const counters: RuleRef[] = [];
  const index = new Map<string, number>();
  const entries: IngressEntry[] = [];
  for (const r of rulesOf(endpoint.name)) {
    const k = `${r.rule.policy}\u0000${r.rule.index}`;
    let counter = index.get(k);
    if (counter === undefined) {
      counter = counters.push({ ...r.rule }) - 1;
      index.set(k, counter);
    }
    entries.push({ counter, action: r.action, ...parseEgressMatch(state, r.rule, family, r.match) });
  }
  return { active, chain: endpoint.name, entries, counters };
}

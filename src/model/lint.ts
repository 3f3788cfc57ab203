// Lint warnings the resources alone can tell: policies that select nothing, rule selectors that match nothing (with
// a did-you-mean over the labels in use), named ports whose protocol or addresses leave them matching nothing.
// Lints that need the compiled packet space (shadowed rules, rules that match no packet, missing return paths) are
// the traffic engine's (src/traffic/lint.ts).
import type { Diagnostic, PathSegment } from './diagnostics.js';
import type { SourceDocument } from './documents.js';
import { diagnosticAt } from './documents.js';
import type { EntityMatch, HostEndpoint, ResourceSet } from './resources.js';
import type { Selector, SelectorNode } from './selector/index.js';
import { closest } from './suggest.js';

/**
 * Which host endpoints each policy selects, as indexes of label groups: endpoints with the same labels form one
 * group, evaluated once. Fleets have many hosts but few distinct label sets, so this stays near linear.
 */
interface Selection {
  groups: { labels: Record<string, string>; endpoints: string[] }[];
  /** Per policy name: sorted indexes of the groups it selects. */
  byPolicy: Map<string, number[]>;
}

export function selectEndpoints(resources: Pick<ResourceSet, 'policies' | 'hostEndpoints'>): Selection {
  const index = new Map<string, number>();
  const groups: Selection['groups'] = [];
  for (const h of resources.hostEndpoints) {
    const key = JSON.stringify(Object.entries(h.labels).sort());
    let i = index.get(key);
    if (i === undefined) {
      i = groups.length;
      index.set(key, i);
      groups.push({ labels: h.labels, endpoints: [] });
    }
    groups[i]!.endpoints.push(h.name);
  }
  const byPolicy = new Map<string, number[]>();
  for (const p of resources.policies) {
    byPolicy.set(
      p.name,
      groups.flatMap((g, i) => (p.selector.matches(g.labels) ? [i] : [])),
    );
  }
  return { groups, byPolicy };
}

const PROTOCOL_NAMES: Record<number, string> = { 6: 'TCP', 17: 'UDP', 132: 'SCTP', 136: 'UDPLite' };

/** The labels that sets and endpoints carry: keys, and the values each key takes. */
class KnownLabels {
  readonly values = new Map<string, Set<string>>();
  readonly groups: Record<string, string>[] = [];

  constructor(resources: Pick<ResourceSet, 'networkSets' | 'hostEndpoints'>) {
    const seen = new Set<string>();
    for (const labels of [
      ...resources.networkSets.map((s) => s.labels),
      ...resources.hostEndpoints.map((h) => h.labels),
    ]) {
      for (const [k, v] of Object.entries(labels)) {
        const vs = this.values.get(k) ?? new Set<string>();
        vs.add(v);
        this.values.set(k, vs);
      }
      const key = JSON.stringify(Object.entries(labels).sort());
      if (!seen.has(key)) {
        seen.add(key);
        this.groups.push(labels);
      }
    }
  }

  matchesAny(selector: Selector): boolean {
    return this.groups.some((labels) => selector.matches(labels));
  }

  /** Likely typos in a selector: a label no set or endpoint has, a value its label never takes. */
  hints(node: SelectorNode): string[] {
    switch (node.kind) {
      case 'not':
        return this.hints(node.operand);
      case 'and':
      case 'or':
        return node.operands.flatMap((n) => this.hints(n));
      case 'all':
      case 'global':
        return [];
      default: {
        const known = this.values.get(node.label);
        if (!known) {
          const key = closest(node.label, this.values.keys());
          return [`no set or endpoint has a label "${node.label}"${key ? `; did you mean "${key}"?` : ''}`];
        }
        const written = node.kind === 'in' || node.kind === 'notIn' ? node.values : 'value' in node ? [node.value] : [];
        if (node.kind !== 'eq' && node.kind !== 'in') return [];
        return written
          .filter((v) => !known.has(v))
          .map((v) => {
            const value = closest(v, known);
            return `no set or endpoint has ${node.label} == "${v}"${value ? `; did you mean "${value}"?` : ''}`;
          });
      }
    }
  }
}

/** Warnings for one side of a rule: selectors that match nothing, named ports that cannot match. */
function sideLint(
  doc: SourceDocument,
  path: PathSegment[],
  side: EntityMatch,
  protocol: number | null,
  labels: KnownLabels,
  endpoints: readonly HostEndpoint[],
): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const field of ['selector', 'notSelector'] as const) {
    const selector = side[field];
    if (!selector || labels.matchesAny(selector)) continue;
    const effect =
      field === 'selector'
        ? 'so this rule matches no packet'
        : 'so it excludes nothing and the rule matches as if it were not there';
    const hints = labels.hints(selector.ast);
    out.push(
      diagnosticAt(
        doc,
        [...path, field],
        'warning',
        'selector-matches-nothing',
        `${field} "${selector.source}" matches no GlobalNetworkSet and no HostEndpoint, ${effect}${hints.length ? `: ${hints.join('; ')}` : ''}`,
      ),
    );
  }
  for (const field of ['ports', 'notPorts'] as const) {
    side[field].forEach((p, i) => {
      if (p.kind !== 'named') return;
      // As Calico builds the IP-port set: the endpoints the side's selector picks that define the name.
      const defining = endpoints.filter(
        (h) => h.ports.some((d) => d.name === p.name) && (!side.selector || side.selector.matches(h.labels)),
      );
      const protocols = new Set(
        defining.flatMap((h) => h.ports.filter((d) => d.name === p.name).map((d) => d.protocol)),
      );
      const at = [...path, field, i];
      const effect = field === 'ports' ? 'it never matches here' : 'excluding it excludes nothing here';
      if (protocol !== null && protocols.size > 0 && !protocols.has(protocol)) {
        const names = [...protocols].map((x) => PROTOCOL_NAMES[x] ?? String(x)).join(' and ');
        out.push(
          diagnosticAt(
            doc,
            at,
            'warning',
            'named-port-protocol',
            `port "${p.name}" is ${names} on every endpoint that defines it, but this rule is ${PROTOCOL_NAMES[protocol] ?? protocol}: ${effect}`,
          ),
        );
      } else if (defining.length > 0 && defining.every((h) => h.expectedIPs.length === 0)) {
        out.push(
          diagnosticAt(
            doc,
            at,
            'warning',
            'named-port-no-address',
            `port "${p.name}" is defined only on endpoints without expectedIPs (${defining.map((h) => h.name).join(', ')}); ` +
              `a named port matches at its endpoints' addresses, so ${effect}`,
          ),
        );
      }
    });
  }
  return out;
}

/** Runs every resource-level lint over valid resources; `docs` finds each policy's document for positions. */
export function lintResources(resources: ResourceSet, docs: ReadonlyMap<string, SourceDocument>): Diagnostic[] {
  const out: Diagnostic[] = [];
  const selected = selectEndpoints(resources).byPolicy;
  const labels = new KnownLabels(resources);
  for (const policy of resources.policies) {
    const doc = docs.get(policy.name);
    if (!doc) continue;
    if (selected.get(policy.name)!.length === 0) {
      out.push(
        diagnosticAt(
          doc,
          ['spec', 'selector'],
          'warning',
          'selects-nothing',
          `policy "${policy.name}" selects no host endpoint, so it has no effect`,
        ),
      );
    }
    for (const dir of ['ingress', 'egress'] as const) {
      if (!policy.types.includes(dir)) continue;
      policy[dir].forEach((rule, j) => {
        for (const side of ['source', 'destination'] as const) {
          out.push(
            ...sideLint(doc, ['spec', dir, j, side], rule[side], rule.protocol, labels, resources.hostEndpoints),
          );
        }
      });
    }
  }
  return out;
}

/**
 * The rule (`spec.ingress[0]`) a resource-level warning says matches nothing (a selector that matches nothing, a named
 * port that cannot match), or null: the traffic engine need not say it again.
 */
export function ruleExplainedEmpty(d: Diagnostic): string | null {
  const explains =
    (d.code === 'selector-matches-nothing' && !d.path.includes('notSelector')) ||
    ((d.code === 'named-port-protocol' || d.code === 'named-port-no-address') && !d.path.includes('notPorts'));
  return explains ? (d.path.match(/^spec\.(ingress|egress)\[\d+\]/)?.[0] ?? null) : null;
}

// Lint warnings over the whole resource set: policies that select nothing, shadowed rules, missing return rules.
import { cidrContains, cidrOverlaps, formatCidr, type Cidr } from '../net/cidr.js';
import type { Diagnostic } from './diagnostics.js';
import type { SourceDocument } from './documents.js';
import { diagnosticAt } from './documents.js';
import { formatPort, type PortSpec } from './ports.js';
import type { Direction, EntityMatch, IcmpMatch, Policy, PolicyRule, ResourceSet } from './resources.js';

function portWithin(inner: PortSpec, outer: readonly PortSpec[]): boolean {
  return outer.some((o) =>
    o.kind === 'named' || inner.kind === 'named'
      ? o.kind === inner.kind && formatPort(o) === formatPort(inner)
      : o.from <= inner.from && inner.to <= o.to,
  );
}

function sameText<T>(a: readonly T[], b: readonly T[], key: (x: T) => string): boolean {
  const bs = new Set(b.map(key));
  return a.every((x) => bs.has(key(x)));
}

function icmpEqual(a: IcmpMatch | null, b: IcmpMatch | null): boolean {
  return a?.type === b?.type && a?.code === b?.code;
}

/** True when every packet `b` matches on this side is also matched by `a` (conservative: false when unsure). */
function entityCovers(a: EntityMatch, b: EntityMatch): boolean {
  if (a.nets.length && !(b.nets.length && b.nets.every((n) => a.nets.some((o) => cidrContains(o, n))))) return false;
  if (
    a.notNets.length &&
    !sameText(a.notNets, b.notNets, formatCidr) &&
    !(b.nets.length && a.notNets.every((x) => b.nets.every((n) => !cidrOverlaps(x, n))))
  )
    return false;
  if (a.selector && String(a.selector) !== String(b.selector ?? '')) return false;
  if (a.notSelector && String(a.notSelector) !== String(b.notSelector ?? '')) return false;
  if (a.ports.length && !(b.ports.length && b.ports.every((p) => portWithin(p, a.ports)))) return false;
  if (a.notPorts.length && !sameText(a.notPorts, b.notPorts, formatPort)) return false;
  return true;
}

/** True when rule `a` matches every packet rule `b` matches. */
function ruleCovers(a: PolicyRule, b: PolicyRule): boolean {
  if (a.ipVersion !== null && a.ipVersion !== b.ipVersion) return false;
  if (a.protocol !== null && a.protocol !== b.protocol) return false;
  if (
    a.notProtocol !== null &&
    a.notProtocol !== b.notProtocol &&
    (b.protocol === null || b.protocol === a.notProtocol)
  )
    return false;
  if (a.icmp && !(b.icmp && a.icmp.type === b.icmp.type && (a.icmp.code === undefined || a.icmp.code === b.icmp.code)))
    return false;
  if (a.notICMP && !icmpEqual(a.notICMP, b.notICMP)) return false;
  return entityCovers(a.source, b.source) && entityCovers(a.destination, b.destination);
}

function netsMeet(a: readonly Cidr[], b: readonly Cidr[]): boolean {
  return a.length === 0 || b.length === 0 || a.some((x) => b.some((y) => cidrOverlaps(x, y)));
}

function portsMeet(a: readonly PortSpec[], b: readonly PortSpec[]): boolean {
  if (a.length === 0 || b.length === 0) return true;
  return a.some((x) =>
    b.some((y) =>
      x.kind === 'named' || y.kind === 'named'
        ? formatPort(x) === formatPort(y) || x.kind !== y.kind
        : x.from <= y.to && y.from <= x.to,
    ),
  );
}

/** Could `reply` (a rule of the other direction) allow the return packets of what `rule` allows? */
function allowsReturn(rule: PolicyRule, reply: PolicyRule): boolean {
  if (reply.action !== 'Allow') return false;
  if (reply.protocol !== null && rule.protocol !== null && reply.protocol !== rule.protocol) return false;
  if (reply.ipVersion !== null && rule.ipVersion !== null && reply.ipVersion !== rule.ipVersion) return false;
  // A reply swaps the two sides: its source is the original destination and vice versa.
  return (
    netsMeet(reply.destination.nets, rule.source.nets) &&
    netsMeet(reply.source.nets, rule.destination.nets) &&
    portsMeet(reply.source.ports, rule.destination.ports) &&
    portsMeet(reply.destination.ports, rule.source.ports)
  );
}

function describeReturn(rule: PolicyRule, dir: Direction): string {
  const other = dir === 'ingress' ? 'egress' : 'ingress';
  const bits: string[] = [];
  if (rule.destination.ports.length) bits.push(`source ports ${rule.destination.ports.map(formatPort).join(', ')}`);
  if (rule.source.nets.length)
    bits.push(
      `destination ${rule.source.nets.slice(0, 3).map(formatCidr).join(', ')}${rule.source.nets.length > 3 ? ' …' : ''}`,
    );
  return `an ${other} Allow${bits.length ? ` with ${bits.join(' and ')}` : ''}`;
}

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

function intersects(a: readonly number[], b: readonly number[]): boolean {
  let i = 0,
    j = 0;
  while (i < a.length && j < b.length) {
    if (a[i] === b[j]) return true;
    if (a[i]! < b[j]!) i++;
    else j++;
  }
  return false;
}

/** Runs every lint over valid resources; `docs` finds each policy's document for positions. */
export function lintResources(resources: ResourceSet, docs: ReadonlyMap<string, SourceDocument>): Diagnostic[] {
  const out: Diagnostic[] = [];
  const selected = selectEndpoints(resources).byPolicy;
  // Policies that share an endpoint with each policy, computed once per distinct selection.
  const sharing = new Map<string, Policy[]>();
  const sharingFor = (policy: Policy): Policy[] => {
    const mine = selected.get(policy.name)!;
    const key = mine.join(',');
    let list = sharing.get(key);
    if (!list) {
      list = resources.policies.filter((p) => intersects(mine, selected.get(p.name)!));
      sharing.set(key, list);
    }
    return list;
  };
  for (const policy of resources.policies) {
    const doc = docs.get(policy.name);
    if (!doc) continue;
    const mine = selected.get(policy.name)!;
    if (mine.length === 0) {
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
      const rules = policy[dir];
      const other: Direction = dir === 'ingress' ? 'egress' : 'ingress';
      rules.forEach((rule, j) => {
        const shadow = rules.slice(0, j).find((a) => a.action !== 'Log' && ruleCovers(a, rule));
        if (shadow) {
          out.push(
            diagnosticAt(
              doc,
              ['spec', dir, j],
              'warning',
              'shadowed-rule',
              `${dir}[${j}] can never decide a packet: ${dir}[${shadow.index}] (${shadow.action}) matches everything it matches`,
            ),
          );
        }
        if (rule.action !== 'Allow' || mine.length === 0) return;
        // The return rule usually sits in the same policy: look there first.
        const candidates = [policy, ...sharingFor(policy)];
        const hasReturn = candidates.some(
          (p) => p.types.includes(other) && p[other].some((r) => allowsReturn(rule, r)),
        );
        if (!hasReturn) {
          out.push(
            diagnosticAt(
              doc,
              ['spec', dir, j],
              'warning',
              'no-return-rule',
              `untracked Allow without a rule for its return traffic: stateless policy does not allow replies by itself; add ${describeReturn(rule, dir)}`,
            ),
          );
        }
      });
    }
  }
  return out;
}

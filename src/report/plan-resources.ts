// The resource part of a plan, as Terraform shows attribute diffs: which policies, sets, endpoints and settings a
// change adds, removes or edits, and each edited field before and after (`order: 200 -> 150`). Lists of addresses
// show the entries added and removed. Where a resource is written (its file) is not an attribute: moving or
// splitting files changes nothing here.
import { formatCidr, type Cidr, type NetList } from '../net/cidr.js';
import { formatPort } from '../model/ports.js';
import type {
  ConfigurationOverride,
  EntityMatch,
  HostEndpoint,
  NetworkSet,
  Policy,
  PolicyRule,
  ResourceSet,
} from '../model/resources.js';
import { naturalCompare } from './natural-sort.js';

export interface AttributeChange {
  /** `order`, `ingress[0].source.nets`, `labels.role` … */
  field: string;
  before: string | null;
  after: string | null;
  /** For lists of addresses: the entries added and removed (before and after then give the counts). */
  added?: string[];
  removed?: string[];
}

export interface ResourceChange {
  kind: string;
  name: string;
  action: 'add' | 'remove' | 'update';
  /** Where the head revision writes it (the base's for a removed resource). */
  file: string;
  changes: AttributeChange[];
}

const PROTOCOL_NAMES: Record<number, string> = {
  1: 'ICMP',
  6: 'TCP',
  17: 'UDP',
  58: 'ICMPv6',
  132: 'SCTP',
  136: 'UDPLite',
};

const list = (xs: readonly string[]): string => `[${xs.join(', ')}]`;
const protocol = (p: number | null): string | null => (p === null ? null : (PROTOCOL_NAMES[p] ?? String(p)));
const icmp = (m: PolicyRule['icmp']): string | null =>
  m
    ? `{${[m.type !== undefined ? `type: ${m.type}` : '', m.code !== undefined ? `code: ${m.code}` : ''].filter(Boolean).join(', ')}}`
    : null;

function entityFields(prefix: string, e: EntityMatch): [string, string | null][] {
  const some = (xs: string[]): string | null => (xs.length ? list(xs) : null);
  return [
    [`${prefix}.nets`, some(e.nets.map(formatCidr))],
    [`${prefix}.notNets`, some(e.notNets.map(formatCidr))],
    [`${prefix}.selector`, e.selector ? e.selector.source : null],
    [`${prefix}.notSelector`, e.notSelector ? e.notSelector.source : null],
    [`${prefix}.ports`, some(e.ports.map(formatPort))],
    [`${prefix}.notPorts`, some(e.notPorts.map(formatPort))],
  ];
}

/** A rule's fields as written, the ones set only. */
function ruleFields(r: PolicyRule): [string, string | null][] {
  return [
    ['action', r.action],
    ['ipVersion', r.ipVersion === null ? null : String(r.ipVersion)],
    ['protocol', protocol(r.protocol)],
    ['notProtocol', protocol(r.notProtocol)],
    ['icmp', icmp(r.icmp)],
    ['notICMP', icmp(r.notICMP)],
    ...entityFields('source', r.source),
    ...entityFields('destination', r.destination),
  ];
}

/** A rule in one line, as YAML would write it in flow style. */
export function ruleText(r: PolicyRule): string {
  return `{${ruleFields(r)
    .filter(([, v]) => v !== null)
    .map(([k, v]) => `${k}: ${v}`)
    .join(', ')}}`;
}

function fieldChanges(before: [string, string | null][], after: [string, string | null][]): AttributeChange[] {
  const b = new Map(before),
    a = new Map(after);
  const out: AttributeChange[] = [];
  for (const field of new Set([...b.keys(), ...a.keys()])) {
    const x = b.get(field) ?? null,
      y = a.get(field) ?? null;
    if (x !== y) out.push({ field, before: x, after: y });
  }
  return out;
}

function listChange(field: string, before: readonly string[], after: readonly string[]): AttributeChange[] {
  const b = new Set(before),
    a = new Set(after);
  const added = after.filter((x) => !b.has(x)),
    removed = before.filter((x) => !a.has(x));
  if (!added.length && !removed.length) return [];
  return [{ field, before: `${before.length}`, after: `${after.length}`, added, removed }];
}

function labelChanges(before: Record<string, string>, after: Record<string, string>): AttributeChange[] {
  return fieldChanges(
    Object.entries(before).map(([k, v]) => [`labels.${k}`, v]),
    Object.entries(after).map(([k, v]) => [`labels.${k}`, v]),
  );
}

function policyChanges(b: Policy, h: Policy): AttributeChange[] {
  const out = fieldChanges(
    [
      ['order', b.order === null ? null : String(b.order)],
      ['selector', b.selector.toString() === h.selector.toString() ? h.selector.source : b.selector.source],
      ['types', list(b.types)],
    ],
    [
      ['order', h.order === null ? null : String(h.order)],
      ['selector', h.selector.source],
      ['types', list(h.types)],
    ],
  );
  for (const dir of ['ingress', 'egress'] as const) {
    for (let i = 0; i < Math.max(b[dir].length, h[dir].length); i++) {
      const x = b[dir][i],
        y = h[dir][i];
      const at = `${dir}[${i}]`;
      if (!x || !y) out.push({ field: at, before: x ? ruleText(x) : null, after: y ? ruleText(y) : null });
      else out.push(...fieldChanges(ruleFields(x), ruleFields(y)).map((c) => ({ ...c, field: `${at}.${c.field}` })));
    }
  }
  return out;
}

/** A net as a value a Set compares cheaply: IPv4 as one number, IPv6 as its text. */
const netKey = (c: Cidr): number | string =>
  c.family === 4
    ? (c.addr[0]! * 16777216 + c.addr[1]! * 65536 + c.addr[2]! * 256 + c.addr[3]!) * 64 + c.prefix
    : formatCidr(c);

/** listChange over nets, formatting only the nets that changed: a set file holds 150,000 of them. */
function netsChange(before: readonly Cidr[], after: readonly Cidr[]): AttributeChange[] {
  // Most sets of a change are untouched: the same nets in the same order need no sets of keys.
  if (before.length === after.length && before.every((x, i) => netKey(x) === netKey(after[i]!))) return [];
  const b = new Set(before.map(netKey)),
    a = new Set(after.map(netKey));
  const added = after.filter((x) => !b.has(netKey(x))).map(formatCidr),
    removed = before.filter((x) => !a.has(netKey(x))).map(formatCidr);
  if (!added.length && !removed.length) return [];
  return [{ field: 'nets', before: `${before.length}`, after: `${after.length}`, added, removed }];
}

/** A scanned list's IPv4 nets as the numbers netKey gives, in list order (NaN for IPv6 nets). */
function v4Keys(list: NetList): Float64Array {
  const out = new Float64Array(list.length);
  for (let i = 0; i < list.length; i++) out[i] = list.family(i) === 4 ? list.v4Word(i) * 64 + list.prefix(i) : NaN;
  return out;
}

/** The keys of `a` that `b` lacks (IPv4 only), by sorting copies of both: no Set of 150,000 numbers. */
function v4Missing(a: Float64Array, b: Float64Array): Set<number> {
  const x = a.slice().sort(),
    y = b.slice().sort();
  const out = new Set<number>();
  let j = 0;
  for (let i = 0; i < x.length; i++) {
    const k = x[i]!;
    if (Number.isNaN(k)) break; // NaN sorts last: the IPv6 nets
    while (j < y.length && y[j]! < k) j++;
    if (j >= y.length || y[j] !== k) out.add(k);
  }
  return out;
}

/** netsChange over two scanned lists, from their packed form: only the changed nets are made Cidrs and text. */
function packedNetsChange(before: NetList, after: NetList): AttributeChange[] {
  const [bk, ak] = [v4Keys(before), v4Keys(after)];
  const v6 = (list: NetList): string[] => {
    const out: string[] = [];
    for (let i = 0; i < list.length; i++) if (list.family(i) === 6) out.push(formatCidr(list.at(i)));
    return out;
  };
  const [b6, a6] = [v6(before), v6(after)];
  // Most sets of a change are untouched: the same nets in the same order.
  const sameKey = (x: number, y: number) => x === y || (Number.isNaN(x) && Number.isNaN(y));
  if (bk.length === ak.length && bk.every((k, i) => sameKey(k, ak[i]!)) && b6.every((t, i) => t === a6[i])) return [];
  const [onlyAfter, onlyBefore] = [v4Missing(ak, bk), v4Missing(bk, ak)];
  const [b6s, a6s] = [new Set(b6), new Set(a6)];
  const changed = (list: NetList, keys: Float64Array, only: Set<number>, other6: Set<string>): string[] => {
    const out: string[] = [];
    for (let i = 0; i < list.length; i++) {
      if (!Number.isNaN(keys[i]!)) {
        if (only.has(keys[i]!)) out.push(formatCidr(list.at(i)));
      } else {
        const text = formatCidr(list.at(i));
        if (!other6.has(text)) out.push(text);
      }
    }
    return out;
  };
  const added = changed(after, ak, onlyAfter, b6s),
    removed = changed(before, bk, onlyBefore, a6s);
  if (!added.length && !removed.length) return [];
  return [{ field: 'nets', before: `${before.length}`, after: `${after.length}`, added, removed }];
}

function setChanges(b: NetworkSet, h: NetworkSet): AttributeChange[] {
  const nets = b.packedNets && h.packedNets ? packedNetsChange(b.packedNets, h.packedNets) : netsChange(b.nets, h.nets);
  return [...labelChanges(b.labels, h.labels), ...nets];
}

function endpointChanges(b: HostEndpoint, h: HostEndpoint): AttributeChange[] {
  const ports = (e: HostEndpoint) => e.ports.map((p) => `${p.name} ${protocol(p.protocol)} ${p.port}`);
  return [
    ...fieldChanges(
      [
        ['node', b.node],
        ['interfaceName', b.interfaceName],
      ],
      [
        ['node', h.node],
        ['interfaceName', h.interfaceName],
      ],
    ),
    ...labelChanges(b.labels, h.labels),
    ...listChange('expectedIPs', b.expectedIPs.map(formatCidr), h.expectedIPs.map(formatCidr)),
    ...listChange('ports', ports(b), ports(h)),
  ];
}

function configChanges(b: ConfigurationOverride, h: ConfigurationOverride): AttributeChange[] {
  const fields = (c: ConfigurationOverride): [string, string | null][] =>
    Object.entries(c.settings).map(([k, v]) => [k, JSON.stringify(v)]);
  return fieldChanges(fields(b), fields(h));
}

function diffKind<T extends { name: string; source: { file: string } }>(
  kind: string,
  base: readonly T[],
  head: readonly T[],
  changes: (b: T, h: T) => AttributeChange[],
): ResourceChange[] {
  const b = new Map(base.map((x) => [x.name, x])),
    h = new Map(head.map((x) => [x.name, x]));
  const out: ResourceChange[] = [];
  for (const name of [...new Set([...b.keys(), ...h.keys()])].sort(naturalCompare)) {
    const x = b.get(name),
      y = h.get(name);
    if (!x) out.push({ kind, name, action: 'add', file: y!.source.file, changes: [] });
    else if (!y) out.push({ kind, name, action: 'remove', file: x.source.file, changes: [] });
    // One object in both revisions (a set from a file both hold, see plan-share.ts): nothing to compare, and a
    // scanned list's million nets are never made.
    else if (x !== y) {
      const c = changes(x, y);
      if (c.length) out.push({ kind, name, action: 'update', file: y.source.file, changes: c });
    }
  }
  return out;
}

/** What a change does to the resources, kind by kind; a null base is an empty repository. */
export function planResources(base: ResourceSet | null, head: ResourceSet): ResourceChange[] {
  const empty: ResourceSet = {
    policies: [],
    ignoredPolicies: [],
    hostEndpoints: [],
    networkSets: [],
    configurations: [],
  };
  const b = base ?? empty;
  return [
    ...diffKind('GlobalNetworkPolicy', b.policies, head.policies, policyChanges),
    ...diffKind('GlobalNetworkSet', b.networkSets, head.networkSets, setChanges),
    ...diffKind('HostEndpoint', b.hostEndpoints, head.hostEndpoints, endpointChanges),
    ...diffKind('NotrackConfiguration', b.configurations, head.configurations, configChanges),
  ];
}

// Random policy repositories and pull requests against them, for the traffic plan's differential test: hosts with
// named ports, GlobalNetworkSets, doNotTrack policies with every kind of rule field, and a head revision that moves
// orders, edits sets, swaps, adds and removes rules, changes failsafes, or only reshuffles the files.
import type { PolicyFile } from '../../src/model/documents.js';
import { documentsFile } from './policy-files.js';
import type { Rng } from './seeded-random.js';

const int = (r: Rng, lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));
const pick = <T>(r: Rng, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
const chance = (r: Rng, p: number): boolean => r() < p;

type Doc = Record<string, unknown> & { kind: string; metadata: { name: string; labels?: object } };

const V4_NETS = [
  '10.0.0.0/8',
  '10.0.0.0/24',
  '10.0.0.10/32',
  '10.0.1.0/24',
  '10.0.2.0/23',
  '10.0.2.10/32',
  '192.168.0.0/16',
  '192.168.7.0/24',
  '198.18.0.0/15',
  '198.18.4.0/22',
  '203.0.113.0/25',
  '203.0.113.128/25',
];
const V6_NETS = ['fd00::/16', 'fd00::/64', 'fd00::10/128', 'fd00:0:0:2::/64', '2001:db8::/32', '2001:db8:1::/48'];
const PORTS: (number | string)[] = [22, 53, 80, 443, 5432, 8080, 9000, '1000:2000', '0:1023', '5000:65535', '53:80'];
const NAMED = ['http', 'dns', 'pg', 'alt'];
const PROTOCOLS: (string | number)[] = ['TCP', 'TCP', 'UDP', 'UDP', 'ICMP', 'ICMPv6', 'SCTP', 'UDPLite', 47];
const SELECTORS = ["role == 'web'", "role == 'db'", "zone == 'pub'", 'has(zone)', "role in {'web', 'db'}", 'all()'];
const RULE_SELECTORS = ["list == 'l0'", "list == 'l1'", "list in {'l1', 'l2'}", "role == 'db'", "role == 'web'"];

function endpoints(r: Rng): Doc[] {
  const hep = (name: string, node: string, iface: string, labels: object, ips: string[], ports: object[]): Doc => ({
    apiVersion: 'projectcalico.org/v3',
    kind: 'HostEndpoint',
    metadata: { name, labels },
    spec: { node, interfaceName: iface, ...(ips.length ? { expectedIPs: ips } : {}), ports },
  });
  const out = [
    hep(
      'h1-eth0',
      'h1',
      'eth0',
      { role: 'web', zone: 'pub' },
      ['10.0.0.10', 'fd00::10'],
      [
        { name: 'http', protocol: 'TCP', port: 80 },
        { name: 'dns', protocol: 'UDP', port: 53 },
        { name: 'alt', protocol: 'SCTP', port: 9000 },
      ],
    ),
    hep(
      'h1-eth1',
      'h1',
      'eth1',
      { role: 'web', zone: 'int' },
      ['10.0.1.10'],
      [{ name: 'http', protocol: 'TCP', port: 8080 }],
    ),
    hep(
      'h2-eth0',
      'h2',
      'eth0',
      { role: 'db' },
      ['10.0.2.10', 'fd00:0:0:2::10'],
      [
        { name: 'pg', protocol: 'TCP', port: 5432 },
        { name: 'dns', protocol: 'UDP', port: 5353 },
      ],
    ),
  ];
  if (chance(r, 0.5)) out.push(hep('h2-any', 'h2', '*', { role: 'db', zone: 'int' }, [], []));
  return out;
}

function randomNets(r: Rng, n: number): string[] {
  return [...new Set(Array.from({ length: n }, () => (chance(r, 0.6) ? pick(r, V4_NETS) : pick(r, V6_NETS))))];
}

function sets(r: Rng): Doc[] {
  return Array.from({ length: 3 }, (_, i) => ({
    apiVersion: 'projectcalico.org/v3',
    kind: 'GlobalNetworkSet',
    metadata: { name: `set-${i}`, labels: { list: `l${i}` } },
    spec: { nets: randomNets(r, int(r, 1, 5)) },
  }));
}

function randomPorts(r: Rng, numeric: boolean, named: boolean): (number | string)[] {
  const out: (number | string)[] = [];
  for (let i = int(r, 1, 3); i > 0; i--) {
    if (named && (!numeric || chance(r, 0.3))) out.push(pick(r, NAMED));
    else if (numeric) out.push(pick(r, PORTS));
  }
  return [...new Set(out)];
}

function randomRule(r: Rng): Record<string, unknown> {
  const rule: Record<string, unknown> = { action: pick(r, ['Allow', 'Allow', 'Deny', 'Deny', 'Pass', 'Log', 'Log']) };
  const protocol = chance(r, 0.3) ? null : pick(r, PROTOCOLS);
  if (protocol !== null) rule['protocol'] = protocol;
  let family: 4 | 6 | null = protocol === 'ICMP' ? 4 : protocol === 'ICMPv6' ? 6 : null;
  if (chance(r, 0.15)) {
    const not = pick(
      r,
      PROTOCOLS.filter((p) => p !== protocol),
    );
    rule['notProtocol'] = not;
  }
  if (chance(r, 0.2)) {
    family ??= pick(r, [4, 6] as const);
    rule['ipVersion'] = family;
  }
  if (protocol === 'ICMP' || protocol === 'ICMPv6') {
    const icmp = (): object => {
      const type = pick(r, [0, 3, 8, 11, 128, 129]);
      return chance(r, 0.5) ? { type, code: int(r, 0, 2) } : { type };
    };
    if (chance(r, 0.5)) rule['icmp'] = icmp();
    if (chance(r, 0.25)) rule['notICMP'] = icmp();
  }
  const numeric = protocol === 'TCP' || protocol === 'UDP' || protocol === 'SCTP';
  for (const side of ['source', 'destination']) {
    const e: Record<string, unknown> = {};
    const netsOf = (): string[] => {
      family ??= pick(r, [4, 6] as const);
      const pool = family === 4 ? V4_NETS : V6_NETS;
      return [...new Set(Array.from({ length: int(r, 1, 2) }, () => pick(r, pool)))];
    };
    if (chance(r, 0.25)) e['nets'] = netsOf();
    if (chance(r, 0.1)) e['notNets'] = netsOf().filter((n) => !n.endsWith('/0'));
    if (chance(r, 0.25)) e['selector'] = pick(r, RULE_SELECTORS);
    if (chance(r, 0.1)) e['notSelector'] = pick(r, RULE_SELECTORS);
    if (chance(r, 0.4)) e['ports'] = randomPorts(r, numeric, chance(r, 0.4));
    if (chance(r, 0.12)) e['notPorts'] = randomPorts(r, numeric, chance(r, 0.4));
    for (const k of ['ports', 'notPorts']) if ((e[k] as unknown[] | undefined)?.length === 0) delete e[k];
    if (Object.keys(e).length) rule[side] = e;
  }
  return rule;
}

function randomPolicy(r: Rng, i: number): Doc {
  const types = pick(r, [['Ingress'], ['Egress'], ['Ingress', 'Egress'], ['Ingress', 'Egress']]);
  const spec: Record<string, unknown> = {
    selector: pick(r, SELECTORS),
    doNotTrack: true,
    applyOnForward: true,
    types,
  };
  if (chance(r, 0.8)) spec['order'] = int(r, 1, 30);
  for (const t of types) {
    const dir = t === 'Ingress' ? 'ingress' : 'egress';
    spec[dir] = Array.from({ length: int(r, 1, 4) }, () => randomRule(r));
  }
  return { apiVersion: 'projectcalico.org/v3', kind: 'GlobalNetworkPolicy', metadata: { name: `p${i}` }, spec };
}

function config(r: Rng): Doc {
  const inbound = [
    { protocol: 'TCP', port: 22, ...(chance(r, 0.5) ? { net: pick(r, ['10.0.0.0/24', 'fd00::/64']) } : {}) },
    { protocol: 'UDP', port: 68 },
    { protocol: 'TCP', port: 179 },
  ];
  const outbound = [
    { protocol: 'UDP', port: 53 },
    { protocol: 'TCP', port: 179 },
  ];
  return {
    apiVersion: 'notrack.dev/v1alpha1',
    kind: 'NotrackConfiguration',
    metadata: { name: 'default' },
    spec: { failsafeInboundHostPorts: inbound, failsafeOutboundHostPorts: outbound },
  };
}

const clone = <T>(x: T): T => JSON.parse(JSON.stringify(x)) as T;

function rulesOf(p: Doc): [string, Record<string, unknown>[]][] {
  const spec = p['spec'] as Record<string, unknown>;
  return (['ingress', 'egress'] as const).filter((d) => Array.isArray(spec[d])).map((d) => [d, spec[d] as never]);
}

/** One change a pull request makes; returns what it did, in words. */
function mutate(r: Rng, docs: Doc[]): string {
  const policies = docs.filter((d) => d.kind === 'GlobalNetworkPolicy');
  const p = pick(r, policies);
  const spec = p['spec'] as Record<string, unknown>;
  const [dir, rules] = pick(r, rulesOf(p));
  switch (int(r, 0, 8)) {
    case 0: {
      const order = chance(r, 0.2) ? undefined : int(r, 0, 31);
      if (order === undefined) delete spec['order'];
      else spec['order'] = order;
      return `order of ${p.metadata.name} -> ${order ?? 'none'}`;
    }
    case 1: {
      if (rules.length < 2) return 'nothing';
      const i = int(r, 0, rules.length - 2);
      [rules[i], rules[i + 1]] = [rules[i + 1]!, rules[i]!];
      return `swap ${p.metadata.name} ${dir}[${i}] and [${i + 1}]`;
    }
    case 2: {
      const set = pick(
        r,
        docs.filter((d) => d.kind === 'GlobalNetworkSet'),
      );
      const nets = (set['spec'] as { nets: string[] }).nets;
      if (chance(r, 0.5) && nets.length > 1) nets.splice(int(r, 0, nets.length - 1), 1);
      else nets.push(...randomNets(r, 1).filter((n) => !nets.includes(n)));
      return `set ${set.metadata.name} nets -> ${nets.join(' ')}`;
    }
    case 3: {
      const rule = pick(r, rules);
      rule['action'] = pick(r, ['Allow', 'Deny', 'Pass', 'Log']);
      return `action of a rule of ${p.metadata.name}`;
    }
    case 4: {
      rules.splice(int(r, 0, rules.length), 0, randomRule(r));
      return `insert a rule into ${p.metadata.name} ${dir}`;
    }
    case 5: {
      if (rules.length < 2) return 'nothing';
      rules.splice(int(r, 0, rules.length - 1), 1);
      return `delete a rule of ${p.metadata.name} ${dir}`;
    }
    case 6: {
      rules[int(r, 0, rules.length - 1)] = randomRule(r);
      return `replace a rule of ${p.metadata.name} ${dir}`;
    }
    case 7: {
      const cfg = docs.find((d) => d.kind === 'NotrackConfiguration')!;
      const out = (cfg['spec'] as { failsafeOutboundHostPorts: object[] }).failsafeOutboundHostPorts;
      if (out.length > 1 && chance(r, 0.5)) out.pop();
      else out.push({ protocol: 'TCP', port: pick(r, [80, 443, 5432]) });
      return 'outbound failsafes';
    }
    default: {
      spec['selector'] = pick(r, SELECTORS);
      return `selector of ${p.metadata.name}`;
    }
  }
}

/** Spreads documents over files; the head may shuffle them (a refactor that must change no traffic). */
function files(r: Rng, docs: Doc[], shuffle: boolean): PolicyFile[] {
  const list = shuffle ? [...docs].sort(() => r() - 0.5) : docs;
  const byFile = new Map<string, Doc[]>();
  list.forEach((d, i) => {
    const name = shuffle ? `moved/f${i % 3}.yaml` : `${d.kind.toLowerCase()}.yaml`;
    byFile.set(name, [...(byFile.get(name) ?? []), d]);
  });
  return [...byFile].map(([name, ds]) => documentsFile(name, ds));
}

export interface PolicyPair {
  base: PolicyFile[];
  head: PolicyFile[];
  /** What the head changed, in words (for failure messages). */
  changes: string[];
}

/** A random repository and a random pull request against it. */
export function randomPolicyPair(r: Rng): PolicyPair {
  const docs: Doc[] = [...endpoints(r), ...sets(r), config(r)];
  for (let i = int(r, 3, 6); i > 0; i--) docs.push(randomPolicy(r, i));
  const head = clone(docs);
  const changes: string[] = [];
  for (let i = int(r, 1, 3); i > 0; i--) changes.push(mutate(r, head));
  const refactor = chance(r, 0.15);
  if (refactor) changes.push('files reshuffled');
  return { base: files(r, docs, false), head: files(r, head, refactor), changes };
}

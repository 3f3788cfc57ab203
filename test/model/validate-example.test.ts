// policies-example, the repository the demo runs against, validates clean and means what its README says.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadResources, type LoadResult } from '../../src/model/load-resources.js';
import { formatDiagnostic } from '../../src/model/diagnostics.js';
import type { PolicyFile } from '../../src/model/documents.js';
import { formatCidr } from '../../src/net/cidr.js';
import { resolveConfiguration } from '../../src/model/configuration.js';
import type { HostEndpoint, Policy } from '../../src/model/resources.js';

const ROOT = 'policies-example';

/** Every YAML file under `dir`, with repository-relative paths, as the source stage hands them over. */
function readTree(dir: string): PolicyFile[] {
  const out: PolicyFile[] = [];
  for (const name of readdirSync(dir).sort()) {
    const full = path.join(dir, name);
    // The tests folder holds PolicyTest cases for `notrack test`, not policy: every command leaves it out.
    if (statSync(full).isDirectory()) {
      if (full !== path.join(ROOT, 'tests')) out.push(...readTree(full));
    } else if (/\.ya?ml$/.test(name)) {
      const content = new Uint8Array(readFileSync(full));
      out.push({ path: path.relative(ROOT, full), content, size: content.length });
    }
  }
  return out;
}

function selectedEndpoints(policy: Policy, endpoints: readonly HostEndpoint[]): HostEndpoint[] {
  return endpoints.filter((h) => policy.selector.matches(h.labels));
}

const result: LoadResult = loadResources(readTree(ROOT));
const { resources } = result;

test('policies-example validates with no errors and no warnings; the tracked policy is one notice', () => {
  assert.equal(result.diagnostics.map(formatDiagnostic), [
    'policies/tracked/ssh-management.yaml:7:9: notice[not-enforced]: policy "ssh-from-management" has no doNotTrack: true, ' +
      "so notrack does not enforce it (it is tracked policy, Calico's job) (at metadata.name)",
  ]);
  assert.ok(result.valid);
  assert.equal(resources.ignoredPolicies, ['ssh-from-management']);
});

test('it is a multi-document, nested repository with every kind notrack reads', () => {
  assert.is(result.counts.files, 11);
  assert.is(result.counts.documents, 14);
  assert.equal(result.counts.kinds, {
    GlobalNetworkPolicy: 6,
    GlobalNetworkSet: 2,
    HostEndpoint: 4,
    NotrackConfiguration: 2,
  });
});

test('three hosts: edge-1 with a public eth0 and an internal eth1, db-1 and cache-1, with their named ports', () => {
  const endpoints = resources.hostEndpoints.map((h) => ({
    name: h.name,
    node: h.node,
    iface: h.interfaceName,
    labels: h.labels,
    ips: h.expectedIPs.map(formatCidr),
    ports: h.ports.map((p) => `${p.name}=${p.port}/${p.protocol}`),
  }));
  assert.equal(endpoints, [
    {
      name: 'cache-1-eth0',
      node: 'cache-1',
      iface: 'eth0',
      labels: { role: 'cache', network: 'data' },
      ips: ['10.0.2.20/32', 'fd00:0:0:2::20/128'],
      ports: ['memcache=11211/6', 'memcache-udp=11211/17'],
    },
    {
      name: 'db-1-eth0',
      node: 'db-1',
      iface: 'eth0',
      labels: { role: 'db', network: 'data' },
      ips: ['10.0.2.10/32', 'fd00:0:0:2::10/128'],
      ports: ['postgres=5432/6'],
    },
    {
      name: 'edge-1-eth0',
      node: 'edge-1',
      iface: 'eth0',
      labels: { role: 'edge', network: 'public' },
      ips: ['10.0.0.10/32', 'fd00::10/128'],
      ports: ['http=80/6', 'https=443/6'],
    },
    {
      name: 'edge-1-eth1',
      node: 'edge-1',
      iface: 'eth1',
      labels: { role: 'edge', network: 'internal' },
      ips: ['10.0.1.10/32', 'fd00:0:0:1::10/128'],
      ports: [],
    },
  ]);
});

test('the DDoS deny list holds over 1,000 IPv4 and IPv6 CIDRs from documentation and benchmark ranges only', () => {
  const set = resources.networkSets.find((s) => s.name === 'ddos-deny-list')!;
  assert.equal(set.labels, { 'dos-deny-list': 'true' });
  assert.ok(set.nets.length >= 1000, `${set.nets.length} CIDRs`);
  const v4 = set.nets.filter((c) => c.family === 4).map(formatCidr);
  const v6 = set.nets.filter((c) => c.family === 6).map(formatCidr);
  assert.ok(v4.length > 0 && v6.length > 0);
  assert.ok(
    v4.every((c) => /^(198\.(18|19)\.\d+\.0\/24|203\.0\.113\.\d+\/32|198\.51\.100\.\d+\/32)$/.test(c)),
    'IPv4 ranges',
  );
  assert.ok(
    v6.every((c) => c.startsWith('2001:db8:')),
    'IPv6 ranges',
  );
  assert.is(new Set([...v4, ...v6]).size, set.nets.length, 'no entry twice');
  for (const known of ['198.18.0.0/24', '203.0.113.66/32', '2001:db8:dead::/48'])
    assert.ok(v4.includes(known) || v6.includes(known), known);
  assert.ok(set.nets.every((c) => !c.hostBitsSet));
});

test('the committed deny list is what scripts/gen-denylist.mjs generates', () => {
  const r = spawnSync(process.execPath, ['scripts/gen-denylist.mjs', '--check'], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /is up to date \(1100 CIDRs\)/);
});

test("ddos-deny is Calico's recipe: order 10, untracked, on the edge, denying sources in the deny-list sets", () => {
  const p = resources.policies.find((x) => x.name === 'ddos-deny')!;
  assert.is(p.order, 10);
  assert.ok(p.doNotTrack);
  assert.equal(p.types, ['ingress']);
  assert.equal(
    selectedEndpoints(p, resources.hostEndpoints).map((h) => h.name),
    ['edge-1-eth0', 'edge-1-eth1'],
  );
  const rule = p.ingress[0]!;
  assert.is(rule.action, 'Deny');
  const sets = resources.networkSets.filter((s) => rule.source.selector!.matches(s.labels)).map((s) => s.name);
  assert.equal(sets, ['ddos-deny-list']);
});

test('the policies apply in order: deny list, reflection deny, web, data tier', () => {
  const ordered = [...resources.policies].sort(
    (a, b) => (a.order ?? Infinity) - (b.order ?? Infinity) || a.name.localeCompare(b.name),
  );
  assert.equal(
    ordered.map((p) => `${p.order} ${p.name}`),
    ['10 ddos-deny', '20 edge-reflection-deny', '100 edge-web', '200 cache-memcached', '200 db-postgres'],
  );
});

test('the edge logs reflected memcached traffic and then denies it', () => {
  const p = resources.policies.find((x) => x.name === 'edge-reflection-deny')!;
  assert.equal(
    p.ingress.map(
      (r) =>
        `${r.action} ${r.protocol} sport ${r.source.ports.map((x) => (x.kind === 'range' ? x.from : x.name)).join()}`,
    ),
    ['Log 17 sport 11211', 'Deny 17 sport 11211'],
  );
  assert.equal(
    selectedEndpoints(p, resources.hostEndpoints).map((h) => h.name),
    ['edge-1-eth0'],
  );
});

test('memcached is allowed both ways untracked, TCP and UDP, between the app subnet and port 11211', () => {
  const p = resources.policies.find((x) => x.name === 'cache-memcached')!;
  const app = resources.networkSets.find((s) => s.name === 'app-subnet')!;
  assert.equal(app.nets.map(formatCidr), ['10.0.1.0/24', 'fd00:0:0:1::/64']);
  assert.equal(
    p.ingress.map((r) => [r.action, r.protocol, r.source.selector!.matches(app.labels), r.destination.ports]),
    [
      ['Allow', 6, true, [{ kind: 'range', from: 11211, to: 11211 }]],
      ['Allow', 17, true, [{ kind: 'range', from: 11211, to: 11211 }]],
    ],
  );
  assert.equal(
    p.egress.map((r) => [r.action, r.protocol, r.source.ports, r.destination.selector!.matches(app.labels)]),
    [
      ['Allow', 6, [{ kind: 'range', from: 11211, to: 11211 }], true],
      ['Allow', 17, [{ kind: 'range', from: 11211, to: 11211 }], true],
    ],
  );
});

test('postgres is reached through the named port, with an egress return rule per address family', () => {
  const p = resources.policies.find((x) => x.name === 'db-postgres')!;
  assert.equal(
    p.ingress.map(
      (r) =>
        `${r.source.nets.map(formatCidr)} -> ${r.destination.ports.map((x) => (x.kind === 'named' ? x.name : '?'))}`,
    ),
    ['10.0.1.0/24 -> postgres', 'fd00:0:0:1::/64 -> postgres'],
  );
  assert.equal(
    p.egress.map(
      (r) =>
        `${r.source.ports.map((x) => (x.kind === 'named' ? x.name : '?'))} -> ${r.destination.nets.map(formatCidr)}`,
    ),
    ['postgres -> 10.0.1.0/24', 'postgres -> fd00:0:0:1::/64'],
  );
});

test("failsafes are Calico's defaults with SSH only from management; edge-1 logs at a lower rate", () => {
  const edge = resolveConfiguration(resources, 'edge-1');
  const db = resolveConfiguration(resources, 'db-1');
  const show = (list: typeof edge.failsafeInbound) =>
    list.map((f) => `${f.protocol === 6 ? 'tcp' : 'udp'}:${f.port}${f.net ? `@${formatCidr(f.net)}` : ''}`);
  assert.equal(show(db.failsafeInbound), [
    'tcp:22@10.0.255.0/24',
    'tcp:22@fd00:0:0:ff::/64',
    'udp:68',
    'tcp:179',
    'tcp:2379',
    'tcp:2380',
    'tcp:5473',
    'tcp:6443',
    'tcp:6666',
    'tcp:6667',
  ]);
  assert.equal(show(db.failsafeOutbound), [
    'udp:53',
    'udp:67',
    'tcp:179',
    'tcp:2379',
    'tcp:2380',
    'tcp:5473',
    'tcp:6443',
    'tcp:6666',
    'tcp:6667',
  ]);
  assert.is(db.xdpMode, 'auto');
  assert.equal([db.logRate, db.logBurst], [100, 200]);
  assert.equal([edge.logRate, edge.logBurst], [20, 50]);
  assert.equal(edge.failsafeInbound, db.failsafeInbound);
});

test.run();

// The plan as a reviewer reads it: traffic changes first with before, after, example and size; Terraform-style
// attribute diffs; hosts that change alike grouped and sorted naturally; Markdown that always fits one GitHub comment.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { loadResources } from '../../src/model/load-resources.js';
import type { PolicyFile } from '../../src/model/documents.js';
import { compileAll } from '../../src/compile/compile-host.js';
import { buildPlan, planHasChanges, type PlanReport } from '../../src/report/plan-report.js';
import {
  GITHUB_COMMENT_LIMIT,
  renderPlanJson,
  renderPlanMarkdown,
  renderPlanText,
} from '../../src/report/plan-render.js';
import { documentsFile, policyFile } from '../support/policy-files.js';
import { hostEndpoint, networkSet, untrackedPolicy } from '../support/resource-documents.js';
import { ROOT } from '../support/cli.js';
import { prefixRanges } from '../../src/traffic/decisions.js';
import { formatCidr } from '../../src/net/cidr.js';

const SUBJECT = { repo: 'policy', base: { ref: 'main', commit: null }, head: { ref: 'pr', commit: null } };

function plan(base: PolicyFile[], head: PolicyFile[]): PlanReport {
  const [b, h] = [loadResources(base), loadResources(head)];
  assert.ok(b.valid && h.valid, 'both revisions are valid');
  return buildPlan(
    { states: compileAll(b.resources), resources: b.resources, files: base },
    { states: compileAll(h.resources), resources: h.resources, files: head },
  );
}

/** policies-example as files, with `edit(path, text)` applied to the head. */
function example(): PolicyFile[] {
  const out: PolicyFile[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const full = path.join(dir, name);
      if (statSync(full).isDirectory()) {
        if (name !== 'tests') walk(full);
      } else if (name.endsWith('.yaml'))
        out.push(policyFile(path.relative(path.join(ROOT, 'policies-example'), full), readFileSync(full)));
    }
  };
  walk(path.join(ROOT, 'policies-example'));
  return out;
}

function edited(files: PolicyFile[], file: string, from: string, to: string): PolicyFile[] {
  return files.map((f) => {
    if (f.path !== file) return f;
    const text = new TextDecoder().decode(f.content);
    assert.ok(text.includes(from), `${file} holds ${from}`);
    return policyFile(f.path, text.replace(from, to));
  });
}

const DNS = `apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: dns-server
spec:
  order: 100
  selector: role == 'edge' && network == 'public'
  doNotTrack: true
  applyOnForward: true
  types: [Ingress, Egress]
  ingress:
    - action: Allow
      protocol: UDP
      destination: { ports: [53] }
  egress:
    - action: Allow
      protocol: UDP
      source: { ports: [53] }
`;

test('moving a policy before the deny list shows the deny-listed sources it now lets in, with rules, lines and an example', () => {
  const base = [...example(), policyFile('policies/edge/dns.yaml', DNS)];
  const head = edited(base, 'policies/edge/dns.yaml', 'order: 100', 'order: 5');
  const p = plan(base, head);
  const fromDenyList = p.traffic.find((e) => e.before.rule?.policy === 'ddos-deny' && e.family === 4)!;
  assert.ok(fromDenyList, 'a region that the deny list decided before');
  assert.equal(fromDenyList.hosts, ['edge-1']);
  assert.is(fromDenyList.interface, 'eth0');
  assert.is(fromDenyList.direction, 'ingress');
  assert.equal(fromDenyList.before, {
    outcome: 'deny',
    reason: 'rule',
    rule: { policy: 'ddos-deny', direction: 'ingress', index: 0, file: 'policies/edge/ddos.yaml', line: 17 },
  });
  assert.equal(fromDenyList.after.rule, {
    policy: 'dns-server',
    direction: 'ingress',
    index: 0,
    file: 'policies/edge/dns.yaml',
    line: 12,
  });
  assert.match(fromDenyList.region[0]!, /^udp to port 53 from 198\.18\.0\.0\/20, .* \(set ddos-deny-list\)$/);
  assert.match(fromDenyList.example, /^udp 198\.18\.0\.1:40000 > 10\.0\.0\.10:53$/);
  assert.is(fromDenyList.size.destinations, String(2 ** 32));
  assert.equal(fromDenyList.match, [
    {
      src: fromDenyList.match[0]!.src!,
      protocols: [17],
      dport: [[53, 53]],
      laterFragment: false,
    },
  ]);
  const listed = prefixRanges(4, fromDenyList.match[0]!.src!);
  const denyList = loadResources(base).resources.networkSets.find((s) => s.name === 'ddos-deny-list')!;
  assert.ok(
    listed.equals(prefixRanges(4, denyList.nets.filter((n) => n.family === 4).map(formatCidr))),
    'the region lists the deny list, exactly',
  );
  assert.equal(p.summary.traffic, { regions: 4, allowed: 4, denied: 0, tracked: 0, ruleChanged: 0 });
  const text = renderPlanText(SUBJECT, p);
  assert.match(text, /Traffic: 4 regions newly allowed, 0 newly denied, 0 newly tracked\./);
  assert.match(text, /~ GlobalNetworkPolicy dns-server \(policies\/edge\/dns\.yaml\)\n\s+~ order: 100 -> 5/);
  assert.not.match(text, /classifier entries/, 'program rebuilds are --verbose detail');
  assert.match(
    renderPlanText(SUBJECT, p, { verbose: true }),
    /policy program IPv4: \d+ -> \d+ classifier entries \(new generation\)/,
  );
});

test('an order change that moves no packet says "No traffic changes" and shows the attribute diff', () => {
  const base = example();
  const head = edited(base, 'policies/data/memcached.yaml', 'order: 200', 'order: 150');
  const p = plan(base, head);
  assert.equal(p.traffic, []);
  assert.ok(planHasChanges(p), 'the hosts still get a new state (a change for --detailed-exitcode)');
  const text = renderPlanText(SUBJECT, p);
  assert.match(text, /No traffic changes\./);
  assert.match(
    text,
    /~ GlobalNetworkPolicy cache-memcached \(policies\/data\/memcached\.yaml\)\n\s+~ order: 200 -> 150\n/,
  );
});

test('a refactor (documents reordered, files renamed and split) is no change at all', () => {
  const base = example();
  const docs = base.flatMap((f) =>
    new TextDecoder()
      .decode(f.content)
      .split(/^---$/m)
      .map((d, i) => policyFile(`moved/${i}-${path.basename(f.path)}`, d)),
  );
  const p = plan(base, docs.reverse());
  assert.is(planHasChanges(p), false);
  assert.equal([p.traffic, p.resources], [[], []]);
  assert.match(
    renderPlanText(SUBJECT, p),
    /No changes: 3 hosts already match the head revision\. No traffic changes\./,
  );
});

test('a set that grows from one to two prefixes in an egress rule: the new prefix as traffic and as an attribute, no ipset names', () => {
  const base = example();
  const head = edited(
    base,
    'policies/data/postgres.yaml',
    '      destination:\n        nets: [10.0.1.0/24]',
    '      destination:\n        nets: [10.0.1.0/24, 10.0.9.0/24]',
  );
  const p = plan(base, head);
  assert.equal(
    p.traffic.map((e) => [e.hosts, e.interface, e.direction, e.region, e.before.reason, e.after.outcome]),
    [
      [
        ['db-1'],
        'eth0',
        'egress',
        // Connections to the outbound failsafe ports stay tracked: the region leaves them out.
        [
          'tcp to 10.0.9.0/24, any port except 179, 2379-2380, 5473, 6443 and 6666-6667 from 10.0.2.10/32 (endpoint db-1-eth0), port 5432',
        ],
        'no-match',
        'allow',
      ],
    ],
  );
  const text = renderPlanText(SUBJECT, p, { verbose: true });
  assert.match(text, /~ egress\[0\]\.destination\.nets: \[10\.0\.1\.0\/24\] -> \[10\.0\.1\.0\/24, 10\.0\.9\.0\/24\]/);
  assert.not.match(text, /notrack-[0-9a-f]{16}|match-set/, 'sets are prefixes, never ipset names');
  assert.match(text, /\+ 10\.0\.9\.0\/24/, 'the verbose set change lists the added prefix');
});

/** `n` hosts ns-1 … ns-n, each with one endpoint, and one policy per host when `perHost`. */
function fleet(n: number, port: number, perHost: boolean): PolicyFile[] {
  const docs: object[] = [];
  for (let i = 1; i <= n; i++) {
    docs.push(
      hostEndpoint(
        `ns-${i}-eth0`,
        `ns-${i}`,
        { interfaceName: 'eth0', expectedIPs: [`10.1.${i >> 8}.${i & 255}`] },
        { host: `ns-${i}` },
      ),
    );
    if (perHost)
      docs.push(
        untrackedPolicy(`allow-${i}`, {
          order: 10,
          selector: `host == 'ns-${i}'`,
          types: ['Ingress'],
          ingress: [{ action: 'Allow', protocol: 'TCP', destination: { ports: [port + i] } }],
        }),
      );
  }
  if (!perHost)
    docs.push(
      untrackedPolicy('allow', {
        order: 10,
        types: ['Ingress'],
        ingress: [
          { action: 'Allow', protocol: 'TCP', source: { selector: "list == 'app'" }, destination: { ports: [port] } },
        ],
      }),
      networkSet('app', { list: 'app' }, ['10.9.0.0/16']),
    );
  return [documentsFile('fleet.yaml', docs)];
}

test('hosts with identical changes are grouped and named in natural order: "ns-1, ns-2 and 198 more"', () => {
  const p = plan(fleet(200, 8080, false), fleet(200, 8443, false));
  assert.is(p.traffic.length, 2, 'port 8080 no longer allowed, 8443 newly allowed');
  assert.is(p.traffic[0]!.hosts.length, 200);
  assert.equal(p.traffic[0]!.hosts.slice(0, 11), [
    'ns-1',
    'ns-2',
    'ns-3',
    'ns-4',
    'ns-5',
    'ns-6',
    'ns-7',
    'ns-8',
    'ns-9',
    'ns-10',
    'ns-11',
  ]);
  const text = renderPlanText(SUBJECT, p);
  assert.match(text, /^ {2}ns-1, ns-2 and 198 more:$/m);
  assert.is(text.match(/eth0 ingress IPv4/g)!.length, 2, 'each region is written once for the group');
  assert.is(p.hosts.map((h) => h.host).indexOf('ns-10'), 9, 'dataplane detail in natural order too');
});

test('Markdown for 200 hosts with different changes fits one GitHub comment: summary first, then what fits, then what was left out', () => {
  const p = plan(fleet(200, 2000, true), fleet(200, 3000, true));
  const total = p.traffic.length;
  assert.ok(total >= 800 - 4, `${total} changes: per host the old port (IPv4, IPv6) and the new one`);
  const md = renderPlanMarkdown(SUBJECT, p, { warnings: ['w.yaml:1:1: warning[x]: a warning'] });
  assert.ok(md.length <= GITHUB_COMMENT_LIMIT, `${md.length} characters`);
  assert.match(md, /^### 📝 notrack plan\n\n`policy: main -> pr`\n\n\*\*Plan: 200 of 200 hosts change/);
  const shown = md.match(/^! eth0 ingress/gm)!.length;
  assert.ok(shown > 100 && shown < total, `${shown} traffic changes shown`);
  assert.match(
    md,
    new RegExp(
      `Left out to fit GitHub's 65,536-character comment limit: ${total - shown} traffic changes, 200 resource changes, 1 warning\\. Run \`notrack plan --format json\``,
    ),
  );
  const all = renderPlanText(SUBJECT, p);
  assert.ok(all.length > GITHUB_COMMENT_LIMIT, 'the text plan (a CI artefact) keeps everything');
  const small = renderPlanMarkdown(SUBJECT, plan(fleet(3, 2000, true), fleet(3, 3000, true)));
  assert.not.match(small, /Left out/);
});

test('the JSON plan (formatVersion 2) has trafficChanges with hosts, before and after, example and match', () => {
  const p = plan(fleet(3, 8080, false), fleet(3, 8443, false));
  const js = JSON.parse(renderPlanJson(SUBJECT, p));
  assert.equal([js.formatVersion, js.kind], [2, 'notrack.plan']);
  const added = js.trafficChanges.find((c: { after: { outcome: string } }) => c.after.outcome === 'allow');
  assert.equal(added, {
    hosts: ['ns-1', 'ns-2', 'ns-3'],
    interface: 'eth0',
    direction: 'ingress',
    family: 4,
    before: { outcome: 'pass', reason: 'no-match', rule: null },
    after: {
      outcome: 'allow',
      reason: 'rule',
      rule: { policy: 'allow', direction: 'ingress', index: 0, file: 'fleet.yaml', line: 7 },
    },
    example: 'tcp 10.9.0.1:40000 > 10.1.0.1:8443',
    // Source ports are no exception: an outbound failsafe passes only a conntrack-confirmed reply, which is no
    // header of the packet.
    region: ['tcp to port 8443 from 10.9.0.0/16 (set app)'],
    size: { sources: '65536', destinations: '4294967296', portPairs: '65536' },
    match: [
      {
        src: ['10.9.0.0/16'],
        protocols: [6],
        dport: [[8443, 8443]],
        laterFragment: false,
      },
    ],
  });
  assert.equal(js.resourceChanges, [
    {
      kind: 'GlobalNetworkPolicy',
      name: 'allow',
      action: 'update',
      file: 'fleet.yaml',
      changes: [{ field: 'ingress[0].destination.ports', before: '[8080]', after: '[8443]' }],
    },
  ]);
});

test('a deny list that changes under a rule naming no protocol shows a TCP example, not the first protocol number', () => {
  const files = (nets: string[]) => [
    documentsFile('hosts.yaml', [
      hostEndpoint('edge-1-eth0', 'edge-1', { interfaceName: 'eth0', expectedIPs: ['192.0.2.10'] }, { role: 'edge' }),
    ]),
    documentsFile('sets.yaml', [networkSet('deny', { list: 'deny' }, nets)]),
    documentsFile('policy.yaml', [
      untrackedPolicy('deny', {
        selector: "role == 'edge'",
        types: ['Ingress'],
        ingress: [{ action: 'Deny', source: { selector: "list == 'deny'" } }],
      }),
    ]),
  ];
  const p = plan(files(['198.51.100.0/24']), files(['198.51.100.0/24', '203.0.113.0/24']));
  assert.is(p.traffic.length, 1);
  const [change] = p.traffic;
  assert.match(change!.region.join('\n'), /any protocol except/, 'the region holds every protocol, in boxes by shape');
  // Before: the first box (protocols without ports) gave `proto 47 203.0.113.1 > 192.0.2.10`, read as GRE.
  assert.match(change!.example, /^tcp 203\.0\.113\.\d+:\d+ > 192\.0\.2\.10:\d+/);
});

test.run();

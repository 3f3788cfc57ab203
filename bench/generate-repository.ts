// Generates a synthetic policy repository of N resources (hosts, sets, policies) for the validation benchmark.
import type { PolicyFile } from '../src/model/documents.js';

function file(path: string, docs: string[]): PolicyFile {
  const content = new TextEncoder().encode(docs.join('---\n'));
  return { path, content, size: content.length };
}

/** About `total` resources: 40% HostEndpoints, 10% GlobalNetworkSets, 50% doNotTrack policies, 100 per file. */
export function generateRepository(total: number): PolicyFile[] {
  const hosts = Math.floor(total * 0.4),
    sets = Math.floor(total * 0.1);
  return generateFleet({ hosts, sets, policies: total - hosts - sets });
}

/**
 * A fleet: `hosts` HostEndpoints (one per host), `sets` GlobalNetworkSets of 20 prefixes, `policies` doNotTrack
 * policies selecting hosts by role (20 roles). `variant` changes a few policies and one set, as a pull request would.
 * `denyList` adds a deny list of that many prefixes (60% IPv4) that a first policy denies on every host; the variant
 * then also moves one policy before it, the change that breaks firewalls most often.
 */
export function generateFleet(n: {
  hosts: number;
  sets: number;
  policies: number;
  variant?: number;
  denyList?: number;
}): PolicyFile[] {
  const files: PolicyFile[] = [];
  if (n.denyList) files.push(denyListFile(n.denyList));
  const { hosts, sets, policies } = n;
  const v = n.variant ?? 0;
  const chunk = <T>(n: number, make: (i: number) => string, name: (k: number) => string) => {
    for (let k = 0; k * 100 < n; k++) {
      const docs: string[] = [];
      for (let i = k * 100; i < Math.min(n, (k + 1) * 100); i++) docs.push(make(i));
      files.push(file(name(k), docs));
    }
  };
  chunk(
    hosts,
    (i) => `apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata:
  name: host-${i}-eth0
  labels: { role: r${i % 20}, zone: z${i % 4} }
spec:
  node: host-${i}
  interfaceName: eth0
  expectedIPs: ["10.${(i >> 8) & 255}.${i & 255}.1"]
  ports:
    - { name: svc${i % 10}, protocol: TCP, port: ${8000 + (i % 10)} }
`,
    (k) => `hosts/hosts-${k}.yaml`,
  );
  chunk(
    sets,
    (i) => `apiVersion: projectcalico.org/v3
kind: GlobalNetworkSet
metadata:
  name: set-${i}
  labels: { list: l${i % 50} }
spec:
  nets: [${Array.from({ length: 20 + (v && i === 0 ? v : 0) }, (_, j) => `"172.${16 + (i % 16)}.${j}.${(i * 7) & 255}/32"`).join(', ')}]
`,
    (k) => `sets/sets-${k}.yaml`,
  );
  chunk(
    policies,
    (i) => `apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: policy-${i}
spec:
  order: ${n.denyList && v && i === 7 ? 0 : i % 1000}
  selector: role == 'r${i % 20}' && zone in {'z0', 'z1', 'z2', 'z3'}
  doNotTrack: true
  applyOnForward: true
  ingress:
    - action: Allow
      protocol: TCP
      source: { nets: ["10.${i & 255}.0.0/16"], selector: "list == 'l${i % 50}'" }
      destination: { ports: [${1000 + (i % 5000) + (v && i % 50 === 0 ? v : 0)}, "svc${i % 10}"] }
    - action: Deny
      protocol: UDP
      destination: { ports: ["1:1023"] }
  egress:
    - action: Allow
      protocol: TCP
      source: { ports: [${1000 + (i % 5000)}] }
      destination: { nets: ["10.${i & 255}.0.0/16"] }
`,
    (k) => `policies/policies-${k}.yaml`,
  );
  return files;
}

/** A deny list of `size` prefixes (60% IPv4 /24s in 198.18.0.0/15, the rest IPv6 /48s) and the policy denying it. */
function denyListFile(size: number): PolicyFile {
  const v4 = Math.round(size * 0.6);
  const nets = Array.from({ length: size }, (_, i) =>
    i < v4 ? `"198.${18 + (i >> 8)}.${i & 255}.0/24"` : `"2001:db8:${(i - v4).toString(16)}::/48"`,
  );
  return file('sets/deny-list.yaml', [
    `apiVersion: projectcalico.org/v3
kind: GlobalNetworkSet
metadata:
  name: deny-list
  labels: { deny: 'true' }
spec:
  nets: [${nets.join(', ')}]
`,
    `apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: deny-list
spec:
  order: 1
  selector: all()
  doNotTrack: true
  applyOnForward: true
  ingress:
    - action: Deny
      source: { selector: "deny == 'true'" }
`,
  ]);
}

// The control-plane benchmark's policy: 10,000 Deny rules (one source /22 each) and one deny list of N prefixes,
// as notrack YAML files and as the ipset/iptables-restore and nft inputs an admin would write for the same thing.

/** Nets per GlobalNetworkSet file: 150,000 lines of at most 24 bytes stay under the source's 4 MiB file limit. */
export const SET_FILE_NETS = 150_000;

/** Rules per GlobalNetworkPolicy (the schema allows at most 1,024). */
const RULES_PER_POLICY = 1000;

const quad = (n: number): string => `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;

/** Rule i denies 16.0.0.0 + i * 1024, a /22. */
export const ruleCidr = (i: number): string => `${quad((16 << 24) + i * 1024)}/22`;

/**
 * Member i of the deny list: 90% /32 hosts spread over 32.0.0.0/8 and 35.0.0.0/8, 10% /24 nets in 33.0.0.0/8
 * (disjoint, so ipset and nft interval sets take every member as it is). `shift` moves one member, the one-prefix
 * change, to an address no other member uses.
 */
export function setCidr(i: number, size: number): string {
  const nets = Math.floor(size / 10);
  if (i < nets) return `${quad((33 << 24) + i * 256)}/24`;
  const h = i - nets;
  return `${quad(((h & 1 ? 35 : 32) << 24) + (h >> 1) * 13)}/32`;
}

/** The one-prefix change: member `index` of the list replaced by this address (unused by any other member). */
export const CHANGED_MEMBER = '36.1.2.3/32';

export interface BenchPolicy {
  rules: number;
  setSize: number;
  /** When set, member `changed` of the set is CHANGED_MEMBER instead. */
  changed?: number;
}

function members(p: BenchPolicy): string[] {
  return Array.from({ length: p.setSize }, (_, i) => (i === p.changed ? CHANGED_MEMBER : setCidr(i, p.setSize)));
}

/** The policy repository's files (path -> content) for host `bench` whose endpoint is `ifname`. */
export function policyFiles(p: BenchPolicy, ifname: string): Record<string, string> {
  const files: Record<string, string> = {
    'hosts/bench.yaml': `apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata:
  name: bench-${ifname}
  labels: { role: bench }
spec:
  node: bench
  interfaceName: ${ifname}
`,
  };
  const nets = members(p);
  for (let k = 0; k * SET_FILE_NETS < nets.length; k++) {
    const lines = nets.slice(k * SET_FILE_NETS, (k + 1) * SET_FILE_NETS).map((n) => `    - ${n}\n`);
    files[`sets/deny-${String(k).padStart(2, '0')}.yaml`] =
      `apiVersion: projectcalico.org/v3\nkind: GlobalNetworkSet\nmetadata:\n  name: deny-list-${k}\n  labels: { list: deny }\nspec:\n  nets:\n${lines.join('')}`;
  }
  const rules = [`    - action: Deny\n      source:\n        selector: list == 'deny'\n`];
  for (let i = 0; i < p.rules; i++) rules.push(`    - action: Deny\n      source:\n        nets: [${ruleCidr(i)}]\n`);
  // Ten policies of 1,000 rules (the schema's limit is 1,024), one after another.
  for (let k = 0; k * RULES_PER_POLICY < rules.length; k++) {
    const name = `deny-${String(k).padStart(3, '0')}`;
    const header = [
      'apiVersion: projectcalico.org/v3',
      'kind: GlobalNetworkPolicy',
      'metadata:',
      `  name: ${name}`,
      'spec:',
      `  order: ${k}`,
      "  selector: role == 'bench'",
      '  doNotTrack: true',
      '  applyOnForward: true',
      '  types: [Ingress]',
      '  ingress:',
    ];
    files[`policies/${name}.yaml`] =
      header.map((line) => `${line}\n`).join('') +
      rules.slice(k * RULES_PER_POLICY, (k + 1) * RULES_PER_POLICY).join('');
  }
  return files;
}

/** The same policy for ipset restore (a hash:net set) and iptables-restore (raw PREROUTING). */
export function ipsetInputs(p: BenchPolicy): { ipset: string; iptables: string } {
  const set = [`create cp-deny hash:net family inet hashsize 1048576 maxelem ${Math.max(65536, p.setSize * 2)}`];
  for (const n of members(p)) set.push(`add cp-deny ${n}`);
  const raw = ['*raw', ':PREROUTING ACCEPT [0:0]', '-A PREROUTING -m set --match-set cp-deny src -j DROP'];
  for (let i = 0; i < p.rules; i++) raw.push(`-A PREROUTING -s ${ruleCidr(i)} -j DROP`);
  raw.push('COMMIT', '');
  return { ipset: set.join('\n') + '\n', iptables: raw.join('\n') };
}

/** The same policy as one nft script that replaces its table atomically (an interval set and one rule per net). */
export function nftInput(p: BenchPolicy): string {
  const lines = [
    'table ip cp',
    'delete table ip cp',
    'table ip cp {',
    '  set deny { type ipv4_addr; flags interval; }',
    '  chain pre {',
    '    type filter hook prerouting priority raw; policy accept;',
    '    ip saddr @deny drop',
  ];
  for (let i = 0; i < p.rules; i++) lines.push(`    ip saddr ${ruleCidr(i)} drop`);
  lines.push('  }', '}');
  const nets = members(p);
  for (let at = 0; at < nets.length; at += 10_000)
    lines.push(`add element ip cp deny { ${nets.slice(at, at + 10_000).join(', ')} }`);
  return lines.join('\n') + '\n';
}

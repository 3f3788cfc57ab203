// The wire benchmark's variants: what a Linux admin would pick to drop a deny list or to skip conntrack, each set up
// in its own receiver namespace, and notrack itself, applied by the real CLI from a generated policy folder.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WIRE_PORT, quad, type Receiver, type WireLab } from './lab.js';

const ISOLATED_BPFFS = fileURLToPath(new URL('./isolated-bpffs.mjs', import.meta.url));
const NOTRACK_BIN = fileURLToPath(new URL('../../bin/notrack.js', import.meta.url));

/** What one row of the benchmark denies (or, for the allowed-flows row, denies in front of its Allow rule). */
export interface DenyList {
  /** Prefixes as [network (host-order number), length]. */
  prefixes: readonly (readonly [number, number])[];
  /** `rules`: one Deny rule per prefix; `set`: one GlobalNetworkSet and one Deny rule that selects it. */
  shape: 'rules' | 'set';
}

export interface Variant {
  readonly name: string;
  /** Sets the variant up in the receiver's namespace. */
  setup(lab: WireLab, r: Receiver, deny: DenyList, work: string): void;
  /** This variant's own deny list and sources, where a row compares rule counts side by side; else the row's. */
  readonly traffic?: { deny: DenyList; pool: readonly number[] };
}

/** `v` under another name, with its own deny list and sender pool. */
export function withTraffic(v: Variant, name: string, deny: DenyList, pool: readonly number[]): Variant {
  return { name, setup: v.setup.bind(v), traffic: { deny, pool } };
}

/** Nets per GlobalNetworkSet file. */
const SET_CHUNK = 40_000;

const cidr = ([net, len]: readonly [number, number]): string => `${quad(net)}/${len}`;

function restore(r: Receiver, argv: string[], input: string): void {
  r.ns.exec(argv, { input, timeoutMs: 600_000 });
}

/** The filter rules every allowed-flows variant with conntrack shares: a stateful host firewall. */
const STATEFUL_FILTER = [
  '*filter',
  ':INPUT ACCEPT [0:0]',
  '-A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT',
  `-A INPUT -p udp --dport ${WIRE_PORT} -j ACCEPT`,
  'COMMIT',
  '',
].join('\n');

export const noFilter: Variant = { name: 'no filter', setup() {} };

export const bareDrop: Variant = {
  name: 'bare XDP_DROP',
  setup(lab, r) {
    lab.attachDrop(r);
  },
};

export const iptablesLinear: Variant = {
  name: 'iptables linear',
  setup(_lab, r, deny) {
    const lines = ['*raw', ':PREROUTING ACCEPT [0:0]'];
    for (const p of deny.prefixes) lines.push(`-A PREROUTING -s ${cidr(p)} -j DROP`);
    lines.push('COMMIT', '');
    restore(r, ['iptables-restore'], lines.join('\n'));
  },
};

export const iptablesIpset: Variant = {
  name: 'iptables + ipset',
  setup(_lab, r, deny) {
    const lines = [
      `create wire-deny hash:net family inet hashsize 65536 maxelem ${Math.max(65536, deny.prefixes.length * 2)}`,
    ];
    for (const p of deny.prefixes) lines.push(`add wire-deny ${cidr(p)}`);
    restore(r, ['ipset', 'restore'], lines.join('\n') + '\n');
    restore(
      r,
      ['iptables-restore'],
      ['*raw', ':PREROUTING ACCEPT [0:0]', '-A PREROUTING -m set --match-set wire-deny src -j DROP', 'COMMIT', ''].join(
        '\n',
      ),
    );
  },
};

export const nftSet: Variant = {
  name: 'nft set',
  setup(_lab, r, deny) {
    const lines = [
      'table ip wire {',
      '  set deny { type ipv4_addr; flags interval; }',
      '  chain pre { type filter hook prerouting priority raw; policy accept; ip saddr @deny drop; }',
      '}',
    ];
    for (let at = 0; at < deny.prefixes.length; at += 10_000) {
      lines.push(
        `add element ip wire deny { ${deny.prefixes
          .slice(at, at + 10_000)
          .map(cidr)
          .join(', ')} }`,
      );
    }
    restore(r, ['nft', '-f', '-'], lines.join('\n') + '\n');
  },
};

/**
 * xdp-filter (xdp-tools) drops exact addresses only: it gets the pool's own source addresses, which is the most it
 * can express of a prefix deny list. Its maps are filled directly (one `xdp-filter ip` per address would take minutes).
 */
export function xdpFilter(pool: readonly number[]): Variant {
  return {
    name: 'xdp-filter',
    setup(lab, r) {
      // In a mount namespace of its own where only the lab's bpffs is mounted (see isolated-bpffs.mjs).
      const xdpFilterArgs = (...args: string[]): string[] => [
        'unshare',
        '--mount',
        '--propagation',
        'private',
        '--',
        process.execPath,
        ISOLATED_BPFFS,
        lab.bpffs.path,
        'xdp-filter',
        ...args,
      ];
      r.ns.exec(xdpFilterArgs('load', '-m', 'native', '-f', 'ipv4', r.dev));
      r.ns.exec(xdpFilterArgs('ip', '-m', 'src', quad(pool[0]!)));
      lab.fillXdpFilter(pool);
    },
  };
}

/** The program `xdp-filter load -f ipv4` loads (default policy allow: listed addresses are dropped), from xdp-tools. */
const XDP_FILTER_OBJECT = '/usr/lib/x86_64-linux-gnu/bpf/xdpfilt_alw_ip.o';

/**
 * xdp-filter's own program and lookup holding the whole set, not only the 10,000 addresses the sender uses: every
 * /32 host of the set plus the pool's addresses inside its /24 nets (an exact-address table cannot hold a /24's
 * 256 addresses for 10% of a 1M set: 25.6M entries). Then its table is as large as the set, like notrack's, and
 * the ratio compares equal work. xdp-filter's object fixes its IPv4 map at 10,000 entries, so the bench loads the
 * same object itself with the map resized (see WireLab.attachXdpFilterObject).
 */
export function xdpFilterWholeSet(pool: readonly number[]): Variant {
  return {
    name: 'xdp-filter, whole set',
    setup(lab, r, deny) {
      const hosts = new Set<number>();
      for (const [net, len] of deny.prefixes) if (len === 32) hosts.add(net);
      for (const a of pool) hosts.add(a);
      lab.attachXdpFilterObject(r, XDP_FILTER_OBJECT, [...hosts]);
    },
  };
}

function policyFolder(work: string, r: Receiver, deny: DenyList, allow: boolean): string {
  const dir = join(work, `policy-${r.index}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'host.yaml'),
    `apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata:
  name: bench-${r.index}
  labels: { role: bench }
spec:
  node: bench
  interfaceName: ${r.dev}
`,
  );
  const rules: string[] = [];
  if (deny.shape === 'set') {
    // Files stay under the source's 1 MiB file limit: 40,000 nets per GlobalNetworkSet, all with one label.
    for (let k = 0; k * SET_CHUNK < deny.prefixes.length; k++) {
      const nets = deny.prefixes
        .slice(k * SET_CHUNK, (k + 1) * SET_CHUNK)
        .map((p) => `    - ${cidr(p)}\n`)
        .join('');
      writeFileSync(
        join(dir, `set-${String(k).padStart(3, '0')}.yaml`),
        `apiVersion: projectcalico.org/v3\nkind: GlobalNetworkSet\nmetadata:\n  name: deny-list-${k}\n  labels: { list: deny }\nspec:\n  nets:\n${nets}`,
      );
    }
    rules.push(`    - action: Deny\n      source:\n        selector: list == 'deny'\n`);
  } else {
    for (const p of deny.prefixes) rules.push(`    - action: Deny\n      source:\n        nets: [${cidr(p)}]\n`);
  }
  if (allow)
    rules.push(`    - action: Allow\n      protocol: UDP\n      destination:\n        ports: [${WIRE_PORT}]\n`);
  // A policy holds at most 1,024 rules (schema): 1,000 per policy, ordered one after another.
  const docs: string[] = [];
  for (let k = 0; k * 1000 < rules.length; k++) {
    docs.push(`apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: wire-${String(k).padStart(3, '0')}
spec:
  order: ${k}
  selector: role == 'bench'
  doNotTrack: true
  applyOnForward: true
  types: [Ingress]
  ingress:
${rules.slice(k * 1000, (k + 1) * 1000).join('')}`);
  }
  writeFileSync(join(dir, 'policy.yaml'), docs.join('---\n'));
  return dir;
}

/** notrack applied by its CLI inside the receiver's namespace; with `allow`, an untracked Allow after the denies. */
export function notrack(allow: boolean, stateful: boolean): Variant {
  return {
    name: 'notrack',
    setup(lab, r, deny, work) {
      if (stateful) restore(r, ['iptables-restore'], STATEFUL_FILTER);
      const dir = policyFolder(work, r, deny, allow);
      r.ns.exec(
        [
          process.execPath,
          NOTRACK_BIN,
          'apply',
          '--path',
          dir,
          '--host',
          'bench',
          '--bpffs',
          join(lab.bpffs.path, `notrack-${r.index}`),
          '--state-dir',
          join(work, `state-${r.index}`),
        ],
        { timeoutMs: 600_000 },
      );
    },
  };
}

/**
 * notrack as applied before its structural rules lost their `-m comment` matches: the same chains, each rule with a
 * `notrack:` comment again (five on the allowed path), to measure what they cost side by side.
 */
export const notrackWithComments: Variant = {
  name: 'notrack, commented rules',
  setup(lab, r, deny, work) {
    notrack(true, true).setup(lab, r, deny, work);
    for (const table of ['raw', 'filter']) {
      const saved = r.ns.exec(['iptables-save', '-t', table]).stdout;
      const commented = saved
        .split('\n')
        .map((l) =>
          l.startsWith('-A NOTRACK-') && !l.includes('--comment')
            ? l.replace(/ (-[jg] \S+.*)$/, ' -m comment --comment "notrack:old" $1')
            : l,
        )
        .join('\n');
      restore(r, ['iptables-restore'], commented);
    }
  },
};

/** Allowed flows: every packet a new flow, accepted by a stateful firewall (conntrack fills). */
export const trackedAccept: Variant = {
  name: 'tracked accept',
  setup(_lab, r) {
    restore(r, ['iptables-restore'], STATEFUL_FILTER);
  },
};

/** Allowed flows: the same firewall with one raw NOTRACK rule for the port. */
export const rawNotrack: Variant = {
  name: 'raw NOTRACK rule',
  setup(_lab, r) {
    setupRawNotrack(r);
  },
};

/**
 * The raw NOTRACK rule with programs that do nothing attached (XDP_PASS, and with `tc` a TC ingress program): the
 * fairest baseline for notrack's allowed path, since a host that runs any XDP program pays veth's (or a driver's)
 * XDP receive path, which notrack cannot avoid either.
 */
export function rawNotrackBehindPass(tc: boolean): Variant {
  return {
    name: tc ? 'raw NOTRACK + XDP_PASS + TC' : 'raw NOTRACK + XDP_PASS',
    setup(lab, r) {
      setupRawNotrack(r);
      lab.attachPass(r, tc);
    },
  };
}

function setupRawNotrack(r: Receiver): void {
  restore(r, ['iptables-restore'], STATEFUL_FILTER);
  restore(
    r,
    ['iptables-restore', '--noflush'],
    [
      '*raw',
      ':PREROUTING ACCEPT [0:0]',
      `-A PREROUTING -p udp --dport ${WIRE_PORT} -j CT --notrack`,
      'COMMIT',
      '',
    ].join('\n'),
  );
}

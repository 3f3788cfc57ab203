// IPv6 addresses as big integers and hand-built desired states of ingress entries, for the IPv6 address table's
// tests and benchmark.
import type { DesiredState, IngressEntry, PrefixSet, SideMatch } from '../../src/compile/desired-state.js';
import type { IpFamily } from '../../src/net/cidr.js';
import { formatIp } from '../../src/net/cidr.js';
import type { Rng } from './seeded-random.js';

export const IPV6_ALL = (1n << 128n) - 1n;

/** The network mask of a /len IPv6 prefix. */
export const ipv6Mask = (len: number): bigint => (len === 0 ? 0n : (IPV6_ALL << BigInt(128 - len)) & IPV6_ALL);

/** `nbits` random low bits. */
export function randomBits(r: Rng, nbits: number): bigint {
  let v = 0n;
  for (let i = 0; i < nbits; i += 16) v = (v << 16n) | BigInt(Math.floor(r() * 65536));
  return nbits === 0 ? 0n : v & ((1n << BigInt(nbits)) - 1n);
}

export function ipv6Bytes(v: bigint): Uint8Array {
  const out = new Uint8Array(16);
  for (let i = 15; i >= 0; i--, v >>= 8n) out[i] = Number(v & 0xffn);
  return out;
}

export const ipv6Text = (v: bigint): string => formatIp(6, ipv6Bytes(v));

export const sideMatch = (m: Partial<SideMatch> = {}): SideMatch => ({
  inSets: [],
  notInSets: [],
  ports: [],
  notPorts: [],
  ...m,
});

/** A Deny entry matching everything, with `e` laid over it. */
export const ingressEntry = (counter: number, e: Partial<IngressEntry> = {}): IngressEntry => ({
  counter,
  action: 'Deny',
  protocol: null,
  notProtocol: null,
  icmp: null,
  notICMP: null,
  source: sideMatch(),
  destination: sideMatch(),
  ...e,
});

/** One interface's ingress entries of one family over sets of that family, with a counter per entry. */
export function ingressState(o: {
  family: IpFamily;
  entries: IngressEntry[];
  sets: Record<string, string[]>;
  iface?: string;
  hash?: string;
  failsafes?: DesiredState['failsafes'];
}): DesiredState {
  const sets: Record<string, PrefixSet> = {};
  for (const [id, prefixes] of Object.entries(o.sets)) sets[id] = { id, family: o.family, prefixes, origin: id };
  const counters = Math.max(0, ...o.entries.map((e) => e.counter + 1));
  return {
    formatVersion: 1,
    host: 'h',
    hash: o.hash ?? '',
    config: {
      acceptMark: 0,
      passMark: 0,
      xdpMode: 'native' as DesiredState['config']['xdpMode'],
      logRate: 0,
      logBurst: 0,
    },
    failsafes: o.failsafes ?? [],
    sets,
    interfaces: [
      {
        name: o.iface ?? 'eth0',
        endpoint: 'ep',
        ingress: o.family === 4 ? { v4: o.entries, v6: [] } : { v4: [], v6: o.entries },
        counters: Array.from({ length: counters }, (_, i) => ({
          policy: `p${i}`,
          direction: 'ingress' as const,
          index: 0,
        })),
      },
    ],
    egress: { interfaces: [], ipsets: [] },
  };
}

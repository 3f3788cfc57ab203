// Wire benchmark: real frames over veth from ≥10,000 source addresses, the receiver's NAPI CPU time per packet for
// notrack and for what admins use instead, side by side in interleaved rounds, as one table with the ratios.
//
// Usage (root; namespaces only; everything is removed afterwards):
//   npm run bench -- wire
//   NOTRACK_WIRE_ROWS=deny-10,deny-10000,allow   the rows to run (default: all but growth and allow-comments)
//   NOTRACK_WIRE_ROUNDS=5  NOTRACK_WIRE_FRAMES=300000   rounds, and frames fired per variant per round
//
// Rows: UDP floods from deny-listed sources (10, 1,000, 10,000 Deny rules of one source /22 each, so that even 10
// rules hold 10,000 distinct sources; one set of 100,000 and of 1,000,000 prefixes behind one Deny rule), and short
// allowed flows (every packet a new flow: new source port, 10,000 sources) through a stateful host firewall, with
// notrack's Allow after its 10,000 Deny rules. The set rows add xdp-filter's program with a table as large as the set
// (xdpFilterWholeSet); the allowed row adds the raw NOTRACK rule behind programs that do nothing (XDP_PASS, and
// XDP_PASS + a TC program), what any host running an XDP program pays before notrack adds anything. Per row, every variant has its own receiver namespace and stays set up
// while the rounds interleave them in a shuffled order; each figure is the median over rounds, each ratio the median
// of the per-round ratios, with the spread (min-max) beside it.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mulberry32 } from '../test/support/seeded-random.js';
import { WireLab, type Receiver } from './wire/lab.js';
import {
  bareDrop,
  iptablesIpset,
  iptablesLinear,
  nftSet,
  noFilter,
  notrack,
  notrackWithComments,
  rawNotrack,
  rawNotrackBehindPass,
  trackedAccept,
  xdpFilter,
  xdpFilterWholeSet,
  withTraffic,
  type DenyList,
  type Variant,
} from './wire/variants.js';

const ROUNDS = Number(process.env.NOTRACK_WIRE_ROUNDS ?? 5);
const FRAMES = Number(process.env.NOTRACK_WIRE_FRAMES ?? 300_000);
const POOL = 10_000;

type Kind = 'drop' | 'allow' | 'growth';

interface Row {
  name: string;
  label: string;
  deny: () => DenyList;
  pool: (deny: DenyList) => number[];
  variants: (pool: number[]) => Variant[];
  /**
   * The flood (drop) rows compare against the pass; the allowed-flows row against the raw NOTRACK rule; the growth
   * row notrack at 10,000 rules against notrack at 10.
   */
  kind: Kind;
  /** Runs only when NOTRACK_WIRE_ROWS names it. */
  optional?: true;
}

/** Rule i denies 16.0.0.0 + i * 1024, a /22. */
const ruleNet = (i: number): number => (16 << 24) + i * 1024;

function denyRules(n: number): DenyList {
  return { shape: 'rules', prefixes: Array.from({ length: n }, (_, i) => [ruleNet(i), 22] as const) };
}

/** 10,000 distinct sources spread over the rules: source j in rule j mod n, at host offset 1 + floor(j / n) mod 1022. */
function poolOverRules(deny: DenyList): number[] {
  const n = deny.prefixes.length;
  return Array.from({ length: POOL }, (_, j) => deny.prefixes[j % n]![0] + 1 + (Math.floor(j / n) % 1022));
}

/** 10,000 distinct sources inside the first 10 rules only: as many sources as ever, the working set of 10 rules. */
function poolOverTenRules(deny: DenyList): number[] {
  return poolOverRules({ ...deny, prefixes: deny.prefixes.slice(0, 10) });
}

/** `size` disjoint prefixes: /32 hosts in 32.0.0.0/8 (90%) and /24 nets in 33.0.0.0/8 and 34.0.0.0/8 (10%). */
function denySet(size: number): DenyList {
  const r = mulberry32(size);
  const hosts = new Set<number>();
  const nets = new Set<number>();
  const wantNets = Math.floor(size * 0.1);
  while (nets.size < wantNets) nets.add(Math.floor(r() * 131072));
  while (hosts.size < size - wantNets) hosts.add(Math.floor(r() * 16777216));
  const prefixes: [number, number][] = [];
  for (const h of hosts) prefixes.push([(32 << 24) + h, 32]);
  for (const n of nets) prefixes.push([(33 << 24) + n * 256, 24]);
  return { shape: 'set', prefixes };
}

/** 10,000 distinct sources inside random members of the set. */
function poolInSet(deny: DenyList): number[] {
  const r = mulberry32(7);
  const out = new Set<number>();
  while (out.size < POOL) {
    const [net, len] = deny.prefixes[Math.floor(r() * deny.prefixes.length)]!;
    out.add(len === 32 ? net : net + 1 + Math.floor(r() * 254));
  }
  return [...out];
}

/** Allowed flows come from 100.100.0.0/16, outside every deny list. */
const allowPool = (): number[] => Array.from({ length: POOL }, (_, j) => ((100 << 24) + (100 << 16) + 1 + j) >>> 0);

const dropVariants = (rules: boolean) => (pool: number[]) => [
  noFilter,
  bareDrop,
  ...(rules ? [iptablesLinear] : []),
  iptablesIpset,
  nftSet,
  xdpFilter(pool),
  ...(rules ? [] : [xdpFilterWholeSet(pool)]),
  notrack(false, false),
];

const ROWS: Row[] = [
  ...[10, 1_000, 10_000].map((n): Row => ({
    name: `deny-${n}`,
    label: `${n.toLocaleString('en')} deny rules`,
    deny: () => denyRules(n),
    pool: poolOverRules,
    variants: dropVariants(true),
    kind: 'drop',
  })),
  {
    // What the `-m comment` matches cost the allowed path: notrack with its rules as written before and as now.
    name: 'allow-comments',
    label: 'short allowed flows, with and without comments',
    deny: () => denyRules(10_000),
    pool: () => allowPool(),
    variants: () => [rawNotrack, notrackWithComments, notrack(true, true)],
    kind: 'allow',
    optional: true,
  },
  {
    // The growth goal measured side by side in one row (rows run one after another, so their medians see different
    // moments of a shared machine): notrack at 10 and at 10,000 rules, and at 10,000 rules with sources inside 10 of
    // them (as many sources, the working set of 10 rules), each receiver with its own sender pool.
    name: 'growth',
    label: 'notrack, 10 vs 10,000 deny rules',
    deny: () => denyRules(10),
    pool: poolOverRules,
    variants: () => {
      const ten = denyRules(10);
      const many = denyRules(10_000);
      return [
        withTraffic(notrack(false, false), GROWTH.ten, ten, poolOverRules(ten)),
        withTraffic(notrack(false, false), GROWTH.many, many, poolOverRules(many)),
        withTraffic(notrack(false, false), GROWTH.hot, many, poolOverTenRules(many)),
      ];
    },
    kind: 'growth',
    optional: true,
  },
  ...[100_000, 1_000_000].map((n): Row => ({
    name: `set-${n >= 1e6 ? `${n / 1e6}M` : `${n / 1e3}k`}`,
    label: `one set of ${n.toLocaleString('en')} prefixes`,
    deny: () => denySet(n),
    pool: poolInSet,
    variants: dropVariants(false),
    kind: 'drop',
  })),
  {
    name: 'allow',
    label: 'short allowed flows (10,000 deny rules in front)',
    deny: () => denyRules(10_000),
    pool: () => allowPool(),
    variants: () => [
      noFilter,
      trackedAccept,
      rawNotrack,
      rawNotrackBehindPass(false),
      rawNotrackBehindPass(true),
      notrack(true, true),
    ],
    kind: 'allow',
  },
];

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const loadavg = (): string => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

interface RowResult {
  row: Row;
  names: string[];
  /** ns per packet, per variant, per round. */
  ns: number[][];
  packets: number[];
}

function runRow(row: Row, work: string): RowResult {
  const deny = row.deny();
  const pool = row.pool(deny);
  const variants = row.variants(pool);
  const lab = WireLab.open();
  try {
    let poolNow: readonly number[] | undefined;
    const measure = (i: number): ReturnType<WireLab['measure']> => {
      const want = variants[i]!.traffic?.pool ?? pool;
      if (want !== poolNow) lab.setPool(want);
      poolNow = want;
      return lab.measure(receivers[i]!, FRAMES);
    };
    const receivers: Receiver[] = [];
    for (const v of variants) {
      const r = lab.addReceiver();
      const t0 = performance.now();
      v.setup(lab, r, v.traffic?.deny ?? deny, work);
      console.log(`  ${row.name}: ${v.name} set up in ${Math.round(performance.now() - t0)} ms`);
      receivers.push(r);
    }
    // Warm-up: caches, page pools and conntrack reach their steady state.
    receivers.forEach((_, i) => measure(i));
    const ns: number[][] = variants.map(() => []);
    const packets = variants.map(() => 0);
    const rng = mulberry32(row.name.length * 7919);
    for (let round = 0; round < ROUNDS; round++) {
      const order = variants.map((_, i) => i).sort(() => rng() - 0.5);
      for (const i of order) {
        const s = measure(i);
        if (s.packets < FRAMES / 100)
          throw new Error(`${row.name}/${variants[i]!.name}: only ${s.packets} frames arrived`);
        ns[i]!.push(s.cpuNs / s.packets);
        packets[i]! += s.packets;
      }
      console.log(
        `  ${row.name} round ${round + 1}: ${variants.map((v, i) => `${v.name} ${Math.round(ns[i]!.at(-1)!)}`).join(', ')} ns/pkt (load ${loadavg()})`,
      );
    }
    if (row.kind === 'allow') checkUntracked(variants, receivers);
    return { row, names: variants.map((v) => v.name), ns, packets };
  } finally {
    lab.close();
  }
}

/**
 * The allowed-flows row measures what users meet only if notrack's allowed packets really skip conntrack after
 * arriving by ndo_xdp_xmit (the sender's XDP_TX): its receiver must hold no conntrack entry while the tracked
 * variant's fills, and its raw untrack rule must have counted the packets (the TC hook marked them from the XDP
 * metadata).
 */
function checkUntracked(variants: Variant[], receivers: Receiver[]): void {
  const entries = (r: Receiver): number =>
    Number(r.ns.exec(['cat', '/proc/sys/net/netfilter/nf_conntrack_count']).stdout.trim());
  const report: string[] = [];
  variants.forEach((v, i) => {
    const r = receivers[i]!;
    report.push(`${v.name} ${entries(r)}`);
    if (!v.name.startsWith('notrack')) return;
    const raw = r.ns.exec(['iptables-save', '-c', '-t', 'raw']).stdout;
    const untracked = /^\[(\d+):\d+\] -A NOTRACK-PREROUTING .*-j NOTRACK$/m.exec(raw);
    const counted = untracked ? Number(untracked[1]) : 0;
    report.push(`(notrack's raw untrack rule counted ${counted.toLocaleString('en')} packets)`);
    if (entries(r) !== 0 || counted === 0)
      throw new Error(`notrack's allowed flows were tracked: ${entries(r)} conntrack entries, ${counted} untracked`);
  });
  console.log(`  allowed flows, conntrack entries after the rounds: ${report.join(', ')}`);
}

/** Median and spread of the per-round ratio a/b. */
function ratio(res: RowResult, a: string, b: string): { median: number; min: number; max: number } | null {
  const ia = res.names.indexOf(a);
  const ib = res.names.indexOf(b);
  if (ia < 0 || ib < 0) return null;
  const rs = res.ns[ia]!.map((x, k) => x / res.ns[ib]![k]!);
  return { median: median(rs), min: Math.min(...rs), max: Math.max(...rs) };
}

const WHOLE = 'xdp-filter, whole set';
const GROWTH = {
  ten: 'notrack, 10 rules',
  many: 'notrack, 10,000 rules',
  hot: 'notrack, 10,000 rules, sources in 10',
};
const COMMENTED = 'notrack, commented rules';
const PASS_XDP = 'raw NOTRACK + XDP_PASS';
const PASS_XDP_TC = 'raw NOTRACK + XDP_PASS + TC';

const fmtRatio = (r: ReturnType<typeof ratio>): string =>
  r ? `${r.median.toFixed(2)} (${r.min.toFixed(2)}-${r.max.toFixed(2)})` : '—';

/** Columns of each table in this order (those no row of the table has are left out), then the ratios. */
const COLUMNS: Record<Kind, string[]> = {
  growth: [GROWTH.ten, GROWTH.many, GROWTH.hot],
  drop: [
    'no filter',
    'bare XDP_DROP',
    'iptables linear',
    'iptables + ipset',
    'nft set',
    'xdp-filter',
    WHOLE,
    'notrack',
  ],
  allow: ['no filter', 'tracked accept', 'raw NOTRACK rule', PASS_XDP, PASS_XDP_TC, COMMENTED, 'notrack'],
};
const RATIOS: Record<Kind, { key: string; title: string; a: string; b: string }[]> = {
  growth: [
    { key: 'growth', title: '10,000 / 10 rules', a: GROWTH.many, b: GROWTH.ten },
    { key: 'growth_hot', title: '10,000 (sources in 10) / 10 rules', a: GROWTH.hot, b: GROWTH.ten },
  ],
  drop: [
    { key: 'ipset', title: 'ipset / notrack', a: 'iptables + ipset', b: 'notrack' },
    { key: 'nft', title: 'nft / notrack', a: 'nft set', b: 'notrack' },
    { key: 'xdpf', title: 'notrack / xdp-filter', a: 'notrack', b: 'xdp-filter' },
    { key: 'xdpf_whole', title: 'notrack / xdp-filter, whole set', a: 'notrack', b: WHOLE },
    { key: 'pass', title: 'notrack / pass', a: 'notrack', b: 'no filter' },
  ],
  allow: [
    { key: 'raw', title: 'notrack / raw NOTRACK', a: 'notrack', b: 'raw NOTRACK rule' },
    { key: 'raw_xdp', title: `notrack / ${PASS_XDP}`, a: 'notrack', b: PASS_XDP },
    { key: 'raw_xdp_tc', title: `notrack / ${PASS_XDP_TC}`, a: 'notrack', b: PASS_XDP_TC },
    { key: 'xdp_cost', title: `${PASS_XDP} / raw NOTRACK`, a: PASS_XDP, b: 'raw NOTRACK rule' },
    { key: 'commented', title: `${COMMENTED} / raw NOTRACK`, a: COMMENTED, b: 'raw NOTRACK rule' },
  ],
};

/** One markdown table for the rows of one kind; ratios and notrack's figure also go into `out`. */
function printTable(results: RowResult[], kind: Kind, out: Record<string, number | string>): void {
  const used = COLUMNS[kind].filter((c) => results.some((r) => r.names.includes(c)));
  const ratios = RATIOS[kind].filter((q) => results.some((r) => ratio(r, q.a, q.b)));
  console.log('');
  console.log(`| row | ${[...used, ...ratios.map((q) => q.title)].join(' | ')} |`);
  console.log(`|---|${[...used, ...ratios].map(() => '---:').join('|')}|`);
  for (const res of results) {
    const cells = used.map((c) => {
      const i = res.names.indexOf(c);
      return i < 0 ? '—' : Math.round(median(res.ns[i]!)).toLocaleString('en');
    });
    const rs = ratios.map((q) => {
      const r = ratio(res, q.a, q.b);
      if (r) out[`${res.row.name}_${q.key}`] = Number(r.median.toFixed(3));
      return fmtRatio(r);
    });
    console.log(`| ${res.row.label} | ${[...cells, ...rs].join(' | ')} |`);
    const nt = res.names.indexOf('notrack');
    if (nt >= 0) out[`${res.row.name}_notrack_ns`] = Math.round(median(res.ns[nt]!));
  }
}

export async function benchWire(): Promise<Record<string, number | string>> {
  if (process.getuid?.() !== 0) throw new Error('the wire benchmark needs root (it makes network namespaces)');
  const wanted = process.env.NOTRACK_WIRE_ROWS?.split(',').map((s) => s.trim());
  const rows = wanted ? ROWS.filter((r) => wanted.includes(r.name)) : ROWS.filter((r) => !r.optional);
  const work = mkdtempSync(join(tmpdir(), 'notrack-wire-'));
  const startLoad = loadavg();
  console.log(`  ${ROUNDS} rounds x ${FRAMES} frames per variant; load average at start ${startLoad}`);
  const results: RowResult[] = [];
  try {
    for (const row of rows) results.push(runRow(row, work));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  const endLoad = loadavg();

  const out: Record<string, number | string> = {
    rounds: ROUNDS,
    frames: FRAMES,
    load_start: startLoad,
    load_end: endLoad,
  };
  console.log('');
  console.log(
    `Receiver NAPI CPU ns per packet (median of ${ROUNDS} rounds); ratios: median of per-round ratios (min-max)`,
  );
  for (const kind of ['drop', 'allow', 'growth'] as const) {
    const rows = results.filter((r) => r.row.kind === kind);
    if (rows.length > 0) printTable(rows, kind, out);
  }
  const small = results.find((r) => r.row.name === 'deny-10');
  const large = results.find((r) => r.row.name === 'deny-10000');
  if (small && large) {
    const nt = (r: RowResult) => median(r.ns[r.names.indexOf('notrack')]!);
    out.growth_10_to_10000 = Number((nt(large) / nt(small)).toFixed(2));
    console.log(`\nnotrack 10 -> 10,000 rules: x${out.growth_10_to_10000} (goal <= x1.3)`);
  }
  console.log(`load average at start ${startLoad}, at end ${endLoad}`);
  return out;
}

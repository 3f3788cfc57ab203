// Benchmark of the generated policy program: per-packet nanoseconds of the full XDP ingress pipeline (nt_xdp_entry ->
// failsafes -> policy -> epilogue, BPF_PROG_TEST_RUN) at 10 to 10,000 rules with a deny-list set of 1k to 1M prefixes,
// side by side with the naive one-rule-after-another program, and the time to compile and load the largest case.
//
// Usage: npm run bench -- policy-program            (root; the BPF objects must be built)
//        NOTRACK_BENCH_REPEAT=... to change the test-run repeat (default 1,000,000)
import type { DesiredState, IngressEntry, PrefixSet, SideMatch } from '../src/compile/desired-state.js';
import { loadPolicyProgram } from '../src/dataplane/policy-program.js';
import { buildFrame, type PacketSpec } from '../test/support/packets.js';
import { Pipeline } from '../test/support/pipeline.js';
import { mulberry32 } from '../test/support/seeded-random.js';

const RULES = [10, 100, 1_000, 10_000];
const SET_SIZES = [1_000, 100_000, 1_000_000];
const REPEAT = Number(process.env.NOTRACK_BENCH_REPEAT ?? 1_000_000);
const IFACE = 'bench0';

const quad = (n: number): string => `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;

/**
 * A deny list of `size` disjoint prefixes drawn at random: /32 hosts in 100.0.0.0/8 (90%) and /24 nets in
 * 101.0.0.0/8 and 102.0.0.0/8 (10%, at most 131,072 of them); `member` is one of its addresses.
 */
function denyList(size: number): { set: PrefixSet; member: string } {
  const r = mulberry32(size);
  const hosts = new Set<number>();
  const nets = new Set<number>();
  const wantNets = Math.floor(size * 0.1);
  while (nets.size < wantNets) nets.add(Math.floor(r() * 131072));
  while (hosts.size < size - wantNets) hosts.add(Math.floor(r() * 16777216));
  const prefixes: string[] = [];
  for (const h of hosts) prefixes.push(`${quad((100 << 24) + h)}/32`);
  for (const n of nets) prefixes.push(`${quad(((101 << 24) + (n << 8)) >>> 0)}/24`);
  const first = hosts.values().next().value as number;
  return {
    set: { id: 'deny-list', family: 4, prefixes, origin: 'bench deny list' },
    member: quad((100 << 24) + first),
  };
}

const side = (m: Partial<SideMatch> = {}): SideMatch => ({ inSets: [], notInSets: [], ports: [], notPorts: [], ...m });

/** The /24 that rule i's traffic comes from: 10.x.y.0/24. */
const ruleNet = (i: number): number => ((10 << 24) + (i << 8)) >>> 0;

/**
 * `rules` ingress rules: 0 denies the deny list; then, by i % 20: a Log rule (17), an ICMP Pass (19), a TCP Deny of
 * a whole /24 (13), a UDP Allow (7), otherwise a TCP Allow to port 10000 + i from rule i's own /24.
 */
function benchState(rules: number, deny: PrefixSet): DesiredState {
  const sets: Record<string, PrefixSet> = { [deny.id]: deny };
  const v4: IngressEntry[] = [
    {
      counter: 0,
      action: 'Deny',
      protocol: null,
      notProtocol: null,
      icmp: null,
      notICMP: null,
      source: side({ inSets: [deny.id] }),
      destination: side(),
    },
  ];
  for (let i = 1; i < rules; i++) {
    const id = `net-${i}`;
    sets[id] = { id, family: 4, prefixes: [`${quad(ruleNet(i))}/24`], origin: `rule ${i}` };
    const base = { counter: i, notProtocol: null, icmp: null, notICMP: null };
    const kind = i % 20;
    if (kind === 17)
      v4.push({
        ...base,
        action: 'Log',
        protocol: 6,
        source: side(),
        destination: side({ ports: [{ from: 10000 + i, to: 10000 + i }] }),
      });
    else if (kind === 19)
      v4.push({
        ...base,
        action: 'Pass',
        protocol: 1,
        icmp: { type: 8 },
        source: side({ inSets: [id] }),
        destination: side(),
      });
    else if (kind === 13)
      v4.push({ ...base, action: 'Deny', protocol: 6, source: side({ inSets: [id] }), destination: side() });
    else if (kind === 7)
      v4.push({
        ...base,
        action: 'Allow',
        protocol: 17,
        source: side({ inSets: [id] }),
        destination: side({ ports: [{ from: 10000 + i, to: 10005 + i }] }),
      });
    else
      v4.push({
        ...base,
        action: 'Allow',
        protocol: 6,
        source: side({ inSets: [id] }),
        destination: side({ ports: [{ from: 10000 + i, to: 10000 + i }] }),
      });
  }
  return {
    formatVersion: 1,
    host: 'bench',
    hash: `bench-${rules}-${deny.prefixes.length}`,
    config: {
      acceptMark: 0,
      passMark: 0,
      xdpMode: 'native' as DesiredState['config']['xdpMode'],
      logRate: 0,
      logBurst: 0,
    },
    failsafes: [{ direction: 'inbound', protocol: 6, port: 22, net: null }],
    sets,
    interfaces: [
      {
        name: IFACE,
        endpoint: 'bench',
        ingress: { v4, v6: [] },
        counters: v4.map((_, i) => ({ policy: `bench-${i}`, direction: 'ingress' as const, index: 0 })),
      },
    ],
    egress: { interfaces: [], ipsets: [] },
  };
}

/** A TCP Allow rule near `i` (kinds 7, 13, 17 and 19 are something else). */
function allowRuleNear(i: number, rules: number): number {
  for (let j = Math.max(1, Math.min(i, rules - 1)); j >= 1; j--) if (![7, 13, 17, 19].includes(j % 20)) return j;
  return 1;
}

/** Frames that hit different rules, and one that matches none. */
function benchFrames(rules: number, member: string): { name: string; frame: Buffer }[] {
  const tcp = (src: string, dport: number): Buffer =>
    buildFrame({ family: 4, proto: 'tcp', src, dst: '192.0.2.10', sport: 40000, dport } satisfies PacketSpec);
  const hit = (i: number): Buffer => tcp(quad(ruleNet(i) + 7), 10000 + i);
  return [
    { name: 'deny-list', frame: tcp(member, 443) },
    { name: 'first', frame: hit(allowRuleNear(1, rules)) },
    { name: 'middle', frame: hit(allowRuleNear(Math.floor(rules / 2), rules)) },
    { name: 'last', frame: hit(allowRuleNear(rules - 1, rules)) },
    { name: 'miss', frame: tcp('198.51.100.9', 9999) },
  ];
}

interface Row {
  rules: number;
  setSize: number;
  ours: number[];
  naive: number[];
  ourInsns: number;
  naiveInsns: number;
}

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
const fmt = (n: number, d = 1): string => n.toFixed(d);

export async function benchPolicyProgram(): Promise<Record<string, number | string>> {
  const jit = (await import('node:fs')).readFileSync('/proc/sys/net/core/bpf_jit_enable', 'utf8').trim();
  console.log(
    `  policy program: full XDP pipeline per packet, BPF_PROG_TEST_RUN repeat ${REPEAT}, bpf_jit_enable=${jit}`,
  );
  const pl = Pipeline.open();
  const rows: Row[] = [];
  let loadLargest: { total: number; compile: number; fill: number; load: number; insns: number } | null = null;
  const frameNames = benchFrames(10, '100.0.0.1').map((f) => f.name);
  try {
    for (const setSize of SET_SIZES) {
      const { set, member } = denyList(setSize);
      for (const rules of RULES) {
        const state = benchState(rules, set);
        const frames = benchFrames(rules, member);
        const t0 = performance.now();
        const stats = pl.install(state, IFACE);
        const loadMs = performance.now() - t0;
        if (rules === 10_000 && setSize === 1_000_000) {
          loadLargest = {
            total: loadMs,
            compile: stats.ms.compile,
            fill: stats.ms.fill,
            load: stats.ms.load,
            insns: stats.insns,
          };
        }
        const ours = frames.map((f) => pl.time(f.frame, REPEAT));
        const naiveLoad = pl.installNaive(state, IFACE);
        const naive = frames.map((f) => pl.time(f.frame, REPEAT));
        rows.push({ rules, setSize, ours, naive, ourInsns: stats.insns, naiveInsns: naiveLoad.insns });
        console.log(
          `  ${String(rules).padStart(6)} rules, set ${String(setSize).padStart(7)}: ours ${ours.map((x) => fmt(x, 0)).join('/')} ns, ` +
            `naive ${naive.map((x) => fmt(x, 0)).join('/')} ns (${frameNames.join('/')}); load ${fmt(loadMs, 0)} ms, naive load ${fmt(naiveLoad.ms, 0)} ms`,
        );
      }
    }
  } finally {
    pl.close();
  }

  // A fresh compile+load of the largest case, outside the pipeline's warm state (the figure the target is about).
  const { set } = denyList(1_000_000);
  const big = benchState(10_000, set);
  const probe = Pipeline.open();
  try {
    const t0 = performance.now();
    const loaded = loadPolicyProgram({
      state: big,
      iface: IFACE,
      staticMaps: { nt_state: probe.maps.state, nt_jump: probe.maps.jump, nt_counters: probe.maps.counters },
    });
    const total = performance.now() - t0;
    loadLargest = {
      total,
      compile: loaded.stats.ms.compile,
      fill: loaded.stats.ms.fill,
      load: loaded.stats.ms.load,
      insns: loaded.stats.insns,
    };
    loaded.close();
  } finally {
    probe.close();
  }

  console.log('');
  console.log('  rules   deny-list  ours ns/pkt  naive ns/pkt  naive/ours  ours insns  naive insns');
  for (const r of rows) {
    console.log(
      `  ${String(r.rules).padStart(6)}  ${String(r.setSize).padStart(9)}  ${fmt(mean(r.ours)).padStart(11)}  ${fmt(mean(r.naive)).padStart(12)}  ` +
        `${fmt(mean(r.naive) / mean(r.ours), 2).padStart(10)}  ${String(r.ourInsns).padStart(10)}  ${String(r.naiveInsns).padStart(11)}`,
    );
  }
  const at = (rules: number, setSize: number): Row => rows.find((r) => r.rules === rules && r.setSize === setSize)!;
  const out: Record<string, number | string> = {};
  for (const setSize of SET_SIZES) {
    const small = mean(at(10, setSize).ours);
    const large = mean(at(10_000, setSize).ours);
    const naiveLarge = mean(at(10_000, setSize).naive);
    out[`ratio_10_to_10k_set${setSize}`] = Number((large / small).toFixed(2));
    out[`naive_over_ours_10k_set${setSize}`] = Number((naiveLarge / large).toFixed(1));
  }
  for (const r of rows) {
    out[`ours_ns_${r.rules}_set${r.setSize}`] = Number(mean(r.ours).toFixed(1));
    out[`naive_ns_${r.rules}_set${r.setSize}`] = Number(mean(r.naive).toFixed(1));
  }
  if (loadLargest) {
    out.load_10k_1M_ms = Math.round(loadLargest.total);
    out.load_10k_1M_parts = `compile ${Math.round(loadLargest.compile)} ms, fill ${Math.round(loadLargest.fill)} ms, verify ${Math.round(loadLargest.load)} ms`;
  }
  console.log('');
  console.log(
    `  per packet, 10 -> 10,000 rules: ${SET_SIZES.map((s) => `x${out[`ratio_10_to_10k_set${s}`]} (set ${s})`).join(', ')}; target <= x2`,
  );
  console.log(
    `  naive / ours at 10,000 rules: ${SET_SIZES.map((s) => `x${out[`naive_over_ours_10k_set${s}`]} (set ${s})`).join(', ')}; target >= x10`,
  );
  console.log(
    `  compile + load 10,000 rules with 1M prefixes: ${out.load_10k_1M_ms} ms (${out.load_10k_1M_parts}); target <= 3000 ms`,
  );
  return out;
}

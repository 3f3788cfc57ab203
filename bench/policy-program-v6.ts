// Benchmark of the IPv6 address lookup: the kernel's LPM trie (before) against the per-length hash searched by
// binary search on prefix lengths (src/compile/program/ipv6-lengths.ts), both loaded side by side, over the full XDP
// ingress pipeline (BPF_PROG_TEST_RUN) with 10,000 distinct IPv6 sources cycled, not one frame repeated: ns per
// packet of runs of 100,000 packets whose source a driver program rewrites from the pool (SourceCycler), and the
// distribution of one run per frame (the kernel's timer and a cold start included); the address map's kernel memory.
//
// Usage: npm run bench -- policy-program-v6             (root; the BPF objects must be built)
//        NOTRACK_BENCH_V6_PASSES=... passes over the sources per variant (default 6), interleaved
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import type { DesiredState, IngressEntry, PrefixSet } from '../src/compile/desired-state.js';
import { loadPolicyProgram } from '../src/dataplane/policy-program.js';
import { FP, patchMapFds, ProgramBuilder, R0, R1, R2, R3, R4, R5, R6, R7 } from '../src/asm/index.js';
import { MapType } from '../src/abi/bpf-uapi.js';
import { POLICY_PROGRAM_LOAD } from '../src/abi/notrack.js';
import {
  createMap,
  loadProgram,
  setProgramSlot,
  testRunXdp,
  type BpfMap,
  type BpfProgram,
} from '../src/libbpf/index.js';
import { buildFrame } from '../test/support/packets.js';
import { Pipeline, XDP_DROP, XDP_PASS } from '../test/support/pipeline.js';
import { mulberry32, type Rng } from '../test/support/seeded-random.js';
import {
  ingressEntry,
  ingressState,
  IPV6_ALL,
  ipv6Mask,
  ipv6Text,
  randomBits,
  sideMatch,
} from '../test/support/ipv6-policy.js';

const PASSES = Number(process.env.NOTRACK_BENCH_V6_PASSES ?? 6);
const SOURCES = 10_000;
/** Packets per cycled run: ten times round the 10,000 sources. */
const CYCLE_REPEAT = 100_000;
const IFACE = 'bench0';
const VARIANTS = ['lpm', 'lengths'] as const;
type Variant = (typeof VARIANTS)[number];
const LABEL: Record<Variant, string> = { lpm: 'LPM trie', lengths: 'length hash' };

const side = sideMatch;
const entry = ingressEntry;
const randomBig = randomBits;
const text = ipv6Text;
const hostMask = (len: number): bigint => IPV6_ALL ^ ipv6Mask(len);

interface Row {
  name: string;
  state: DesiredState;
  /** 10,000 distinct deny-listed sources, and 10,000 distinct sources no rule denies. */
  denied: Buffer[];
  passed: Buffer[];
}

const stateOf = (entries: IngressEntry[], sets: Record<string, PrefixSet>, hash: string): DesiredState =>
  ingressState({
    family: 6,
    entries,
    sets: Object.fromEntries(Object.entries(sets).map(([id, set]) => [id, set.prefixes])),
    iface: IFACE,
    hash,
    failsafes: [{ direction: 'inbound', protocol: 6, port: 22, net: null }],
  });

const frame = (src: bigint): Buffer =>
  buildFrame({ family: 6, proto: 'udp', src: text(src), dst: '2001:db8:ffff::10', sport: 40000, dport: 5353 });

/** The trailing rule of every state: UDP to port 53 allowed from anywhere (so a passed packet is scanned). */
const allowDns = (counter: number): IngressEntry =>
  entry(counter, { action: 'Allow', protocol: 17, destination: side({ ports: [{ from: 53, to: 53 }] }) });

/**
 * `rules` deny rules, rule i a source net of its own under 2001:db8:i::/48, of length 48, 52, 56, 60 or 64 by i % 5
 * (five lengths: a search of three probes), then the Allow. Sources: spread over the rules, random below each net.
 */
function denyRules(rules: number): Row {
  const r = mulberry32(rules);
  const sets: Record<string, PrefixSet> = {};
  const v6: IngressEntry[] = [];
  const nets: { net: bigint; len: number }[] = [];
  for (let i = 0; i < rules; i++) {
    const len = 48 + 4 * (i % 5);
    const net = (0x20010db8n << 96n) | (BigInt(i) << 80n);
    nets.push({ net, len });
    sets[`n${i}`] = { id: `n${i}`, family: 6, prefixes: [`${text(net)}/${len}`], origin: `rule ${i}` };
    v6.push(entry(i, { source: side({ inSets: [`n${i}`] }) }));
  }
  v6.push(allowDns(rules));
  const denied = Array.from({ length: SOURCES }, (_, k) => {
    const { net, len } = nets[k % rules]!;
    return frame(net | (randomBig(r, 128 - len) & hostMask(len)));
  });
  // Not deny-listed: 2001:db8:ffff::/48 and beyond, which no rule names.
  const passed = Array.from({ length: SOURCES }, () => frame((0x20010db8ffffn << 80n) | randomBig(r, 80)));
  return {
    name: `${rules.toLocaleString('en-US')} deny rules`,
    state: stateOf(v6, sets, `v6-rules-${rules}`),
    denied,
    passed,
  };
}

/** One rule denying a set of `size` prefixes: 90% /128 hosts and 10% /64 nets, random in 2001:db8:100::/40. */
function denySet(size: number): Row {
  const r = mulberry32(size);
  const base = (0x20010db8n << 96n) | (0x100n << 80n);
  const seen = new Set<bigint>();
  const members: { net: bigint; len: number }[] = [];
  while (members.length < size) {
    const len = members.length < size * 0.9 ? 128 : 64;
    const net = base | (randomBig(r, 88) & ~hostMask(len));
    const key = (net << 8n) | BigInt(len);
    if (seen.has(key)) continue;
    seen.add(key);
    members.push({ net, len });
  }
  const set: PrefixSet = {
    id: 'deny-list',
    family: 6,
    prefixes: members.map((m) => `${text(m.net)}/${m.len}`),
    origin: 'bench deny list',
  };
  const v6 = [entry(0, { source: side({ inSets: ['deny-list'] }) }), allowDns(1)];
  const picks = new Set<number>();
  while (picks.size < SOURCES) picks.add(Math.floor(r() * size));
  const denied = [...picks].map((i) => {
    const { net, len } = members[i]!;
    return frame(net | (randomBig(r, 128 - len) & hostMask(len)));
  });
  const passed = Array.from({ length: SOURCES }, () => frame((0x20010db8ffffn << 80n) | randomBig(r, 80)));
  return {
    name: `one set of ${size.toLocaleString('en-US')} prefixes`,
    state: stateOf(v6, { 'deny-list': set }, `v6-set-${size}`),
    denied,
    passed,
  };
}

/**
 * A driver for BPF_PROG_TEST_RUN with many sources: an XDP program that writes the next address of a pool into the
 * frame's IPv6 source (a counter in a map cycles through the pool), then tail-calls nt_xdp_entry. One test run of
 * `repeat` iterations then sends `repeat` packets from the pool's sources, cycled, with the syscall and the kernel's
 * timer paid once: the per-packet figure of the full pipeline, plus the driver's two array lookups and 16-byte copy.
 */
class SourceCycler {
  readonly #maps: BpfMap[] = [];
  readonly #prog: BpfProgram;
  constructor(entry: BpfProgram, pool: readonly Buffer[]) {
    const counter = createMap({ type: MapType.ARRAY, name: 'drv_ctr', keySize: 4, valueSize: 4, maxEntries: 1 });
    this.#maps.push(counter);
    const sources = createMap({
      type: MapType.ARRAY,
      name: 'drv_pool',
      keySize: 4,
      valueSize: 16,
      maxEntries: pool.length,
    });
    this.#maps.push(sources);
    sources.updateBatch(pool.map((value, key) => ({ key, value })));
    const jump = createMap({ type: MapType.PROG_ARRAY, name: 'drv_jump', keySize: 4, valueSize: 4, maxEntries: 1 });
    this.#maps.push(jump);
    setProgramSlot(jump, 0, entry);
    const p = new ProgramBuilder();
    p.mov64(R6, R1); // R6 = ctx
    p.st('u32', FP, -4, 0); // key = 0
    p.ldMap(R1, 'drv_ctr'); // R1 = the counter
    p.mov64(R2, FP); // R2 = fp
    p.alu64('add', R2, -4); // R2 = the key
    p.call('map_lookup_elem'); // R0 = the counter
    p.jmp('jeq', R0, 0, 'out'); // (cannot happen)
    p.ldx('u32', R7, R0, 0); // R7 = this packet's source index
    p.mov32(R3, R7); // R3 = the index
    p.alu32('add', R3, 1); // R3 = the next one
    p.jmp('jlt', R3, pool.length, 'keep'); // still in the pool
    p.mov32(R3, 0); // else back to the first
    p.label('keep');
    p.stx('u32', R0, 0, R3); // the counter = the next index
    p.stx('u32', FP, -8, R7); // key = this index
    p.ldMap(R1, 'drv_pool'); // R1 = the pool
    p.mov64(R2, FP); // R2 = fp
    p.alu64('add', R2, -8); // R2 = the key
    p.call('map_lookup_elem'); // R0 = the source address
    p.jmp('jeq', R0, 0, 'out'); // (cannot happen)
    p.ldx('u32', R2, R6, 0); // R2 = ctx->data
    p.ldx('u32', R3, R6, 4); // R3 = ctx->data_end
    p.mov64(R4, R2); // R4 = data
    p.alu64('add', R4, IPV6_SRC_OFFSET + 16); // R4 = the end of the source address
    p.jmp('jgt', R4, R3, 'out'); // a frame too short (cannot happen)
    for (let k = 0; k < 16; k += 4) {
      p.ldx('u32', R5, R0, k); // R5 = 4 bytes of the source
      p.stx('u32', R2, IPV6_SRC_OFFSET + k, R5); // into the frame
    }
    p.mov64(R1, R6); // R1 = ctx
    p.ldMap(R2, 'drv_jump'); // R2 = the jump table
    p.mov64(R3, 0); // R3 = slot 0: nt_xdp_entry
    p.call('tail_call'); // into the pipeline
    p.label('out');
    p.mov64(R0, XDP_PASS); // (the tail call failed)
    p.exit();
    this.#prog = loadProgram({
      type: POLICY_PROGRAM_LOAD.progType,
      expectedAttachType: POLICY_PROGRAM_LOAD.expectedAttachType,
      flags: POLICY_PROGRAM_LOAD.progFlags,
      name: 'nt_bench_cycle',
      license: 'Apache-2.0',
      insns: patchMapFds(p.assemble(), { drv_ctr: counter.fd.fd, drv_pool: sources.fd.fd, drv_jump: jump.fd.fd }),
    });
  }

  /** Mean nanoseconds per packet over `repeat` packets (the pool cycled), as the kernel measured the run. */
  time(frame: Buffer, repeat: number): number {
    return testRunXdp(this.#prog, { packet: frame, repeat }).durationNs;
  }

  close(): void {
    this.#prog.close();
    for (const m of this.#maps) m.close();
  }
}

/** Where an untagged IPv6 frame holds its source address: Ethernet (14) + 8. */
const IPV6_SRC_OFFSET = 22;

/** The kernel's memory for a map (memlock in fdinfo: the map's own accounting of its memory). */
function mapMemory(fd: number): number {
  const m = /^memlock:\s+(\d+)/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

interface Measured {
  /** Nanoseconds per run, as the kernel measured each (one run per frame). */
  denied: number[];
  passed: number[];
  /** Nanoseconds per packet of each cycled run (SourceCycler: CYCLE_REPEAT packets from the pool). */
  cycledDenied: number[];
  cycledPassed: number[];
  cpuMs: number;
  wallMs: number;
  addressBytes: number;
  mapsBytes: number;
  loadMs: number;
  elements: number;
}

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
const median = (xs: number[]): number => pct(xs, 50);
const f0 = (n: number): string => Math.round(n).toLocaleString('en-US');
const mib = (b: number): string => (b / 2 ** 20).toFixed(2);

function shuffled<T>(r: Rng, xs: readonly T[]): T[] {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

function measureRow(row: Row): Record<Variant, Measured> {
  const pipelines = {} as Record<Variant, Pipeline>;
  const cycled = {} as Record<Variant, { denied: SourceCycler; passed: SourceCycler }>;
  const cyclers: SourceCycler[] = [];
  const out = {} as Record<Variant, Measured>;
  try {
    for (const v of VARIANTS) {
      // Memory and load time from a load of its own (the pipeline's maps are private to it).
      const probe = Pipeline.open();
      try {
        const t0 = performance.now();
        const loaded = loadPolicyProgram({
          state: row.state,
          iface: IFACE,
          ipv6Table: v,
          staticMaps: { nt_state: probe.maps.state, nt_jump: probe.maps.jump, nt_counters: probe.maps.counters },
        });
        const loadMs = performance.now() - t0;
        let mapsBytes = 0;
        for (const m of loaded.maps.values()) mapsBytes += mapMemory(m.fd.fd);
        const src = loaded.maps.get('ntp6_src')!;
        out[v] = {
          denied: [],
          passed: [],
          cycledDenied: [],
          cycledPassed: [],
          cpuMs: 0,
          wallMs: 0,
          addressBytes: mapMemory(src.fd.fd),
          mapsBytes,
          loadMs,
          elements: loaded.stats.mapEntries.ntp6_src ?? 0,
        };
        loaded.close();
      } finally {
        probe.close();
      }
      pipelines[v] = Pipeline.open();
      pipelines[v].install(row.state, IFACE, { ipv6Table: v });
      const pool = (frames: Buffer[]): Buffer[] => frames.map((f) => f.subarray(IPV6_SRC_OFFSET, IPV6_SRC_OFFSET + 16));
      cyclers.push(
        (cycled[v] = {
          denied: new SourceCycler(pipelines[v].entry, pool(row.denied)),
          passed: new SourceCycler(pipelines[v].entry, pool(row.passed)),
        }).denied,
        cycled[v].passed,
      );
    }
    const r = mulberry32(PASSES);
    for (let pass = 0; pass < PASSES; pass++) {
      const order = pass % 2 === 0 ? VARIANTS : [...VARIANTS].reverse();
      const denied = shuffled(r, row.denied);
      const passed = shuffled(r, row.passed);
      for (const v of order) {
        const pl = pipelines[v];
        const c0 = process.cpuUsage();
        const t0 = performance.now();
        for (const f of denied) out[v].denied.push(pl.time(f, 1));
        for (const f of passed) out[v].passed.push(pl.time(f, 1));
        out[v].cycledDenied.push(cycled[v].denied.time(row.denied[0]!, CYCLE_REPEAT));
        out[v].cycledPassed.push(cycled[v].passed.time(row.passed[0]!, CYCLE_REPEAT));
        out[v].wallMs += performance.now() - t0;
        const c = process.cpuUsage(c0);
        out[v].cpuMs += (c.user + c.system) / 1000;
      }
    }
    // The verdicts: every deny-listed frame dropped, every other one passed (the Allow does not take port 5353).
    for (const v of VARIANTS) {
      const pl = pipelines[v];
      for (const f of row.denied.slice(0, 200))
        if (pl.run(f).action !== XDP_DROP) throw new Error(`${v}: a listed source passed`);
      for (const f of row.passed.slice(0, 200))
        if (pl.run(f).action !== XDP_PASS) throw new Error(`${v}: a free source dropped`);
    }
  } finally {
    for (const c of cyclers) c.close();
    for (const v of VARIANTS) pipelines[v]?.close();
  }
  return out;
}

export async function benchPolicyProgramV6(): Promise<Record<string, number | string>> {
  const jit = readFileSync('/proc/sys/net/core/bpf_jit_enable', 'utf8').trim();
  const loadStart = loadavg();
  console.log(
    `  IPv6 address lookup: full XDP pipeline, BPF_PROG_TEST_RUN one run per frame, ${SOURCES.toLocaleString('en-US')} ` +
      `distinct sources x ${PASSES} passes per variant, interleaved; bpf_jit_enable=${jit}; ${cpus().length} CPUs; ` +
      `load ${loadStart.map((x) => x.toFixed(2)).join(' ')}`,
  );
  const rows = [() => denyRules(10), () => denyRules(1_000), () => denyRules(10_000), () => denySet(100_000)];
  const out: Record<string, number | string> = {};
  const lines: string[] = [];
  for (const make of rows) {
    const row = make();
    const m = measureRow(row);
    for (const v of VARIANTS) {
      const x = m[v];
      console.log(
        `  ${row.name.padEnd(30)} ${LABEL[v].padEnd(11)} cycled: denied ${f0(median(x.cycledDenied))} passed ${f0(median(x.cycledPassed))} ns; one run per frame: denied p50 ${f0(pct(x.denied, 50))} p90 ${f0(pct(x.denied, 90))} ` +
          `p99 ${f0(pct(x.denied, 99))} mean ${f0(mean(x.denied))} ns; passed p50 ${f0(pct(x.passed, 50))} ns; ` +
          `address map ${mib(x.addressBytes)} MiB (${x.elements.toLocaleString('en-US')} elements), all maps ${mib(x.mapsBytes)} MiB; ` +
          `load ${f0(x.loadMs)} ms; CPU ${f0(x.cpuMs)} ms in ${f0(x.wallMs)} ms wall`,
      );
    }
    const [a, b] = [m.lpm, m.lengths];
    const ratio = median(a.cycledDenied) / median(b.cycledDenied);
    lines.push(
      `| ${row.name} | ${f0(median(a.cycledDenied))} | ${f0(median(b.cycledDenied))} | ${ratio.toFixed(2)} | ` +
        `${f0(median(a.cycledPassed))} | ${f0(median(b.cycledPassed))} | ` +
        `${f0(pct(a.denied, 50))} / ${f0(pct(a.denied, 99))} | ${f0(pct(b.denied, 50))} / ${f0(pct(b.denied, 99))} | ` +
        `${mib(a.addressBytes)} | ${mib(b.addressBytes)} (${b.elements.toLocaleString('en-US')}) |`,
    );
    const key = row.name.split(' ').slice(0, 4).join('_').replace(/,/g, '');
    out[`lpm_denied_ns_${key}`] = Math.round(median(a.cycledDenied));
    out[`hash_denied_ns_${key}`] = Math.round(median(b.cycledDenied));
    out[`lpm_over_hash_${key}`] = Number(ratio.toFixed(2));
  }
  const loadEnd = loadavg();
  console.log('');
  console.log(
    '| row | denied, LPM trie | denied, length hash | LPM / hash | passed, LPM trie | passed, length hash | ' +
      'one run per frame, denied p50 / p99: LPM | same: hash | LPM map MiB | hash map MiB (elements) |',
  );
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const l of lines) console.log(l);
  console.log(`  load average at the end ${loadEnd.map((x) => x.toFixed(2)).join(' ')}`);
  return out;
}

// The policy program at scale and across parts: a 1,000,000-prefix set, 10,000 rules through the verifier, a scan
// forced to continue in the continuation part (and what happens without it), and a continuation that meets a
// program of another generation.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { evaluatePacket } from '../../src/compile/evaluate.js';
import type { DesiredState, IngressEntry, PacketDescription, SideMatch } from '../../src/compile/desired-state.js';
import { loadPolicyProgram } from '../../src/dataplane/policy-program.js';
import { JumpSlot } from '../../src/abi/notrack.js';
import { readdirSync } from 'node:fs';
import { clearProgramSlot, openPinnedMap, setProgramSlot } from '../../src/libbpf/index.js';
import { pinDir } from '../support/netns.js';
import { expectedAction, frameFor, Pipeline, XDP_DROP, XDP_PASS } from '../support/pipeline.js';
import { kernelGate } from '../support/kernel-gate.js';

const gate = kernelGate('program-scale');
const kernelTest = gate.test;

let pl: Pipeline;
test.before(() => {
  if (gate.runs) pl = Pipeline.open();
});
test.after(() => {
  if (gate.runs) pl.close();
});

const side = (m: Partial<SideMatch> = {}): SideMatch => ({ inSets: [], notInSets: [], ports: [], notPorts: [], ...m });
const quad = (n: number): string => `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;

function state(v4: IngressEntry[], sets: Record<string, string[]>, hash = ''): DesiredState {
  return {
    formatVersion: 1,
    host: 'h',
    hash,
    config: {
      acceptMark: 0,
      passMark: 0,
      xdpMode: 'native' as DesiredState['config']['xdpMode'],
      logRate: 0,
      logBurst: 0,
    },
    failsafes: [],
    sets: Object.fromEntries(
      Object.entries(sets).map(([id, prefixes]) => [id, { id, family: 4, prefixes, origin: id } as const]),
    ),
    interfaces: [
      {
        name: 'eth0',
        endpoint: 'ep',
        ingress: { v4, v6: [] },
        counters: v4.map((_, i) => ({ policy: `p${i}`, direction: 'ingress' as const, index: 0 })),
      },
    ],
    egress: { interfaces: [], ipsets: [] },
  };
}

/**
 * `n` rules of several shapes: TCP Allow to port 10000 + i from rule i's own /24 (10.x.y.0/24), a TCP Deny from a
 * /24 every 13th, a UDP Pass every 7th, a Log every 17th.
 */
function manyRules(n: number): { v4: IngressEntry[]; sets: Record<string, string[]> } {
  const sets: Record<string, string[]> = {};
  const v4: IngressEntry[] = [];
  for (let i = 0; i < n; i++) {
    const id = `net${i}`;
    sets[id] = [`${quad(((10 << 24) + (i << 8)) >>> 0)}/24`];
    const base = { counter: i, notProtocol: null, icmp: null, notICMP: null };
    if (i % 17 === 16)
      v4.push({
        ...base,
        action: 'Log',
        protocol: 6,
        source: side(),
        destination: side({ ports: [{ from: 10000 + i, to: 10000 + i }] }),
      });
    else if (i % 13 === 12)
      v4.push({ ...base, action: 'Deny', protocol: 6, source: side({ inSets: [id] }), destination: side() });
    else if (i % 7 === 6)
      v4.push({
        ...base,
        action: 'Pass',
        protocol: 17,
        source: side({ inSets: [id] }),
        destination: side({ ports: [{ from: 10000 + i, to: 10010 + i }] }),
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
  return { v4, sets };
}

/** Packets aimed at rule i: from its /24 to its port, TCP and UDP, and one port past it. */
function packetsFor(i: number): PacketDescription[] {
  const src = quad(((10 << 24) + (i << 8) + 9) >>> 0);
  return [
    { family: 4, protocol: 6, src, dst: '192.0.2.1', sport: 5555, dport: 10000 + i },
    { family: 4, protocol: 17, src, dst: '192.0.2.1', sport: 5555, dport: 10000 + i },
    { family: 4, protocol: 6, src, dst: '192.0.2.1', sport: 5555, dport: 10001 + i },
  ];
}

function agrees(s: DesiredState, packets: PacketDescription[]): void {
  for (const p of packets) {
    const want = expectedAction(evaluatePacket(s, 'eth0', p).outcome);
    assert.equal(pl.run(frameFor(p)), want, JSON.stringify(p));
  }
}

kernelTest('a set of 1,000,000 prefixes loads and classifies: members are denied, others are not', () => {
  const prefixes: string[] = [];
  // 1M distinct /32s spread over 100.0.0.0/8 (every 16th address).
  for (let i = 0; i < 1_000_000; i++) prefixes.push(`${quad(((100 << 24) + i * 16) >>> 0)}/32`);
  const s = state(
    [
      {
        counter: 0,
        action: 'Deny',
        protocol: null,
        notProtocol: null,
        icmp: null,
        notICMP: null,
        source: side({ inSets: ['deny'] }),
        destination: side(),
      },
      {
        counter: 1,
        action: 'Allow',
        protocol: 6,
        notProtocol: null,
        icmp: null,
        notICMP: null,
        source: side(),
        destination: side(),
      },
    ],
    { deny: prefixes },
  );
  const t0 = performance.now();
  const stats = pl.install(s, 'eth0');
  console.log(
    `1M-prefix set: loaded in ${Math.round(performance.now() - t0)} ms (${JSON.stringify(stats.ms)}), ${stats.mapEntries.ntp4_src} groups of the IPv4 table, ${stats.records.v4} records`,
  );
  // The DIR-16-8-8 table: the 256 elements of the first table plus one group per /16 and per /24 holding members.
  assert.ok(stats.mapEntries.ntp4_src! > 256 && stats.mapEntries.ntp4_src! < 1_000_000);
  assert.ok(stats.records.v4 <= 4);
  const tcp = (src: string): PacketDescription => ({
    family: 4,
    protocol: 6,
    src,
    dst: '192.0.2.1',
    sport: 1,
    dport: 2,
  });
  for (const i of [0, 1, 499_999, 999_999]) {
    assert.is(pl.run(frameFor(tcp(quad(((100 << 24) + i * 16) >>> 0)))).action, XDP_DROP, `member ${i}`);
    assert.equal(
      pl.run(frameFor(tcp(quad(((100 << 24) + i * 16 + 1) >>> 0)))),
      { action: XDP_PASS, accepted: true },
      `next to member ${i}`,
    );
  }
});

kernelTest("the verifier takes 10,000 rules, and their verdicts are the reference evaluator's", () => {
  const { v4, sets } = manyRules(10_000);
  const s = state(v4, sets);
  const stats = pl.install(s, 'eth0');
  console.log(
    `10,000 rules: ${stats.insns} instructions, ${stats.verifiedInsns} verified, ${stats.records.v4} records, loaded in ${JSON.stringify(stats.ms)}`,
  );
  assert.ok(stats.verifiedInsns < 200_000, `verified ${stats.verifiedInsns}`);
  agrees(s, [0, 1, 12, 16, 500, 4095, 4096, 6543, 9998, 9999].flatMap(packetsFor));
});

kernelTest(
  'a scan forced across parts (one step per part) gets the same verdicts, through the continuation slot',
  () => {
    const { v4, sets } = manyRules(300);
    const s = state(v4, sets);
    const stats = pl.install(s, 'eth0', { steps: 1 });
    assert.is(stats.steps.v4, 1);
    const packets = [3, 150, 298, 299].flatMap(packetsFor);
    agrees(s, packets);
    // Without the continuation the first part cannot finish: the failed tail call is counted and the packet passes
    // tracked (never dropped, never accepted by mistake).
    clearProgramSlot(pl.maps.jump, JumpSlot.splitFirst);
    const before = pl.counter('tailCallFailed').packets;
    const deny = packetsFor(298)[0]!; // rule 298 (298 % 13 === 12) denies
    assert.is(evaluatePacket(s, 'eth0', deny).outcome, 'deny');
    assert.equal(pl.run(frameFor(deny)), { action: XDP_PASS, accepted: false });
    assert.is(pl.counter('tailCallFailed').packets - before, 1n);
  },
);

kernelTest('a continuation that finds another generation in its slot starts the packet over there', () => {
  const a = manyRules(300);
  const b = manyRules(300);
  // Policy B denies everything that A allows, by turning A's Allow rules into Deny.
  for (const e of b.v4) if (e.action === 'Allow') e.action = 'Deny';
  const sa = state(a.v4, a.sets, 'policy-a');
  const sb = state(b.v4, b.sets, 'policy-b');
  const staticMaps = { nt_state: pl.maps.state, nt_jump: pl.maps.jump, nt_counters: pl.maps.counters };
  const pa = loadPolicyProgram({ state: sa, iface: 'eth0', staticMaps, steps: 1 });
  const pb = loadPolicyProgram({ state: sb, iface: 'eth0', staticMaps, steps: 1 });
  try {
    assert.is.not(pa.stats.generation, pb.stats.generation);
    // A packet starts in A (slot 0) and continues in B (slot 4), as during a switch from A to B.
    setProgramSlot(pl.maps.jump, JumpSlot.splitFirst, pb.program);
    setProgramSlot(pl.maps.jump, JumpSlot.policy, pa.program);
    const p = packetsFor(150)[0]!;
    assert.is(evaluatePacket(sa, 'eth0', p).outcome, 'allow');
    assert.is(evaluatePacket(sb, 'eth0', p).outcome, 'deny');
    assert.equal(pl.run(frameFor(p)), expectedAction('deny'), 'B evaluated the whole packet');
  } finally {
    pa.close();
    pb.close();
  }
});

kernelTest(
  'the loader reports its progress, pins the program and its maps where asked, and closes what it holds',
  () => {
    const { v4, sets } = manyRules(2000);
    const pins = pinDir();
    try {
      const seen: string[] = [];
      const loaded = loadPolicyProgram({
        state: state(v4, sets),
        iface: 'eth0',
        pinDir: pins.path,
        staticMaps: { nt_state: pl.maps.state, nt_jump: pl.maps.jump, nt_counters: pl.maps.counters },
        onProgress: (p) => seen.push(p.phase === 'fill' ? `fill ${p.map} ${p.done}/${p.total}` : p.phase),
      });
      try {
        assert.equal(seen.slice(0, 1), ['compile']);
        assert.is(seen.at(-1), 'load');
        assert.ok(seen.includes('fill ntp4_dport 65537/65537'), seen.join(', '));
        // (A new bpffs mount also shows the kernel's own maps.debug and progs.debug.)
        const pinned = readdirSync(pins.path)
          .filter((n) => !n.endsWith('.debug'))
          .sort();
        assert.equal(pinned, [...loaded.maps.keys(), 'nt_policy'].sort());
        const records = openPinnedMap(`${pins.path}/ntp4_rec`);
        assert.is(records.maxEntries, loaded.stats.records.v4);
        records.close();
        assert.equal(
          loaded.parts.map((p) => p.id),
          [loaded.program.id, loaded.program.id],
        );
      } finally {
        loaded.close();
      }
    } finally {
      pins.cleanup();
    }
  },
);

test.run();

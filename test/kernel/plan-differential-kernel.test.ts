// The traffic plan against the kernel: random repositories and pull requests (the unit differential test's
// generator), every ingress change region's example packet and a few more packets inside each region run through
// the compiled XDP pipeline of the base and of the head revision (BPF_PROG_TEST_RUN): the kernel must decide each as
// the region says, before and after.
//
// Replay a failure with the seed it prints: NOTRACK_SEED=<seed> node --import tsx scripts/test-runner/run-file.mjs
// test/kernel/plan-differential-kernel.test.ts; NOTRACK_CASES=<n> changes the number of packets (default 1,000).
import * as assert from 'uvu/assert';
import { test } from 'uvu';
import { loadResources } from '../../src/model/load-resources.js';
import { compileAll } from '../../src/compile/compile-host.js';
import type { DesiredState, InterfaceState, PacketDescription } from '../../src/compile/desired-state.js';
import { interfaceState } from '../../src/compile/evaluate.js';
import { formatPacket } from '../../src/compile/packet-text.js';
import { packetFrame } from '../../src/dataplane/frames.js';
import { XdpTestRun } from '../../src/dataplane/test-run.js';
import { Limits } from '../../src/abi/notrack.js';
import type { Decider } from '../../src/traffic/decisions.js';
import { ruleKey } from '../../src/traffic/decisions.js';
import { TrafficDiffer } from '../../src/traffic/diff.js';
import { examplePacket } from '../../src/traffic/regions.js';
import { addressText, F, NO_ICMP, NO_PORT, type Box } from '../../src/traffic/space.js';
import type { IpFamily } from '../../src/net/cidr.js';
import { randomPolicyPair } from '../support/random-policies.js';
import { mulberry32, type Rng } from '../support/seeded-random.js';
import { kernelGate } from '../support/kernel-gate.js';

const gate = kernelGate('plan-differential-kernel');
const SEED = process.env.NOTRACK_SEED !== undefined ? Number(process.env.NOTRACK_SEED) : Date.now() % 1_000_000_007;
const TOTAL = Number(process.env.NOTRACK_CASES ?? 1_000);
/** Packets per box besides its example. */
const PER_BOX = 3;

/** A random packet of the box (boxes of a change region lie inside one packet shape). */
function packetIn(r: Rng, family: IpFamily, box: Box): PacketDescription {
  const value = (f: number): bigint => {
    const ranges = box[f]!.ranges();
    const [lo, hi] = ranges[Math.floor(r() * ranges.length)]!;
    const span = hi - lo + 1n;
    let v = 0n;
    for (let bits = 0n; 1n << bits < span; bits += 16n) v = (v << 16n) | BigInt(Math.floor(r() * 65536));
    return lo + (v % span);
  };
  const p: PacketDescription = {
    family,
    protocol: Number(value(F.proto)),
    src: addressText(family, value(F.src)),
    dst: addressText(family, value(F.dst)),
  };
  if (value(F.frag) === 1n) p.laterFragment = true;
  const sport = value(F.sport);
  if (sport !== NO_PORT) {
    p.sport = Number(sport);
    p.dport = Number(value(F.dport));
  }
  const type = value(F.icmpType);
  if (type !== NO_ICMP) {
    p.icmpType = Number(type);
    p.icmpCode = Number(value(F.icmpCode));
  }
  return p;
}

/** What the kernel's counters can tell: outcome, reason and rule (not which failsafe). */
const claim = (d: Decider): string => `${d.outcome}|${d.reason}|${d.rule ? ruleKey(d.rule) : ''}`;

gate.test(`every ingress change region decides in the kernel as the plan says, before and after (seed ${SEED})`, () => {
  const r = mulberry32(SEED);
  const withPolicy = XdpTestRun.open({ ruleCounters: Limits.ruleCountersMax });
  const without = XdpTestRun.open();
  let packets = 0,
    regions = 0,
    pairs = 0;
  /** Runs each packet through one state's program for the interface, installed once. */
  const kernel = (state: DesiredState | null, iface: string, list: PacketDescription[]): string[] => {
    const ifc: InterfaceState | null = state ? interfaceState(state, iface) : null;
    const run = ifc ? withPolicy : without;
    if (ifc) run.install(state!, ifc);
    return list.map((p) => {
      const v = run.verdict(packetFrame(p), ifc);
      return `${v.outcome}|${v.reason}|${v.rule ? ruleKey(v.rule) : ''}`;
    });
  };
  try {
    while (packets < TOTAL) {
      pairs++;
      const pair = randomPolicyPair(r);
      const [base, head] = [loadResources(pair.base), loadResources(pair.head)];
      assert.ok(base.valid && head.valid, 'the generator makes valid policy');
      const [bs, hs] = [compileAll(base.resources), compileAll(head.resources)];
      const differ = new TrafficDiffer();
      for (const host of new Set([...bs.keys(), ...hs.keys()])) {
        const b = bs.get(host) ?? null,
          h = hs.get(host) ?? null;
        const byIface = new Map<string, { p: PacketDescription; before: string; after: string }[]>();
        for (const c of differ.host(b, h)) {
          if (c.direction !== 'ingress') continue;
          regions++;
          const list = byIface.get(c.interface) ?? [];
          for (const box of c.boxes.slice(0, 4)) {
            const sample = [
              examplePacket(c.family, box),
              ...Array.from({ length: PER_BOX }, () => packetIn(r, c.family, box)),
            ];
            for (const p of sample) list.push({ p, before: claim(c.before), after: claim(c.after) });
          }
          byIface.set(c.interface, list);
        }
        for (const [iface, list] of byIface) {
          const packetsOf = list.map((x) => x.p);
          const [before, after] = [kernel(b, iface, packetsOf), kernel(h, iface, packetsOf)];
          list.forEach((x, i) => {
            const at = `seed ${SEED}, pair ${pairs} (${pair.changes.join('; ')}): host ${host} ${iface} ${formatPacket(x.p)}`;
            assert.is(before[i], x.before, `${at}: before`);
            assert.is(after[i], x.after, `${at}: after`);
          });
          packets += list.length;
        }
      }
    }
  } finally {
    withPolicy.close();
    without.close();
  }
  console.log(
    `  ${packets} packets in ${regions} ingress regions of ${pairs} pull requests, each run before and after`,
  );
});

test.run();

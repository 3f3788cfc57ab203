// Differential test of the traffic plan against the reference evaluator: random repositories and random pull requests
// (order changes, set changes, swapped, added and removed rules, Pass, Log, not-fields, named ports, IPv6, failsafe
// changes, reshuffled files), every change region computed exactly, then packets aimed at the regions, at the rules'
// edges and at random:
//   - a packet the two revisions decide differently (outcome, reason, deciding rule or failsafe) lies in exactly one
//     region, whose before and after are the evaluator's;
//   - a packet they decide alike lies in no region;
//   - every region's example packet lies in the region and evaluates to its before and after.
//
// Replay a failure with the seed it prints: NOTRACK_SEED=<seed> node --import tsx scripts/test-runner/run-file.mjs
// test/traffic/plan-differential.test.ts; NOTRACK_CASES=<n> changes the number of packets (default 24,000).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadResources } from '../../src/model/load-resources.js';
import { formatDiagnostic } from '../../src/model/diagnostics.js';
import { compileAll } from '../../src/compile/compile-host.js';
import type { DesiredState, PacketDescription, Verdict } from '../../src/compile/desired-state.js';
import { evaluatePacket, matchingFailsafe } from '../../src/compile/evaluate.js';
import { formatPacket } from '../../src/compile/packet-text.js';
import type { Direction } from '../../src/model/resources.js';
import type { IpFamily } from '../../src/net/cidr.js';
import { TrafficDiffer, type TrafficChange } from '../../src/traffic/diff.js';
import { decisionList, failsafeKey, ruleKey } from '../../src/traffic/decisions.js';
import { examplePacket } from '../../src/traffic/regions.js';
import { IntervalSet } from '../../src/traffic/interval-set.js';
import {
  addressText,
  boxHasPoint,
  F,
  intersectBoxes,
  NO_ICMP,
  NO_PORT,
  packetPoint,
  universe,
  type Box,
} from '../../src/traffic/space.js';
import { randomPolicyPair } from '../support/random-policies.js';
import { mulberry32, type Rng } from '../support/seeded-random.js';

const SEED = process.env.NOTRACK_SEED !== undefined ? Number(process.env.NOTRACK_SEED) : Date.now() % 1_000_000_007;
const TOTAL = Number(process.env.NOTRACK_CASES ?? 24_000);
const PER_VIEW = 60;

const int = (r: Rng, lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));
const pick = <T>(r: Rng, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;

function randomBelow(r: Rng, n: bigint): bigint {
  let v = 0n;
  for (let bits = 0n; 1n << bits < n; bits += 16n) v = (v << 16n) | BigInt(int(r, 0, 0xffff));
  return v % n;
}

function randomValue(r: Rng, s: IntervalSet): bigint {
  const [lo, hi] = pick(r, s.ranges());
  // Ends of ranges are where off-by-one errors live: take them often.
  const roll = r();
  if (roll < 0.2) return lo;
  if (roll < 0.4) return hi;
  return lo + randomBelow(r, hi - lo + 1n);
}

function packetOf(family: IpFamily, point: bigint[]): PacketDescription {
  const p: PacketDescription = {
    family,
    protocol: Number(point[F.proto]),
    src: addressText(family, point[F.src]!),
    dst: addressText(family, point[F.dst]!),
  };
  if (point[F.frag] === 1n) p.laterFragment = true;
  if (point[F.sport] !== NO_PORT) {
    p.sport = Number(point[F.sport]);
    p.dport = Number(point[F.dport]);
  }
  if (point[F.icmpType] !== NO_ICMP) {
    p.icmpType = Number(point[F.icmpType]);
    p.icmpCode = Number(point[F.icmpCode]);
  }
  return p;
}

/** A point of `box` inside one of the family's packet shapes, or null when the box holds no real packet. */
function pointIn(r: Rng, family: IpFamily, box: Box): bigint[] | null {
  const shapes = universe(family)
    .map((u) => intersectBoxes(u.box, box))
    .filter((b): b is Box => b !== null);
  if (!shapes.length) return null;
  const b = pick(r, shapes);
  const point = b.map((s) => randomValue(r, s));
  // Step one field off the box's edge now and then, staying a real packet.
  if (r() < 0.3) {
    const f = int(r, 0, 7);
    const moved = [...point];
    moved[f] = moved[f]! + (r() < 0.5 ? -1n : 1n);
    if (universe(family).some((u) => u.box.every((s, i) => s.has(moved[i]!)))) return moved;
  }
  return point;
}

function verdictKey(state: DesiredState | null, v: Verdict, p: PacketDescription, direction: Direction): string {
  const f = state && v.reason === 'failsafe' ? matchingFailsafe(state, p, direction) : null;
  return `${v.outcome}|${v.reason}|${v.rule ? ruleKey(v.rule) : f ? failsafeKey(f) : ''}`;
}

const NOTHING: Verdict = { outcome: 'pass', reason: 'no-policy', counter: null, rule: null, logged: [] };

function evaluate(state: DesiredState | null, iface: string, p: PacketDescription, direction: Direction): string {
  const v = state ? evaluatePacket(state, iface, p, direction) : NOTHING;
  return verdictKey(state, v, p, direction);
}

test(`every packet whose fate changes lies in exactly one region with the evaluator's before and after, and no other does (seed ${SEED})`, () => {
  const r = mulberry32(SEED);
  let packets = 0,
    pairs = 0,
    regions = 0,
    changedPackets = 0,
    examples = 0;
  while (packets < TOTAL) {
    pairs++;
    const pair = randomPolicyPair(r);
    const where = `seed ${SEED}, pair ${pairs} (${pair.changes.join('; ')})`;
    const [base, head] = [loadResources(pair.base), loadResources(pair.head)];
    for (const side of [base, head]) {
      const errors = side.diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic);
      assert.equal(errors, [], `${where}: the generator made invalid policy`);
    }
    const [bs, hs] = [compileAll(base.resources), compileAll(head.resources)];
    const differ = new TrafficDiffer();
    for (const host of new Set([...bs.keys(), ...hs.keys()])) {
      const b = bs.get(host) ?? null,
        h = hs.get(host) ?? null;
      const changes = differ.host(b, h);
      const names = new Set([...(b?.interfaces ?? []), ...(h?.interfaces ?? [])].map((i) => i.name));
      for (const c of changes) {
        regions++;
        for (const box of c.boxes) {
          const ex = examplePacket(c.family, box);
          examples++;
          const at = `${where}: host ${host} ${c.interface} ${c.direction} example ${formatPacket(ex)}`;
          assert.ok(boxHasPoint(box, packetPoint(ex)), `${at} lies outside its box`);
          assert.is(evaluate(b, c.interface, ex, c.direction), c.before.key, `${at}: before`);
          assert.is(evaluate(h, c.interface, ex, c.direction), c.after.key, `${at}: after`);
        }
      }
      for (const iface of names) {
        for (const direction of ['ingress', 'egress'] as const) {
          for (const family of [4, 6] as const) {
            const mine = changes.filter(
              (c) => c.interface === iface && c.direction === direction && c.family === family,
            );
            const regionBoxes = mine.flatMap((c) => c.boxes);
            const ruleBoxes = [decisionList(b, iface, direction, family), decisionList(h, iface, direction, family)]
              .flatMap((l) => [...l.items, ...l.logs.map((x) => x.item)])
              .flatMap((it) => it.boxes);
            for (let i = 0; i < PER_VIEW; i++) {
              const roll = r();
              const aim =
                regionBoxes.length && roll < 0.5
                  ? pick(r, regionBoxes)
                  : ruleBoxes.length && roll < 0.85
                    ? pick(r, ruleBoxes)
                    : pick(r, universe(family)).box;
              const point = pointIn(r, family, aim);
              if (!point) continue;
              const p = packetOf(family, point);
              packets++;
              const before = evaluate(b, iface, p, direction),
                after = evaluate(h, iface, p, direction);
              const inside = mine.filter((c: TrafficChange) => c.boxes.some((x) => boxHasPoint(x, point)));
              const at = `${where}: host ${host} ${iface} ${direction} ${formatPacket(p)}: ${before} -> ${after}`;
              if (before === after) {
                assert.equal(inside.length, 0, `${at} is in a region though nothing changed for it`);
              } else {
                changedPackets++;
                assert.is(inside.length, 1, `${at} lies in ${inside.length} regions`);
                assert.is(inside[0]!.before.key, before, `${at}: region's before`);
                assert.is(inside[0]!.after.key, after, `${at}: region's after`);
              }
            }
          }
        }
      }
    }
  }
  console.log(
    `  ${packets} packets (${changedPackets} changed fate), ${pairs} pull requests, ${regions} regions, ${examples} examples`,
  );
  assert.ok(changedPackets > packets / 20, 'enough packets land in changed regions for the test to mean something');
});

test.run();

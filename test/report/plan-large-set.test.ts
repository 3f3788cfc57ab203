// A one-member change in a 50,000-prefix deny list, planned: exactly the regions of the member removed and the member
// added, each with its example packet and the rules deciding it before and after (checked with the evaluator), the
// set change naming those two members, and nothing else. The diff engine reads the list only where members changed
// (src/traffic/set-delta.ts); the same plan computed over the whole space must agree with it, here and on random
// pull requests that change only sets (NOTRACK_SEED=<seed> replays one).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadResources } from '../../src/model/load-resources.js';
import type { PolicyFile } from '../../src/model/documents.js';
import { compileAll } from '../../src/compile/compile-host.js';
import { evaluatePacket } from '../../src/compile/evaluate.js';
import { parsePacket } from '../../src/compile/packet-text.js';
import { buildPlan } from '../../src/report/plan-report.js';
import { TrafficDiffer, type TrafficChange } from '../../src/traffic/diff.js';
import { boxHasPoint, boxKey, type Box } from '../../src/traffic/space.js';
import { randomPolicyPair } from '../support/random-policies.js';
import { mulberry32, type Rng } from '../support/seeded-random.js';
import { documentsFile } from '../support/policy-files.js';
import { hostEndpoint, networkSet, untrackedPolicy } from '../support/resource-documents.js';

const MEMBERS = 50_000;
const quad = (n: number): string => `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;

/** Member i: every tenth a /24 in 33.0.0.0/8, the others /32 hosts in 32.0.0.0/8 (disjoint, as a deny list is). */
const member = (i: number): string =>
  i % 10 === 0 ? `${quad((33 << 24) + (i / 10) * 256)}/24` : `${quad((32 << 24) + i * 7)}/32`;

const REMOVED = member(1234); // 32.0.33.190/32
const ADDED = '36.1.2.3/32';

const POLICY = untrackedPolicy('deny-list', {
  order: 10,
  selector: "role == 'edge'",
  types: ['Ingress'],
  ingress: [
    { action: 'Deny', source: { selector: "list == 'deny'" } },
    { action: 'Allow', protocol: 'TCP', destination: { ports: [443] } },
    ...Array.from({ length: 200 }, (_, i) => ({
      action: 'Deny',
      source: { nets: [`${quad((16 << 24) + i * 1024)}/22`] },
    })),
  ],
});

function revision(nets: string[]): PolicyFile[] {
  return [
    documentsFile('hosts/edge-1.yaml', [
      hostEndpoint('edge-1-eth0', 'edge-1', { interfaceName: 'eth0' }, { role: 'edge' }),
    ]),
    documentsFile('sets/deny.yaml', [networkSet('deny-list', { list: 'deny' }, nets)]),
    documentsFile('policies/deny.yaml', [POLICY]),
  ];
}

const baseNets = Array.from({ length: MEMBERS }, (_, i) => member(i));
const headNets = baseNets.map((n) => (n === REMOVED ? ADDED : n));
const [baseFiles, headFiles] = [revision(baseNets), revision(headNets)];
const [b, h] = [loadResources(baseFiles), loadResources(headFiles)];
const [baseStates, headStates] = [compileAll(b.resources), compileAll(h.resources)];

test(`one member of a ${MEMBERS.toLocaleString('en')}-prefix list changed: the plan shows exactly its two regions`, () => {
  assert.ok(b.valid && h.valid, 'both revisions are valid');
  const p = buildPlan(
    { states: baseStates, resources: b.resources, files: baseFiles },
    { states: headStates, resources: h.resources, files: headFiles },
  );
  const regions = p.traffic.map((e) => ({
    // Every box of the region (one per packet shape and port range) comes from that one member.
    src: [...new Set(e.match.flatMap((m) => m.src ?? ['any']))],
    before: e.before.rule ? `${e.before.outcome} ${e.before.rule.policy}[${e.before.rule.index}]` : e.before.reason,
    after: e.after.rule ? `${e.after.outcome} ${e.after.rule.policy}[${e.after.rule.index}]` : e.after.reason,
  }));
  // The removed member is let through (by the Allow for tcp 443, by nothing else for the rest); the added one is
  // denied where it was allowed or unmatched. Nothing about the other 49,999 members.
  assert.equal(
    regions.sort((x, y) => JSON.stringify(x).localeCompare(JSON.stringify(y))),
    [
      { src: [ADDED], before: 'allow deny-list[1]', after: 'deny deny-list[0]' },
      { src: [ADDED], before: 'no-match', after: 'deny deny-list[0]' },
      { src: [REMOVED], before: 'deny deny-list[0]', after: 'allow deny-list[1]' },
      { src: [REMOVED], before: 'deny deny-list[0]', after: 'no-match' },
    ].sort((x, y) => JSON.stringify(x).localeCompare(JSON.stringify(y))),
  );
  for (const e of p.traffic) {
    assert.equal(e.hosts, ['edge-1']);
    assert.equal(e.before.rule?.file ?? 'policies/deny.yaml', 'policies/deny.yaml');
    // The example is a packet of the region, and the evaluator decides it as the region says, in both revisions.
    const packet = parsePacket(e.example);
    assert.ok([REMOVED, ADDED].includes(`${packet.src}/32`), `${e.example} comes from the changed member`);
    for (const [state, side] of [
      [baseStates.get('edge-1')!, e.before],
      [headStates.get('edge-1')!, e.after],
    ] as const) {
      const v = evaluatePacket(state, 'eth0', packet, 'ingress');
      assert.is(v.outcome, side.outcome, e.example);
      assert.equal(v.rule?.index ?? null, side.rule?.index ?? null, e.example);
    }
  }
  assert.is(p.engine.diffs, 1);
  const sets = p.hosts[0]!.interfaces[0]!.sets;
  assert.equal(
    sets.map((s) => ({ added: s.added, removed: s.removed, sizes: [s.sizeBefore, s.sizeAfter] })),
    [{ added: [ADDED], removed: [REMOVED], sizes: [MEMBERS, MEMBERS] }],
  );
  const resource = p.resources.find((r) => r.kind === 'GlobalNetworkSet')!;
  assert.equal(resource.changes, [
    { field: 'nets', before: '50000', after: '50000', added: [ADDED], removed: [REMOVED] },
  ]);
});

test('the diff read where members changed equals the diff over the whole space', () => {
  const [base, head] = [baseStates.get('edge-1')!, headStates.get('edge-1')!];
  const focusing = new TrafficDiffer();
  const focused = focusing.host(base, head);
  assert.is(focusing.stats.focused, 1, 'only set contents changed: the focused path ran');
  const whole = new TrafficDiffer({ focus: false }).host(base, head);
  const keyed = (changes: TrafficChange[]) =>
    new Map(changes.map((c) => [`${c.before.key}\n${c.after.key}`, c.boxes.map(boxKey)]));
  assert.equal(keyed(focused), keyed(whole));
});

/** A point of the box: each field's least value, or its greatest, or one in between. */
function pointIn(r: Rng, box: Box): bigint[] {
  return box.map((s) => {
    const [lo, hi] = s.ranges()[Math.floor(r() * s.rangeCount)]!;
    const roll = r();
    return roll < 0.3 ? lo : roll < 0.6 ? hi : lo + ((hi - lo) * BigInt(Math.floor(r() * 1024))) / 1024n;
  });
}

/** Which change holds the point, as `before -> after` (or `alike`). */
function fateOf(changes: TrafficChange[], c: TrafficChange, point: bigint[]): string {
  const hits = changes.filter(
    (x) =>
      x.interface === c.interface &&
      x.direction === c.direction &&
      x.family === c.family &&
      x.boxes.some((b) => boxHasPoint(b, point)),
  );
  assert.ok(hits.length <= 1, 'regions are disjoint');
  return hits[0] ? `${hits[0].before.key} -> ${hits[0].after.key}` : 'alike';
}

const SEED = process.env.NOTRACK_SEED !== undefined ? Number(process.env.NOTRACK_SEED) : Date.now() % 1_000_000_007;

test(`random pull requests that change only sets: the focused diff and the whole-space diff agree on every sampled packet (seed ${SEED})`, () => {
  const r = mulberry32(SEED);
  let focusedDiffs = 0,
    points = 0;
  for (let pair = 0; focusedDiffs < 40 && pair < 3000; pair++) {
    const p = randomPolicyPair(r);
    const [bl, hl] = [loadResources(p.base), loadResources(p.head)];
    if (!bl.valid || !hl.valid) continue;
    const [bs, hs] = [compileAll(bl.resources), compileAll(hl.resources)];
    for (const host of new Set([...bs.keys(), ...hs.keys()])) {
      const focusing = new TrafficDiffer();
      const focused = focusing.host(bs.get(host) ?? null, hs.get(host) ?? null);
      if (focusing.stats.focused === 0) continue;
      focusedDiffs += focusing.stats.focused;
      const whole = new TrafficDiffer({ focus: false }).host(bs.get(host) ?? null, hs.get(host) ?? null);
      const where = `seed ${SEED}, pair ${pair}, host ${host} (${p.changes.join('; ')})`;
      // Points of each region of either diff lie in the same region of the other.
      for (const [from, other] of [
        [focused, whole],
        [whole, focused],
      ] as const) {
        for (const c of from) {
          for (const box of c.boxes) {
            for (let i = 0; i < 8; i++, points++) {
              const point = pointIn(r, box);
              assert.is(fateOf(other, c, point), `${c.before.key} -> ${c.after.key}`, where);
            }
          }
        }
      }
    }
  }
  assert.ok(focusedDiffs >= 40, `only ${focusedDiffs} diffs changed set contents alone`);
  assert.ok(points > 0, 'some regions were sampled');
});

test.run();

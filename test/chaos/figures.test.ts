// The chaos figures from observations: windows attributed to their fault, flood and losses counted inside or
// outside the windows that excuse them, and the goals judged (pure, no kernel).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chaosFigures, type ChaosObservations, type LinkSample } from './figures.js';

const ON: Omit<LinkSample, 't'> = { present: true, up: true, xdp: 'nt_xdp_entry#7', ifindex: 2 };
const BARE: Omit<LinkSample, 't'> = { present: true, up: true, xdp: null, ifindex: 2 };
const GONE: Omit<LinkSample, 't'> = { present: false, up: false, xdp: null, ifindex: null };
/** eth0 after it was re-created: a new ifindex. */
const ON_NEW = { ...ON, ifindex: 5 };
const BARE_NEW = { ...BARE, ifindex: 5 };

function observations(over: Partial<ChaosObservations> = {}): ChaosObservations {
  return {
    startedAt: 0,
    protectedFrom: 1_000,
    endedAt: 60_000,
    samples: [
      { t: 0, ...BARE },
      { t: 900, ...ON },
      // A re-created interface (fault 1), up without XDP for 400 ms.
      { t: 10_000, ...GONE },
      { t: 11_000, ...BARE_NEW },
      { t: 11_400, ...ON_NEW },
      // After a kill -9 (fault 2): 1.5 s.
      { t: 30_000, ...BARE_NEW },
      { t: 31_500, ...ON_NEW },
      // Detached by hand with the agent running (no fault): 200 ms until the drift check repaired it.
      { t: 50_000, ...BARE_NEW },
      { t: 50_200, ...ON_NEW },
    ],
    maxSampleGapMs: 50,
    maxSampleGapAt: 0,
    samplesTaken: 3_000,
    lateSamples: 0,
    floodArrivals: [500, 11_100, 11_200, 40_000],
    floodSent: 1_000,
    floodSendErrors: 0,
    feedSent: 2_000,
    feedReceived: 1_990,
    feedMissing: [
      [10, 11],
      [1_050, 1_051],
      [1_500, 1_500],
    ],
    // One number sent every 20 ms from t = 0.
    feedMarks: Array.from({ length: 3_000 }, (_, i) => ({ t: i * 20, seq: i })),
    faults: [
      { kind: 'link-recreate', start: 9_900, end: 12_000, detail: '' },
      { kind: 'kill-agent', start: 29_000, end: 33_000, detail: '' },
    ],
    lockouts: [],
    converged: { ok: true, detail: 'ok' },
    ...over,
  };
}

test('windows start at the first unprotected sample and name the fault they fell in; the lab start is not counted', () => {
  const f = chaosFigures(observations());
  assert.equal(
    f.windows.map((w) => [w.start, w.durationMs, w.fault, w.agentKilled, w.newInterface]),
    [
      [11_000, 400, 'link-recreate (#1)', false, true],
      [30_000, 1_500, 'kill-agent (#2)', true, false],
      [50_000, 200, null, false, false],
    ],
  );
  assert.is(f.longestMs, 1_500);
  assert.ok(f.goals[0]!.met, 'at most 2 s');
  // A new interface's window is the link watch's (goal 2 s); one on an interface the running agent had protected
  // is a missed goal.
  assert.is(f.longestNewInterfaceMs, 400);
  assert.ok(f.goals[2]!.met);
  assert.is(f.longestAgentRunningMs, 200);
  assert.not.ok(f.goals[1]!.met);
});

test('flood past XDP counts outside the windows only (arrivals before the first Ready are not counted)', () => {
  const f = chaosFigures(observations());
  assert.is(f.floodPastInside, 2);
  assert.is(f.floodPastOutside, 1);
  assert.not.ok(f.goals[4]!.met);
});

test('allowed-flow losses: excused while the link is down, in lock-out and unprotected windows; counted otherwise', () => {
  // Number 500 (sent at 10 s) is lost while the link was gone, 1,050-1,051 (21 s) in a lock-out, 1,500 (30 s) in
  // the kill window; 10-11 before the agent was Ready.
  const excused = chaosFigures(
    observations({
      lockouts: [{ kind: 'deny-all-inbound', commit: 'c', pushedAt: 20_900, resolvedAt: 21_100, rolledBack: false }],
      feedMissing: [
        [10, 11],
        [500, 500],
        [1_050, 1_051],
        [1_500, 1_500],
      ],
    }),
  );
  assert.equal(excused.feedLost, { linkDown: 1, lockout: 2, unprotected: 1 });
  assert.is(excused.feedLostOutside, 0);
  assert.is(excused.lockoutsNotRolledBack, 1);
  assert.not.ok(excused.goals[3]!.met, 'a lock-out that did not roll back misses its goal');
  const counted = chaosFigures(observations());
  assert.is(counted.feedLostOutside, 2);
  assert.equal(
    counted.feedLostExamples.map((x) => x.seq),
    [1_050, 1_051],
  );
});

test.run();

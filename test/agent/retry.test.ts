// The agent's retries: jittered backoff after Failed, none for Stalled, and how requests and ticks meet it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { finished, startAgent } from './agent-harness.js';
import { ScriptedReconciler, failed, ready, stalled } from './scripted-reconciler.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const GOOD = { commit: 'a11ce00000000000000000000000000000000001', generation: 3 };

test('Failed reconciles are retried with growing jittered delays until one succeeds, then the schedule resumes', async () => {
  const r = new ScriptedReconciler({
    reconcile: [
      failed('FetchFailed', GOOD),
      failed('FetchFailed', GOOD),
      failed('FetchFailed', GOOD),
      failed('FetchFailed', GOOD),
      ready(),
    ],
  });
  // random() = 0.5 and jitter 0.5 take a quarter off each delay: 40 80 160 200(cap) become 30 60 120 150.
  const a = await startAgent(
    r,
    { retry: { initialMs: 40, maxMs: 200, factor: 2, jitter: 0.5 } },
    { random: () => 0.5 },
  );
  try {
    const failures = await a.log.waitFor((e) => e.msg === 'reconcile finished' && e['status'] === 'Failed', 4, 4000);
    assert.equal(
      failures.map((e) => e['retryInMs']),
      [30, 60, 120, 150],
    );
    assert.equal(
      failures.map((e) => e['attempt']),
      [1, 2, 3, 4],
    );
    assert.equal(
      failures.map((e) => e['trigger']),
      ['startup', 'retry', 'retry', 'retry'],
    );
    assert.ok(failures.every((e) => e.level === 'error' && e['reason'] === 'FetchFailed'));
    const [recovered] = await a.log.waitFor((e) => e.msg === 'reconcile finished' && e['status'] === 'Ready', 1, 2000);
    assert.is(recovered!['trigger'], 'retry');
    assert.is(recovered!['recoveredAfterFailures'], 4);

    const starts = r.reconciles().map((c) => c.startedAt);
    const gaps = starts.slice(1).map((t, i) => t - starts[i]!);
    [30, 60, 120, 150].forEach((delay, i) =>
      assert.ok(gaps[i]! >= delay - 2, `retry ${i + 1} waited ${gaps[i]}ms, at least ${delay}ms`),
    );

    await sleep(250);
    assert.is(r.reconciles().length, 5, 'no retry after the recovery');
    await a.ticker.fire('reconcile');
    assert.is(r.reconciles().at(-1)!.arg, 'schedule', 'back on the schedule');
  } finally {
    await a.handle.stop();
  }
});

test('while a retry is pending, scheduled ticks leave the next attempt to it', async () => {
  const r = new ScriptedReconciler({ reconcile: [failed('FetchFailed', GOOD), ready()] });
  const a = await startAgent(r, { retry: { initialMs: 150, maxMs: 150, factor: 1, jitter: 0 } });
  try {
    await a.log.waitFor(finished('startup'));
    await a.ticker.fire('reconcile');
    assert.is(r.reconciles().length, 1);
    const [skip] = a.log.find((e) => e.msg === 'scheduled tick skipped');
    assert.is(skip!['reason'], 'retry-pending');
    assert.type(skip!['retryAt'], 'string');
    await a.log.waitFor(finished('retry'));
    assert.equal(
      r.reconciles().map((c) => c.arg),
      ['startup', 'retry'],
    );
  } finally {
    await a.handle.stop();
  }
});

test('Stalled is not retried fast: the next attempt is the next scheduled tick', async () => {
  const r = new ScriptedReconciler({ reconcile: [stalled('ValidationFailed', GOOD), ready()] });
  const a = await startAgent(r, { retry: { initialMs: 10, maxMs: 10, factor: 1, jitter: 0 } });
  try {
    const [line] = await a.log.waitFor(finished('startup'));
    assert.is(line!['status'], 'Stalled');
    assert.is(line!['next'], 'waiting for the next scheduled tick');
    assert.is(line!['retryInMs'], undefined);
    await sleep(120);
    assert.is(r.reconciles().length, 1, 'no retry within 12 retry periods');
    await a.ticker.fire('reconcile');
    assert.equal(
      r.reconciles().map((c) => c.arg),
      ['startup', 'schedule'],
    );
    assert.is(a.log.find(finished('schedule'))[0]!['status'], 'Ready');
  } finally {
    await a.handle.stop();
  }
});

test('a request (SIGHUP) during backoff runs now; its success cancels the pending retry', async () => {
  const r = new ScriptedReconciler({ reconcile: [failed('ApplyFailed', GOOD), ready()] });
  const a = await startAgent(r, { retry: { initialMs: 200, maxMs: 200, factor: 1, jitter: 0 } });
  try {
    await a.log.waitFor(finished('startup'));
    await a.handle.reconcileNow();
    await sleep(300);
    assert.equal(
      r.reconciles().map((c) => c.arg),
      ['startup', 'signal'],
      'the cancelled retry never ran',
    );
  } finally {
    await a.handle.stop();
  }
});

test.run();

// The agent's schedules: a reconcile at start and on each tick, never two jobs at once.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DEFAULT_AGENT_OPTIONS } from '../../src/agent/options.js';
import { runAgent } from '../../src/agent/run-agent.js';
import { LogCapture, finished, startAgent } from './agent-harness.js';
import { ScriptedReconciler, inSync, ready } from './scripted-reconciler.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('the agent reconciles once at start, then on each scheduled tick', async () => {
  const r = new ScriptedReconciler();
  const a = await startAgent(r);
  try {
    await a.log.waitFor(finished('startup'));
    await a.ticker.fire('reconcile');
    await a.ticker.fire('reconcile');
    assert.equal(
      r.reconciles().map((c) => c.arg),
      ['startup', 'schedule', 'schedule'],
    );
    assert.is(a.log.find(finished('schedule')).length, 2);
  } finally {
    await a.handle.stop();
  }
});

test('with runOnStart false nothing runs before the first tick', async () => {
  const r = new ScriptedReconciler();
  const a = await startAgent(r, { runOnStart: false });
  try {
    await sleep(50);
    assert.is(r.reconciles().length, 0);
    await a.ticker.fire('reconcile');
    assert.equal(
      r.reconciles().map((c) => c.arg),
      ['schedule'],
    );
  } finally {
    await a.handle.stop();
  }
});

test('a tick that overlaps its own running job is skipped and logged; the other job waits its turn', async () => {
  const r = new ScriptedReconciler({ reconcile: [{ ...ready(), delayMs: 150 }] });
  const a = await startAgent(r, { runOnStart: false });
  try {
    const first = a.ticker.fire('reconcile');
    await sleep(20);
    await a.ticker.fire('reconcile'); // returns at once: skipped
    const drift = a.ticker.fire('drift'); // waits for the reconcile
    await a.ticker.fire('drift'); // a second drift tick while one waits: skipped
    await Promise.all([first, drift]);
    assert.is(r.reconciles().length, 1);
    assert.is(r.driftChecks().length, 1);
    assert.is(r.maxInFlight, 1, 'reconcile and drift never ran at once');
    const [rec] = r.reconciles();
    const [dr] = r.driftChecks();
    assert.ok(dr!.startedAt >= rec!.endedAt!, 'the drift check started after the reconcile ended');
    const skips = a.log.find((e) => e.msg === 'scheduled tick skipped');
    assert.equal(
      skips.map((e) => [e['job'], e['reason'], e['running']]),
      [
        ['reconcile', 'busy', 'reconcile'],
        ['drift', 'queued', 'reconcile'],
      ],
    );
    assert.is(skips[0]!.level, 'warn');
  } finally {
    await a.handle.stop();
  }
});

test('node-cron drives the schedules: a slow reconcile skips ticks and never overlaps a drift check', async () => {
  const r = new ScriptedReconciler({
    reconcile: [{ ...ready(), delayMs: 1300 }],
    drift: [() => ({ ...inSync(), delayMs: 100 })],
  });
  const log = new LogCapture();
  const handle = await runAgent(
    { ...DEFAULT_AGENT_OPTIONS, schedule: '1s', driftSchedule: '1s', jitterMs: 0, runOnStart: false, listen: null },
    r,
    { write: log.write, signals: false },
  );
  try {
    await sleep(3600);
  } finally {
    await handle.stop();
  }
  assert.ok(r.reconciles().length >= 2, `reconciled on schedule (${r.reconciles().length} times)`);
  assert.ok(r.reconciles().every((c) => c.arg === 'schedule'));
  assert.ok(r.driftChecks().length >= 1, 'drift checks ran between reconciles');
  assert.is(r.maxInFlight, 1);
  const skipped = log.find(
    (e) => e.msg === 'scheduled tick skipped' && e['job'] === 'reconcile' && e['reason'] === 'busy',
  );
  assert.ok(skipped.length >= 1, 'overlapping reconcile ticks were skipped and logged');
});

test('a request (SIGHUP) during a reconcile queues one more after it; further requests join the waiting one', async () => {
  const r = new ScriptedReconciler({ reconcile: [{ ...ready(), delayMs: 100 }] });
  const a = await startAgent(r, { runOnStart: false });
  try {
    const tick = a.ticker.fire('reconcile');
    await sleep(10);
    const queued = a.handle.reconcileNow();
    await a.handle.reconcileNow();
    await Promise.all([tick, queued]);
    assert.equal(
      r.reconciles().map((c) => c.arg),
      ['schedule', 'signal'],
    );
    assert.ok(r.reconciles()[1]!.startedAt >= r.reconciles()[0]!.endedAt!);
    const how = a.log.find((e) => e.msg === 'reconcile requested').map((e) => e['how']);
    assert.equal(how, ['queued', 'coalesced']);
  } finally {
    await a.handle.stop();
  }
});

test('a reconciler that throws is reported as Failed (ReconcilerError) and the agent carries on', async () => {
  const r = new ScriptedReconciler({ reconcile: [{ ...ready(), throws: 'boom' }, ready()] });
  const a = await startAgent(r, { retry: { initialMs: 20, maxMs: 20, factor: 1, jitter: 0 } });
  try {
    const [failedLine] = await a.log.waitFor(finished('startup'));
    assert.is(failedLine!['status'], 'Failed');
    assert.is(failedLine!['reason'], 'ReconcilerError');
    assert.match(String(failedLine!['message']), 'the reconciler threw: boom');
    const [retried] = await a.log.waitFor(finished('retry'));
    assert.is(retried!['status'], 'Ready');
  } finally {
    await a.handle.stop();
  }
});

test('stop() lets the running reconcile finish, drops waiting jobs and stops the schedules', async () => {
  const r = new ScriptedReconciler({ reconcile: [{ ...ready(), delayMs: 120 }] });
  const a = await startAgent(r, { runOnStart: false });
  const tick = a.ticker.fire('reconcile');
  await sleep(10);
  void a.ticker.fire('drift');
  const code = await a.handle.stop('test');
  await tick;
  assert.is(code, 0);
  assert.is(r.reconciles()[0]!.endedAt !== null, true, 'the running reconcile finished before stop resolved');
  assert.is(r.driftChecks().length, 0, 'the waiting drift check was dropped');
  assert.ok(a.ticker.stopped.has('reconcile') && a.ticker.stopped.has('drift'));
  const stopping = a.log.find((e) => e.msg === 'agent stopping')[0]!;
  assert.equal([stopping['running'], stopping['droppedWaiting']], ['reconcile', 1]);
  assert.is(a.log.find((e) => e.msg === 'agent stopped')[0]!['dataplane'], 'left in place');
  assert.is(await a.handle.done, 0);
  await a.handle.reconcileNow();
  assert.is(r.reconciles().length, 1, 'nothing runs after stop');
});

test.run();

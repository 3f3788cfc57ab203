// The agent's single-flight lock: one job at a time, except that a job may step out for a fetch, letting jobs of
// other kinds go ahead, and takes the lock back before anything else that waits.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SingleFlight } from '../../src/agent/single-flight.js';

/** A promise with its resolve function, to let a job end when the test says so. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open = () => {};
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}

const tick = () => new Promise<void>((r) => setImmediate(r));

test('a job that steps out for a fetch lets a drift check run, never a second reconcile, and resumes first', async () => {
  const lock = new SingleFlight<'reconcile' | 'drift'>(() => 0);
  const events: string[] = [];
  const fetch = gate();
  const drift = gate();
  const first = lock.submit('reconcile', async () => {
    events.push('reconcile 1 fetch');
    await lock.outside(() => fetch.promise);
    events.push('reconcile 1 apply');
  });
  await tick();
  const checked = lock.submit('drift', async () => {
    events.push('drift start');
    await drift.promise;
    events.push('drift end');
  });
  const second = lock.submit('reconcile', async () => {
    events.push('reconcile 2');
  });
  await tick();
  assert.equal(events, ['reconcile 1 fetch', 'drift start'], 'the drift check runs during the fetch');
  assert.ok(lock.isRunning('reconcile') && lock.isWaiting('reconcile'), 'the second reconcile waits');
  fetch.open();
  await tick();
  assert.equal(events, ['reconcile 1 fetch', 'drift start'], 'the apply waits for the running drift check');
  drift.open();
  await Promise.all([first, checked, second]);
  assert.equal(events, ['reconcile 1 fetch', 'drift start', 'drift end', 'reconcile 1 apply', 'reconcile 2']);
  assert.is(lock.running(), null);
});

test('outside() with nothing waiting takes the lock straight back', async () => {
  const lock = new SingleFlight<'reconcile' | 'drift'>(() => 0);
  let inside = false;
  await lock.submit('reconcile', async () => {
    const v = await lock.outside(async () => 7);
    inside = lock.isRunning('reconcile') && v === 7;
  });
  assert.ok(inside);
  assert.is(lock.running(), null);
});

test.run();

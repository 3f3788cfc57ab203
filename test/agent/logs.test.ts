// The agent's log lines: one JSON object (or key=value text) per record, with its fields intact.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createLog } from '../../src/agent/log.js';
import { LogCapture, finished, startAgent } from './agent-harness.js';
import { ScriptedReconciler, failed, ready } from './scripted-reconciler.js';

test('every log line is one JSON object with ts, level and msg; reconcile lines carry the outcome', async () => {
  const r = new ScriptedReconciler({
    reconcile: [
      ready('c0ffee0000000000000000000000000000000001', 4, 3),
      failed('FetchFailed', { commit: 'c0ffee0000000000000000000000000000000001', generation: 4 }),
    ],
  });
  const a = await startAgent(r, { retry: { initialMs: 60_000, maxMs: 60_000, factor: 1, jitter: 0 } });
  try {
    await a.log.waitFor(finished('startup'));
    await a.ticker.fire('reconcile');
  } finally {
    await a.handle.stop();
  }
  assert.ok(a.log.lines.length >= 5);
  for (const line of a.log.lines) {
    assert.ok(line.endsWith('\n') && !line.slice(0, -1).includes('\n'), 'one line per record');
    const e = JSON.parse(line);
    assert.type(e.ts, 'string');
    assert.ok(!Number.isNaN(Date.parse(e.ts)), 'ts is an ISO time');
    assert.ok(['debug', 'info', 'warn', 'error'].includes(e.level));
    assert.type(e.msg, 'string');
  }
  const [ok, bad] = a.log.find(finished());
  assert.equal(
    {
      trigger: ok!['trigger'],
      status: ok!['status'],
      reason: ok!['reason'],
      revision: ok!['revision'],
      changes: ok!['changes'],
      durationMs: ok!['durationMs'],
      level: ok!.level,
    },
    {
      trigger: 'startup',
      status: 'Ready',
      reason: 'ReconciliationSucceeded',
      revision: { ref: 'main', commit: 'c0ffee0000000000000000000000000000000001' },
      changes: 3,
      durationMs: 12,
      level: 'info',
    },
  );
  assert.equal(ok!['appliedRevision'], { commit: 'c0ffee0000000000000000000000000000000001', generation: 4 });
  assert.equal(
    [bad!['trigger'], bad!['status'], bad!['reason'], bad!['revision'], bad!.level],
    ['schedule', 'Failed', 'FetchFailed', null, 'error'],
  );
  assert.is(bad!['retryInMs'], 60_000);
  const started = a.log.find((e) => e.msg === 'agent started')[0]!;
  assert.equal(
    [started['schedule'], started['driftSchedule'], started['driftMode']],
    ['cron */1 * * * *', 'cron */5 * * * *', 'enforce'],
  );
});

test('the text format is one readable key=value line per record, nested fields dotted', () => {
  const out = new LogCapture();
  const log = createLog({ format: 'text', level: 'info', write: out.write, now: () => Date.UTC(2030, 0, 2, 3, 4, 5) });
  log.info('reconcile finished', {
    trigger: 'signal',
    status: 'Ready',
    revision: { ref: 'main', commit: 'abc' },
    message: 'applied 2 changes',
    changes: 2,
  });
  log.debug('hidden below the level', {});
  assert.equal(out.lines, [
    '2030-01-02T03:04:05.000Z INFO  reconcile finished trigger=signal status=Ready revision.ref=main revision.commit=abc message="applied 2 changes" changes=2\n',
  ]);
});

test('bigints, errors and attempts to overwrite ts/level/msg do not break a JSON line', () => {
  const out = new LogCapture();
  const log = createLog({ format: 'json', level: 'debug', write: out.write, now: () => 0 });
  log.warn('odd fields', {
    packets: 2n ** 64n,
    error: new Error('EPERM'),
    msg: 'spoofed',
    level: 'debug',
    skipped: undefined,
  });
  const e = out.entries()[0]!;
  assert.equal(e, {
    ts: '1970-01-01T00:00:00.000Z',
    level: 'warn',
    msg: 'odd fields',
    packets: '18446744073709551616',
    error: 'EPERM',
  });
});

test.run();

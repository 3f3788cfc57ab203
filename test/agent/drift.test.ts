// The agent's drift checks: warn reports, enforce repairs, a failing check is logged and counted.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { DriftOutcome } from '../../src/agent/reconciler.js';
import { startAgent } from './agent-harness.js';
import { ScriptedReconciler, inSync } from './scripted-reconciler.js';

const DETACHED = [
  { object: 'XDP program on eth0', description: 'detached' },
  { object: 'iptables chain NOTRACK-RAW-eth0', description: '2 rules added by hand' },
];

/** A host where someone detached the program: enforce repairs it, warn leaves it. */
function tamperedHost(mode: 'enforce' | 'warn'): DriftOutcome {
  return {
    status: 'Drifted',
    message: `2 objects differ from generation 3${mode === 'enforce' ? '; repaired' : ''}`,
    drifted: DETACHED,
    corrected: mode === 'enforce',
    durationMs: 9,
  };
}

async function driftRun(mode: 'enforce' | 'warn') {
  const r = new ScriptedReconciler({ drift: [tamperedHost, () => inSync()] });
  const a = await startAgent(r, { driftMode: mode, runOnStart: false });
  try {
    await a.ticker.fire('drift');
    const metrics = await (await fetch(a.url('/metrics'))).text();
    await a.ticker.fire('drift');
    const metricsAfter = await (await fetch(a.url('/metrics'))).text();
    return { r, a, metrics, metricsAfter };
  } finally {
    await a.handle.stop();
  }
}

test('warn mode asks for a report only, logs the drifted objects and counts them', async () => {
  const { r, a, metrics, metricsAfter } = await driftRun('warn');
  assert.equal(
    r.driftChecks().map((c) => c.arg),
    ['warn', 'warn'],
  );
  const [line] = a.log.find((e) => e.msg === 'drift check finished' && e['status'] === 'Drifted');
  assert.is(line!.level, 'warn');
  assert.is(line!['mode'], 'warn');
  assert.is(line!['corrected'], false);
  assert.is(line!['driftedObjects'], 2);
  assert.equal(line!['drifted'], DETACHED);
  assert.match(metrics, /^notrack_drift_objects 2$/m);
  assert.match(metrics, /^notrack_drift_checks_total\{status="Drifted"\} 1$/m);
  assert.match(metricsAfter, /^notrack_drift_objects 0$/m);
  assert.match(metricsAfter, /^notrack_drift_checks_total\{status="InSync"\} 1$/m);
  assert.is(r.reconciles().length, 0, 'a drift check never turns into a reconcile');
});

test('enforce mode asks for repair and reports what was corrected', async () => {
  const { r, a } = await driftRun('enforce');
  assert.equal(
    r.driftChecks().map((c) => c.arg),
    ['enforce', 'enforce'],
  );
  const [line] = a.log.find((e) => e.msg === 'drift check finished' && e['status'] === 'Drifted');
  assert.is(line!['mode'], 'enforce');
  assert.is(line!['corrected'], true);
  assert.match(String(line!['message']), 'repaired');
  const status = a.handle.status() as { lastDrift: { mode: string; outcome: DriftOutcome } };
  assert.is(status.lastDrift.mode, 'enforce');
  assert.is(status.lastDrift.outcome.status, 'InSync');
});

test('a failed drift check is logged as an error and counted, and does not disturb readiness', async () => {
  const r = new ScriptedReconciler({ drift: [() => ({ ...inSync(), throws: 'netlink: operation not permitted' })] });
  const a = await startAgent(r);
  try {
    await a.log.waitFor((e) => e.msg === 'reconcile finished');
    await a.ticker.fire('drift');
    const [line] = a.log.find((e) => e.msg === 'drift check finished');
    assert.is(line!.level, 'error');
    assert.is(line!['status'], 'Failed');
    assert.match(String(line!['message']), 'the drift check threw: netlink: operation not permitted');
    const metrics = await (await fetch(a.url('/metrics'))).text();
    assert.match(metrics, /^notrack_errors_total\{stage="drift"\} 1$/m);
    assert.match(metrics, /^notrack_drift_checks_total\{status="Failed"\} 1$/m);
    assert.is((await fetch(a.url('/healthz'))).status, 200);
  } finally {
    await a.handle.stop();
  }
});

test.run();

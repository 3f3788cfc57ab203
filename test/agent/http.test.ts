// The agent's HTTP endpoints: /metrics with the kernel counters and reconcile outcomes, /healthz, /livez, /status.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createServer } from 'node:net';
import { UsageError } from '../../src/errors.js';
import { AgentListenError } from '../../src/agent/http.js';
import { DEFAULT_AGENT_OPTIONS } from '../../src/agent/options.js';
import { runAgent } from '../../src/agent/run-agent.js';
import { finished, startAgent, type TestAgent } from './agent-harness.js';
import { ScriptedReconciler, failed, ready, stalled } from './scripted-reconciler.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const GOOD = { commit: 'a11ce00000000000000000000000000000000001', generation: 3 };

async function get(a: TestAgent, path: string, method = 'GET'): Promise<{ code: number; type: string; body: string }> {
  const res = await fetch(a.url(path), { method });
  return { code: res.status, type: res.headers.get('content-type') ?? '', body: await res.text() };
}

/** Sample value of one series: `name{labels}` exactly as exposed. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

test('/metrics exposes every listed series, with the kernel counters read from counters() at scrape time', async () => {
  const r = new ScriptedReconciler({
    reconcile: [ready('c0ffee0000000000000000000000000000000001', 7, 4)],
    drift: [
      () => ({
        status: 'Drifted',
        message: '1 object',
        drifted: [{ object: 'XDP program on eth0', description: 'detached' }],
        corrected: true,
        durationMs: 4,
      }),
    ],
  });
  const a = await startAgent(r);
  try {
    await a.log.waitFor(finished('startup'));
    await a.ticker.fire('drift');
    const m = await get(a, '/metrics');
    assert.is(m.code, 200);
    assert.match(m.type, 'text/plain');
    const t = m.body;
    assert.is(
      sample(
        t,
        'notrack_rule_packets_total{iface="eth0",policy="edge-deny",direction="ingress",rule_id="3f2a1b2c4d5e",action="Deny"}',
      ),
      12345,
    );
    assert.is(
      sample(
        t,
        'notrack_rule_bytes_total{iface="eth0",policy="edge-deny",direction="ingress",rule_id="3f2a1b2c4d5e",action="Deny"}',
      ),
      5_000_000_123,
    );
    assert.is(
      sample(
        t,
        'notrack_rule_packets_total{iface="eth0",policy="db-untracked",direction="egress",rule_id="9c8b7a6f5e4d",action="Allow"}',
      ),
      7,
    );
    assert.is(sample(t, 'notrack_packets_total{iface="eth0",verdict="dropped"}'), 12345);
    assert.is(sample(t, 'notrack_packets_total{iface="eth0",verdict="failsafe"}'), 42);
    // Verdicts, Log events and datapath errors are separate families; no series carries an aggregate label.
    assert.is(sample(t, 'notrack_xdp_packets_total{iface="eth0"}'), 12400);
    assert.is(sample(t, 'notrack_log_events_total{iface="eth0",event="rate_limited"}'), 3);
    assert.is(sample(t, 'notrack_datapath_errors_total{iface="eth0",error="tail_call_failed"}'), 0);
    assert.not.match(t, 'reason="total"');
    assert.not.match(t, /notrack_packets_total\{[^}]*verdict="(seen|rate_limited|tail_call_failed)"/);
    assert.is(sample(t, 'notrack_interface_protected{iface="eth0"}'), 1);
    assert.is(sample(t, 'notrack_interface_protected{iface="eth1"}'), 0);
    assert.is(sample(t, 'notrack_drift_check_duration_seconds_count'), 1);
    assert.match(t, /^notrack_build_info\{version="[^"]+",commit="[^"]+"\} 1$/m);
    assert.match(t, /^process_cpu_user_seconds_total /m);
    assert.match(t, /^nodejs_eventloop_lag_seconds /m);
    assert.is(sample(t, 'notrack_reconcile_total{status="Ready",reason="ReconciliationSucceeded"}'), 1);
    assert.is(sample(t, 'notrack_reconcile_duration_seconds_count'), 1);
    assert.is(sample(t, 'notrack_last_applied_info{commit="c0ffee0000000000000000000000000000000001",ref="main"}'), 1);
    assert.is(sample(t, 'notrack_last_applied_generation'), 7);
    const lastSuccess = sample(t, 'notrack_last_success_timestamp_seconds')!;
    assert.ok(Math.abs(lastSuccess - Date.now() / 1000) < 10, 'last success is a Unix time in seconds');
    assert.is(sample(t, 'notrack_reconcile_condition{status="Ready"}'), 1);
    assert.is(sample(t, 'notrack_drift_objects'), 1);
    assert.is(sample(t, 'notrack_drift_checks_total{status="Drifted"}'), 1);
    assert.match(t, '# TYPE notrack_errors_total counter');
    assert.is(r.calls.filter((c) => c.method === 'counters').length, 1, 'one scrape reads the host once');

    const before = r.calls.length;
    await get(a, '/metrics');
    assert.is(r.calls.length, before + 1, 'each scrape reads fresh counters');
  } finally {
    await a.handle.stop();
  }
});

test('a failed counters read is counted and logged, and the scrape still answers', async () => {
  const r = new ScriptedReconciler();
  r.countersError = 'bpf_map_lookup_elem: permission denied';
  const a = await startAgent(r, { runOnStart: false });
  try {
    const first = await get(a, '/metrics');
    assert.is(first.code, 200);
    assert.not.match(first.body, 'notrack_rule_packets_total{');
    const second = await get(a, '/metrics');
    assert.is(sample(second.body, 'notrack_errors_total{stage="counters"}'), 2);
    const [warn] = a.log.find((e) => e.msg === 'reading counters failed');
    assert.is(warn!['error'], 'bpf_map_lookup_elem: permission denied');
  } finally {
    await a.handle.stop();
  }
});

test('failed reconciles count under their stage in notrack_errors_total', async () => {
  const r = new ScriptedReconciler({ reconcile: [failed('FetchFailed'), stalled('ValidationFailed')] });
  const a = await startAgent(r, { retry: { initialMs: 60_000, maxMs: 60_000, factor: 1, jitter: 0 } });
  try {
    await a.log.waitFor(finished('startup'));
    await a.handle.reconcileNow();
    const t = (await get(a, '/metrics')).body;
    assert.is(sample(t, 'notrack_errors_total{stage="fetch"}'), 1);
    assert.is(sample(t, 'notrack_errors_total{stage="validation"}'), 1);
    assert.is(sample(t, 'notrack_reconcile_total{status="Failed",reason="FetchFailed"}'), 1);
    assert.is(sample(t, 'notrack_reconcile_condition{status="Stalled"}'), 1);
  } finally {
    await a.handle.stop();
  }
});

test('/healthz: 503 before the first reconcile, 200 when Ready', async () => {
  const r = new ScriptedReconciler();
  const a = await startAgent(r, { runOnStart: false });
  try {
    const before = await get(a, '/healthz');
    assert.is(before.code, 503);
    assert.equal(JSON.parse(before.body), {
      ok: false,
      reason: 'NotReconciledYet',
      message: 'no reconcile has finished yet',
    });
    await a.ticker.fire('reconcile');
    const after = await get(a, '/healthz');
    assert.is(after.code, 200);
    assert.is(JSON.parse(after.body).reason, 'Ready');
  } finally {
    await a.handle.stop();
  }
});

test('/healthz: Failed stays 200 while the host keeps a last good state, 503 when it never had one', async () => {
  const withState = await startAgent(new ScriptedReconciler({ reconcile: [failed('FetchFailed', GOOD)] }), {
    retry: { initialMs: 60_000, maxMs: 60_000, factor: 1, jitter: 0 },
  });
  try {
    await withState.log.waitFor(finished('startup'));
    const h = await get(withState, '/healthz');
    assert.is(h.code, 200);
    const body = JSON.parse(h.body);
    assert.is(body.reason, 'Retrying');
    assert.match(body.message, 'the host keeps a11ce0000000 generation 3; retry 1 in ');
  } finally {
    await withState.handle.stop();
  }

  const without = await startAgent(new ScriptedReconciler({ reconcile: [failed('FetchFailed', null)] }), {
    retry: { initialMs: 60_000, maxMs: 60_000, factor: 1, jitter: 0 },
  });
  try {
    await without.log.waitFor(finished('startup'));
    const h = await get(without, '/healthz');
    assert.is(h.code, 503);
    assert.is(JSON.parse(h.body).reason, 'NoLastGoodState');
  } finally {
    await without.handle.stop();
  }
});

test('/healthz: Stalled is 200 for a while, then 503 once it lasts longer than the threshold', async () => {
  let clock = 1_800_000_000_000;
  const r = new ScriptedReconciler({ reconcile: [stalled('ValidationFailed', GOOD)] });
  const a = await startAgent(r, { stalledUnhealthyAfterMs: 15 * 60_000 }, { now: () => clock });
  try {
    await a.log.waitFor(finished('startup'));
    clock += 10 * 60_000;
    await a.ticker.fire('reconcile'); // still Stalled: the stall keeps its start time
    let h = await get(a, '/healthz');
    assert.is(h.code, 200);
    assert.is(JSON.parse(h.body).reason, 'Stalled');
    clock += 6 * 60_000;
    h = await get(a, '/healthz');
    assert.is(h.code, 503);
    const body = JSON.parse(h.body);
    assert.is(body.reason, 'StalledTooLong');
    assert.match(body.message, 'Stalled (ValidationFailed) for 16m, longer than 15m');
  } finally {
    await a.handle.stop();
  }
});

test('/livez fails when one run takes longer than hung-after; HEAD works; other methods and paths are refused', async () => {
  // The agent's clock is the test's, and the run ends when the test says so: no timing under load decides the result.
  let clock = 1_000_000;
  let release!: () => void;
  const until = new Promise<void>((resolve) => (release = resolve));
  const r = new ScriptedReconciler({ reconcile: [{ ...ready(), until }] });
  const a = await startAgent(r, { hungAfterMs: 100 }, { now: () => clock });
  try {
    for (const until = Date.now() + 10_000; r.inFlight === 0; await sleep(5))
      if (Date.now() > until) throw new Error('the startup run never began');
    assert.is((await get(a, '/livez')).code, 200);
    clock += 150;
    const hung = await get(a, '/livez');
    assert.is(hung.code, 503);
    assert.is(JSON.parse(hung.body).reason, 'Hung');
    release();
    await a.log.waitFor(finished('startup'));
    assert.is((await get(a, '/livez')).code, 200);
    const head = await get(a, '/healthz', 'HEAD');
    assert.equal([head.code, head.body], [200, '']);
    assert.is((await get(a, '/healthz', 'POST')).code, 405);
    assert.is((await get(a, '/reconcile')).code, 404);
  } finally {
    release();
    await a.handle.stop();
  }
});

test('/status is the latest outcomes as versioned JSON', async () => {
  const r = new ScriptedReconciler({ reconcile: [ready('c0ffee0000000000000000000000000000000001', 7, 4)] });
  const a = await startAgent(r, { driftMode: 'warn' });
  try {
    await a.log.waitFor(finished('startup'));
    await a.ticker.fire('drift');
    const s = await get(a, '/status');
    assert.is(s.code, 200);
    assert.match(s.type, 'application/json');
    const doc = JSON.parse(s.body);
    assert.is(doc.formatVersion, 1);
    assert.is(doc.kind, 'notrack.agent.status');
    assert.equal(doc.condition.status, 'Ready');
    assert.equal(doc.applied, { commit: 'c0ffee0000000000000000000000000000000001', ref: 'main', generation: 7 });
    assert.is(doc.lastReconcile.trigger, 'startup');
    assert.is(doc.lastReconcile.outcome.changes, 4);
    assert.is(doc.lastDrift.mode, 'warn');
    assert.is(doc.lastDrift.outcome.status, 'InSync');
    assert.is(doc.health.readiness.ok, true);
    assert.is(doc.settings.driftMode, 'warn');
    assert.equal({ ...a.handle.status(), now: doc.now }, doc, 'handle.status() is the same document');
  } finally {
    await a.handle.stop();
  }
});

test('the agent refuses a public address without --listen-public, and says so when the port is taken', async () => {
  const r = new ScriptedReconciler();
  try {
    await runAgent({ ...DEFAULT_AGENT_OPTIONS, listen: '0.0.0.0:0' }, r, { signals: false, write: () => {} });
    assert.unreachable('should refuse');
  } catch (e) {
    assert.instance(e, UsageError);
    assert.match((e as Error).message, '--listen-public');
  }
  const taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', () => resolve()));
  const port = (taken.address() as { port: number }).port;
  try {
    await runAgent({ ...DEFAULT_AGENT_OPTIONS, listen: `127.0.0.1:${port}` }, r, { signals: false, write: () => {} });
    assert.unreachable('should fail to listen');
  } catch (e) {
    assert.instance(e, AgentListenError);
    assert.is((e as AgentListenError).code, 'agent-listen-failed');
    assert.match((e as Error).message, `cannot listen on 127.0.0.1:${port} for metrics and health: EADDRINUSE`);
  } finally {
    taken.close();
  }
  assert.is(r.reconciles().length, 0, 'nothing ran when the start failed');
});

test.run();

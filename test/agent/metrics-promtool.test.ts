// The agent's /metrics text passes Prometheus's own linter (`promtool check metrics`): names, types, units, help,
// counters ending in _total, with the kernel counters, reconcile and drift outcomes and the process metrics in it.
import { spawnSync } from 'node:child_process';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { AgentMetrics } from '../../src/agent/metrics.js';
import { SAMPLE_COUNTERS, failed, ready } from './scripted-reconciler.js';

async function exposition(): Promise<string> {
  const m = new AgentMetrics(
    async () => SAMPLE_COUNTERS,
    () => {},
    { version: '0.1.0', commit: 'c0ffee0000000000000000000000000000000001' },
  );
  m.reconciled(
    ready('c0ffee0000000000000000000000000000000001', 3, 2),
    { commit: 'c0ffee', ref: 'main', generation: 3 },
    Date.now(),
  );
  m.reconciled(failed('FetchFailed'), { commit: 'c0ffee', ref: 'main', generation: 3 }, Date.now());
  m.driftChecked({
    status: 'Drifted',
    message: '',
    drifted: [{ object: 'x', description: 'y' }],
    corrected: true,
    durationMs: 12,
  });
  return (await m.render()).body;
}

test('promtool check metrics finds nothing to fix in the agent metrics', async () => {
  const text = await exposition();
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  assert.ok(r.error === undefined, `promtool runs (scripts/setup.sh installs the prometheus package): ${r.error}`);
  assert.is(`${r.stdout}${r.stderr}`.trim(), '');
  assert.is(r.status, 0);
});

test('promtool would catch a lint problem: the check is not vacuous', () => {
  const bad = '# HELP notrack_packets packets\n# TYPE notrack_packets counter\nnotrack_packets{iface="eth0"} 1\n';
  const r = spawnSync('promtool', ['check', 'metrics'], { input: bad, encoding: 'utf8' });
  assert.is.not(r.status, 0);
  assert.match(`${r.stdout}${r.stderr}`, 'counter metrics should have "_total" suffix');
});

test('every notrack family has help and a type, and label sets never carry an aggregate value', async () => {
  const text = await exposition();
  const families = [...text.matchAll(/^# TYPE (notrack_\S+) (\S+)$/gm)].map((m) => m[1]!);
  for (const f of families) assert.match(text, new RegExp(`^# HELP ${f} \\S`, 'm'));
  for (const f of [
    'notrack_packets_total',
    'notrack_log_events_total',
    'notrack_datapath_errors_total',
    'notrack_xdp_packets_total',
    'notrack_build_info',
    'notrack_interface_protected',
    'notrack_drift_check_duration_seconds',
  ])
    assert.ok(families.includes(f), `${f} is exposed`);
  assert.not.match(text, /="total"/);
});

test.run();

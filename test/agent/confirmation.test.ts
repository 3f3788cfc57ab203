// The agent's side of commit confirmation: a Ready that says `confirming` is followed in the same turn by confirm();
// a rollback becomes the reconcile's end (Stalled, RolledBack) in /status, the metrics and an error log line, and a
// drift check never runs between the switch and its outcome.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { ConfirmOutcome, ReconcileOutcome } from '../../src/agent/reconciler.js';
import { finished, startAgent } from './agent-harness.js';
import { ScriptedReconciler, ready } from './scripted-reconciler.js';

const GOOD = 'c0ffee0000000000000000000000000000000001';
const BAD = 'bad0000000000000000000000000000000000002';

/** A reconciler whose switches are confirmed (or rolled back) as scripted, recording when confirm() ran. */
class ConfirmingReconciler extends ScriptedReconciler {
  confirmCalls: { startedAt: number; endedAt: number }[] = [];
  constructor(
    reconcile: ReconcileOutcome[],
    private readonly outcomes: (ConfirmOutcome | null)[],
    private readonly delayMs = 0,
  ) {
    super({ reconcile });
  }
  async confirm(): Promise<ConfirmOutcome | null> {
    const startedAt = Date.now();
    await new Promise((r) => setTimeout(r, this.delayMs));
    this.confirmCalls.push({ startedAt, endedAt: Date.now() });
    return this.outcomes.shift() ?? null;
  }
}

const switched = (commit: string): ReconcileOutcome => ({
  ...ready(commit, 2, 3),
  message: `applied ${commit.slice(0, 12)}: 3 changes; confirming: 2 probes within 30 s`,
  confirming: true,
});

function rolledBack(): ConfirmOutcome {
  const message = `rolled back ${BAD.slice(0, 12)}: git remote https://git.example/policy.git: no answer within 5000 ms, passed before the switch and not within 30 s after it`;
  return {
    status: 'RolledBack',
    commit: BAD,
    message,
    probes: [{ probe: 'git remote https://git.example/policy.git', before: true, after: false, error: 'no answer' }],
    durationMs: 30_100,
    outcome: {
      status: 'Stalled',
      reason: 'RolledBack',
      message,
      revision: { ref: 'main', commit: BAD },
      appliedRevision: { commit: GOOD, generation: 3 },
      changes: 0,
      durationMs: 30_100,
    },
  };
}

test('a rollback ends the reconcile Stalled/RolledBack in /status, metrics and an error log line', async () => {
  const r = new ConfirmingReconciler([switched(BAD)], [rolledBack()], 50);
  const a = await startAgent(r);
  try {
    await a.log.waitFor((e) => e.msg === 'commit rolled back');
    const [switchLine, endLine] = await a.log.waitFor(finished('startup'), 2);
    assert.equal([switchLine!['status'], switchLine!['reason']], ['Ready', 'ReconciliationSucceeded']);
    assert.match(String(switchLine!['message']), /confirming/);
    assert.equal([endLine!['status'], endLine!['reason'], endLine!.level], ['Stalled', 'RolledBack', 'error']);
    const rolled = a.log.find((e) => e.msg === 'commit rolled back')[0]!;
    assert.equal([rolled.level, rolled['commit']], ['error', BAD]);
    const status = (await (await fetch(a.url('/status'))).json()) as Record<string, any>;
    assert.equal([status.condition.status, status.condition.reason], ['Stalled', 'RolledBack']);
    assert.equal(status.applied, { commit: GOOD, ref: null, generation: 3 });
    assert.is(status.lastConfirmation.outcome.status, 'RolledBack');
    const health = await fetch(a.url('/healthz'));
    assert.is(health.status, 200, 'the host runs its last good state again');
    const metrics = await (await fetch(a.url('/metrics'))).text();
    assert.match(metrics, /notrack_rollbacks_total 1/);
    assert.match(metrics, new RegExp(`notrack_rolled_back_commit_info\\{commit="${BAD}"\\} 1`));
    assert.match(metrics, /notrack_confirmations_total\{result="RolledBack"\} 1/);
    assert.match(metrics, /notrack_confirmations_total\{result="Confirmed"\} 0/);
    assert.match(metrics, /notrack_reconcile_total\{status="Stalled",reason="RolledBack"\} 1/);
    assert.match(metrics, /notrack_errors_total\{stage="confirmation"\} 1/);
  } finally {
    await a.handle.stop();
  }
});

test('a confirmed switch stays Ready; confirm() runs in the reconcile turn, so a drift check waits for it', async () => {
  const confirmed: ConfirmOutcome = {
    status: 'Confirmed',
    commit: GOOD,
    message: `${GOOD.slice(0, 12)} confirmed: 1 probe passed after the switch`,
    probes: [],
    durationMs: 200,
  };
  const r = new ConfirmingReconciler([switched(GOOD)], [confirmed], 200);
  const a = await startAgent(r);
  try {
    // The startup reconcile is running its confirmation when the drift tick comes.
    await a.log.waitFor(finished('startup'));
    await a.ticker.fire('drift');
    await a.log.waitFor((e) => e.msg === 'commit confirmed');
    assert.is(r.confirmCalls.length, 1);
    const drift = r.driftChecks()[0]!;
    assert.ok(drift.startedAt >= r.confirmCalls[0]!.endedAt, 'the drift check ran after the confirmation');
    const status = (await (await fetch(a.url('/status'))).json()) as Record<string, any>;
    assert.equal([status.condition.status, status.lastConfirmation.outcome.status], ['Ready', 'Confirmed']);
    assert.match(await (await fetch(a.url('/metrics'))).text(), /notrack_rollbacks_total 0/);
  } finally {
    await a.handle.stop();
  }
});

test('a Ready without `confirming` is never confirmed', async () => {
  const r = new ConfirmingReconciler([ready(GOOD)], [], 0);
  const a = await startAgent(r);
  try {
    await a.log.waitFor(finished('startup'));
    await a.ticker.fire('reconcile');
    assert.is(r.confirmCalls.length, 0);
  } finally {
    await a.handle.stop();
  }
});

test.run();

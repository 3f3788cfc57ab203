// When the reconciler runs: scheduled ticks, requests (start, SIGHUP), retries after Failed with backoff, all
// through one single-flight lock, and a stop that lets a running call finish.
//
// The rules, in one place:
// - A scheduled tick is skipped (and logged) when its own kind already runs or waits; a tick of the other kind
//   waits its turn, so a drift check that falls on the reconcile's minute runs right after it. While a reconcile
//   fetches (outside the lock), a drift check goes ahead, so a slow Git server never holds drift checks back.
// - Failed arms a backoff timer; until it fires, scheduled reconcile ticks are skipped (the retry owns the next
//   attempt). Ready clears it. Stalled clears it too and waits for the next tick: a new commit may fix the policy,
//   and retrying a broken commit fast cannot.
// - A request (SIGHUP) always gets a reconcile that starts after it was made: it queues behind a running one and
//   joins one that already waits.
import type { AgentRecord } from './agent-record.js';
import type { DriftMode, JobKind } from './agent-state.js';
import { retryDelay, type RetryPolicy } from './backoff.js';
import type { DriftOutcome, ReconcileOutcome, ReconcileTrigger, Reconciler } from './reconciler.js';
import { SingleFlight } from './single-flight.js';

interface LoopClock {
  now(): number;
  random(): number;
}

const STATUSES = new Set(['Ready', 'Stalled', 'Failed']);
const DRIFT_STATUSES = new Set(['InSync', 'Drifted', 'Failed']);

export class ReconcileLoop {
  private readonly lock: SingleFlight<JobKind>;
  private retryTimer: NodeJS.Timeout | null = null;
  private attempt = 0;
  private stopping = false;

  constructor(
    private readonly reconciler: Reconciler,
    private readonly record: AgentRecord,
    private readonly options: { driftMode: DriftMode; retry: RetryPolicy },
    private readonly clock: LoopClock,
    /** Called after every reconcile and drift check: they may have changed what protects the host. */
    private readonly afterJob: () => Promise<void> = async () => {},
  ) {
    this.lock = new SingleFlight<JobKind>(clock.now);
  }

  /** A scheduled tick of `job`; resolves when its run finished or was skipped. */
  tick(job: JobKind): Promise<void> {
    if (this.stopping) return this.skip(job, 'stopping');
    if (this.lock.isRunning(job)) return this.skip(job, 'busy');
    if (this.lock.isWaiting(job)) return this.skip(job, 'queued');
    if (job === 'reconcile' && this.retryTimer) return this.skip(job, 'retry-pending');
    return this.lock.submit(job, job === 'reconcile' ? () => this.runReconcile('schedule') : () => this.runDrift());
  }

  /** The scheduler dropped a tick of `job` because the previous one had not finished (node-cron noOverlap). */
  overlapped(job: JobKind): void {
    this.record.tickSkipped(job, 'busy');
  }

  /** Reconcile as soon as the lock is free: at start, on SIGHUP. Resolves when that reconcile finished. */
  request(trigger: 'startup' | 'signal'): Promise<void> {
    if (this.stopping) return Promise.resolve();
    if (this.lock.isWaiting('reconcile')) {
      this.record.requested(trigger, 'coalesced');
      return Promise.resolve();
    }
    this.record.requested(trigger, this.lock.running() ? 'queued' : 'started');
    return this.lock.submit('reconcile', () => this.runReconcile(trigger));
  }

  /** Stops starting anything: the retry timer and waiting jobs are dropped. Returns what still runs, if anything. */
  stopScheduling(): { running: JobKind | null; dropped: number } {
    this.stopping = true;
    this.clearRetry();
    return { running: this.lock.running()?.key ?? null, dropped: this.lock.cancelWaiting() };
  }

  /** Resolves when the running job, if any, has finished. */
  settled(): Promise<void> {
    return this.lock.settled();
  }

  private skip(job: JobKind, reason: 'busy' | 'queued' | 'retry-pending' | 'stopping'): Promise<void> {
    this.record.tickSkipped(job, reason);
    return Promise.resolve();
  }

  private async runReconcile(trigger: ReconcileTrigger): Promise<void> {
    const started = this.clock.now();
    this.record.reconcileStarted(trigger);
    let outcome: ReconcileOutcome;
    try {
      outcome = await this.reconciler.reconcile(trigger, (fetch) => this.lock.outside(fetch));
      if (!outcome || !STATUSES.has(outcome.status))
        throw new Error(`reconcile() returned no outcome (${JSON.stringify(outcome)})`);
    } catch (e) {
      outcome = {
        status: 'Failed',
        reason: 'ReconcilerError',
        message: `the reconciler threw: ${(e as Error)?.message ?? String(e)}`,
        revision: null,
        appliedRevision: null,
        changes: 0,
        durationMs: this.clock.now() - started,
      };
    }
    this.clearRetry();
    let retry = null;
    if (outcome.status === 'Failed') {
      this.attempt += 1;
      if (!this.stopping) {
        const delayMs = retryDelay(this.options.retry, this.attempt, this.clock.random);
        this.retryTimer = setTimeout(() => this.retryDue(), delayMs);
        retry = { attempt: this.attempt, delayMs, nextAt: this.clock.now() + delayMs };
      }
    } else {
      this.attempt = 0;
    }
    this.record.reconciled(trigger, outcome, retry);
    // The switch was reported at once; its confirmation follows in the same turn, so nothing else changes the host
    // while the probes decide (a rollback is recorded as this reconcile's end).
    if (outcome.status === 'Ready' && outcome.confirming && this.reconciler.confirm) {
      this.record.confirming(trigger);
      try {
        const c = await this.reconciler.confirm();
        if (c) this.record.confirmed(trigger, c);
      } catch (e) {
        this.record.confirmationThrew(e);
      }
    }
    await this.afterJob();
  }

  private retryDue(): void {
    this.retryTimer = null;
    if (this.stopping || this.lock.isWaiting('reconcile')) return;
    void this.lock.submit('reconcile', async () => {
      // A reconcile that ran since the timer fired (SIGHUP) may have settled the matter, or failed and armed a
      // later retry of its own: either way this one is not due any more.
      if (this.retryTimer || this.record.state.lastReconcile?.outcome.status !== 'Failed') return;
      await this.runReconcile('retry');
    });
  }

  private clearRetry(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }

  private async runDrift(): Promise<void> {
    const mode = this.options.driftMode;
    const started = this.clock.now();
    this.record.driftStarted(mode);
    let outcome: DriftOutcome;
    try {
      outcome = await this.reconciler.checkDrift(mode);
      if (!outcome || !DRIFT_STATUSES.has(outcome.status))
        throw new Error(`checkDrift() returned no outcome (${JSON.stringify(outcome)})`);
    } catch (e) {
      outcome = {
        status: 'Failed',
        message: `the drift check threw: ${(e as Error)?.message ?? String(e)}`,
        drifted: [],
        corrected: false,
        durationMs: this.clock.now() - started,
      };
    }
    this.record.driftChecked(mode, outcome);
    await this.afterJob();
  }
}

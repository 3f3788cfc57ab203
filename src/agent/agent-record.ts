// Records what happens in the agent into its state, then renders each event into the log and the metrics.
// Every outcome passes through here once, so logs, metrics, /status and /healthz cannot tell different stories.
import {
  appliedAfter,
  initialState,
  type AgentState,
  type DriftMode,
  type JobKind,
  type PendingRetry,
} from './agent-state.js';
import { liveness, readiness, type Health } from './health.js';
import type { Log, LogFields } from './log.js';
import type { AgentMetrics } from './metrics.js';
import type { ProtectionMetrics } from './protection-metrics.js';
import type { ConfirmationMetrics } from './confirmation-metrics.js';
import type {
  ConfirmOutcome,
  DriftOutcome,
  HostProtection,
  ProtectOutcome,
  ReconcileOutcome,
  ReconcileTrigger,
  RestoreOutcome,
} from './reconciler.js';

/** Why a scheduled tick did not run: its job runs or waits already, a retry owns the next attempt, or shutdown. */
type SkipReason = 'busy' | 'queued' | 'retry-pending' | 'stopping';

interface RecordOptions {
  stalledUnhealthyAfterMs: number;
  hungAfterMs: number;
  /** Shown in /status. */
  settings: Record<string, unknown>;
  /** Protection gauges (absent in runtimes whose reconciler cannot observe protection). */
  protectionMetrics?: ProtectionMetrics;
  /** Confirmation and rollback counters (absent in runtimes whose reconciler does not confirm). */
  confirmationMetrics?: ConfirmationMetrics;
}

export class AgentRecord {
  readonly state: AgentState;

  constructor(
    private readonly log: Log,
    private readonly metrics: AgentMetrics,
    private readonly now: () => number,
    private readonly options: RecordOptions,
  ) {
    this.state = initialState(now());
  }

  reconcileStarted(trigger: ReconcileTrigger): void {
    this.state.running = { job: 'reconcile', trigger, mode: null, since: this.now() };
    this.log.debug('reconcile started', { trigger });
  }

  reconciled(trigger: ReconcileTrigger, outcome: ReconcileOutcome, retry: PendingRetry | null): void {
    const s = this.state;
    const at = this.now();
    const previous = s.lastReconcile?.outcome.status;
    const failuresBefore = s.consecutiveFailures;
    s.running = null;
    s.lastReconcile = { trigger, at, outcome };
    if (previous !== outcome.status) s.statusSince = at;
    if (outcome.status === 'Ready') s.lastSuccess = s.lastReconcile;
    s.applied = appliedAfter(s.applied, outcome);
    s.retry = retry;
    s.consecutiveFailures = outcome.status === 'Failed' ? failuresBefore + 1 : 0;
    this.metrics.reconciled(outcome, s.applied, at);

    const fields: LogFields = {
      trigger,
      status: outcome.status,
      reason: outcome.reason,
      message: outcome.message,
      revision: outcome.revision,
      appliedRevision: outcome.appliedRevision,
      changes: outcome.changes,
      durationMs: outcome.durationMs,
    };
    if (outcome.status === 'Ready') {
      if (failuresBefore > 0) fields['recoveredAfterFailures'] = failuresBefore;
      this.log.info('reconcile finished', fields);
    } else if (outcome.status === 'Failed') {
      if (retry)
        Object.assign(fields, {
          attempt: retry.attempt,
          retryInMs: retry.delayMs,
          retryAt: new Date(retry.nextAt).toISOString(),
        });
      this.log.error('reconcile finished', fields);
    } else {
      this.log.error('reconcile finished', {
        ...fields,
        stalledForMs: at - (s.statusSince ?? at),
        next: 'waiting for the next scheduled tick',
      });
    }
  }

  /** A switch was reported; its probes run now (shown in /status `running.confirming`). */
  confirming(trigger: ReconcileTrigger): void {
    this.state.running = { job: 'reconcile', trigger, mode: null, since: this.now(), confirming: true };
  }

  /** confirm() threw: the switch stays (nothing was rolled back), and the log says so. */
  confirmationThrew(e: unknown): void {
    this.state.running = null;
    this.log.error('confirmation failed', {
      error: (e as Error)?.message ?? String(e),
      result: 'the switch stays as applied',
    });
  }

  /** How the confirmation of a switch ended; a rollback is logged at error and then recorded as the reconcile's end. */
  confirmed(trigger: ReconcileTrigger, c: ConfirmOutcome): void {
    this.state.running = null;
    this.state.lastConfirmation = { at: this.now(), outcome: c };
    this.options.confirmationMetrics?.confirmed(c);
    const fields: LogFields = { commit: c.commit, message: c.message, probes: c.probes, durationMs: c.durationMs };
    if (c.status === 'Confirmed') this.log.info('commit confirmed', fields);
    else this.log.error(c.status === 'RolledBack' ? 'commit rolled back' : 'rollback failed', fields);
    if (c.outcome) this.reconciled(trigger, c.outcome, null);
  }

  driftStarted(mode: DriftMode): void {
    this.state.running = { job: 'drift', trigger: null, mode, since: this.now() };
    this.log.debug('drift check started', { mode });
  }

  driftChecked(mode: DriftMode, outcome: DriftOutcome): void {
    const at = this.now();
    this.state.running = null;
    this.state.lastDrift = { mode, at, outcome };
    this.metrics.driftChecked(outcome);
    const fields: LogFields = {
      mode,
      status: outcome.status,
      message: outcome.message,
      driftedObjects: outcome.drifted.length,
      drifted: outcome.drifted,
      corrected: outcome.corrected,
      durationMs: outcome.durationMs,
    };
    if (outcome.status === 'InSync') this.log.info('drift check finished', fields);
    else if (outcome.status === 'Drifted') this.log.warn('drift check finished', fields);
    else this.log.error('drift check finished', fields);
  }

  tickSkipped(job: JobKind, reason: SkipReason): void {
    const r = this.state.running;
    const fields: LogFields = { job, reason };
    if (r) Object.assign(fields, { running: r.job, runningForMs: this.now() - r.since });
    if (reason === 'retry-pending' && this.state.retry)
      fields['retryAt'] = new Date(this.state.retry.nextAt).toISOString();
    (reason === 'busy' ? this.log.warn : this.log.info)('scheduled tick skipped', fields);
  }

  requested(trigger: ReconcileTrigger, how: 'started' | 'queued' | 'coalesced'): void {
    this.log.info('reconcile requested', { trigger, how });
  }

  /** A fresh observation of protection; a change of the unprotected set is logged (error while unprotected). */
  protectionObserved(p: HostProtection): void {
    const before = this.state.protection?.unprotected.join(',') ?? '';
    this.state.protection = p;
    this.state.protectionAt = this.now();
    this.options.protectionMetrics?.observed(p);
    const after = p.unprotected.join(',');
    if (after === before) return;
    if (p.unprotected.length)
      this.log.error('host unprotected', {
        interfaces: p.interfaces.filter((i) => !i.protected).map((i) => ({ iface: i.name, problem: i.problem })),
      });
    else this.log.info('host protected', { interfaces: p.interfaces.filter((i) => i.present).map((i) => i.name) });
  }

  /** What the start-up restore put back from the state folder. */
  restored(r: RestoreOutcome): void {
    const fields = { commit: r.commit, changes: r.changes, durationMs: r.durationMs };
    if (r.failed.length)
      this.log.error('restored the last applied state, with failures', { ...fields, failed: r.failed });
    else this.log.info('restored the last applied state', fields);
  }

  /** What a protect() call did, after `trigger` (a link event, the start). */
  protectedInterfaces(trigger: string, o: ProtectOutcome, latencyMs: number): void {
    this.options.protectionMetrics?.protected(o);
    if (o.attached.length)
      this.log.info('interfaces attached', { trigger, attached: o.attached, latencyMs, durationMs: o.durationMs });
    if (o.failed.length) this.log.error('attaching interfaces failed', { trigger, failed: o.failed });
    if (o.leftInWarnMode.length)
      this.log.warn('interfaces left detached (warn mode: detached by hand)', { interfaces: o.leftInWarnMode });
  }

  readiness(): Health {
    return readiness(this.state, this.now(), this.options.stalledUnhealthyAfterMs);
  }

  liveness(): Health {
    return liveness(this.state, this.now(), this.options.hungAfterMs);
  }

  /** The /status document (kind notrack.agent.status, formatVersion 1; see docs/agent.md). */
  statusDocument(): Record<string, unknown> {
    const s = this.state;
    const iso = (ms: number | null | undefined): string | null =>
      ms === null || ms === undefined ? null : new Date(ms).toISOString();
    const last = s.lastReconcile;
    return {
      formatVersion: 1,
      kind: 'notrack.agent.status',
      now: iso(this.now()),
      startedAt: iso(s.startedAt),
      condition: last
        ? {
            status: last.outcome.status,
            reason: last.outcome.reason,
            message: last.outcome.message,
            since: iso(s.statusSince),
          }
        : {
            status: 'Unknown',
            reason: 'NotReconciledYet',
            message: 'no reconcile has finished yet',
            since: iso(s.startedAt),
          },
      running: s.running
        ? {
            job: s.running.job,
            trigger: s.running.trigger,
            mode: s.running.mode,
            since: iso(s.running.since),
            ...(s.running.confirming ? { confirming: true } : {}),
          }
        : null,
      health: { readiness: this.readiness(), liveness: this.liveness() },
      applied: s.applied,
      lastReconcile: last ? { trigger: last.trigger, at: iso(last.at), outcome: last.outcome } : null,
      lastSuccess: s.lastSuccess
        ? { trigger: s.lastSuccess.trigger, at: iso(s.lastSuccess.at), outcome: s.lastSuccess.outcome }
        : null,
      lastDrift: s.lastDrift ? { mode: s.lastDrift.mode, at: iso(s.lastDrift.at), outcome: s.lastDrift.outcome } : null,
      retry: s.retry ? { attempt: s.retry.attempt, delayMs: s.retry.delayMs, nextAt: iso(s.retry.nextAt) } : null,
      consecutiveFailures: s.consecutiveFailures,
      lastConfirmation: s.lastConfirmation
        ? { at: iso(s.lastConfirmation.at), outcome: s.lastConfirmation.outcome }
        : null,
      protection: s.protection ? { ...s.protection, observedAt: iso(s.protectionAt) } : null,
      settings: this.options.settings,
    };
  }
}

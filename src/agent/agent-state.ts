// What the agent knows at a moment: the latest outcomes, what the host runs, what is running and what waits.
// Logs, metrics, /status and /healthz all render from this record; none of them keeps its own copy.
import type { ConfirmOutcome, DriftOutcome, HostProtection, ReconcileOutcome, ReconcileTrigger } from './reconciler.js';

export type JobKind = 'reconcile' | 'drift';
export type DriftMode = 'enforce' | 'warn';

interface RunningJob {
  job: JobKind;
  /** For a reconcile: why it runs. */
  trigger: ReconcileTrigger | null;
  /** For a drift check: enforce or warn. */
  mode: DriftMode | null;
  since: number;
  /** A reconcile that switched the host and now waits for its probes. */
  confirming?: boolean;
}

interface ReconcileRecord {
  trigger: ReconcileTrigger;
  at: number;
  outcome: ReconcileOutcome;
}
interface DriftRecord {
  mode: DriftMode;
  at: number;
  outcome: DriftOutcome;
}

/** A retry waiting on its backoff timer after a Failed reconcile. */
export interface PendingRetry {
  attempt: number;
  delayMs: number;
  nextAt: number;
}

/** What the host runs, as last reported; `ref` is the ref the commit was fetched from, when known. */
export interface AppliedRevision {
  commit: string | null;
  ref: string | null;
  generation: number;
}

export interface AgentState {
  startedAt: number;
  running: RunningJob | null;
  lastReconcile: ReconcileRecord | null;
  lastSuccess: ReconcileRecord | null;
  lastDrift: DriftRecord | null;
  /** Sticky: a later outcome without appliedRevision (say, a fetch that failed early) does not erase it. */
  applied: AppliedRevision | null;
  /** When the latest reconcile status began: consecutive outcomes with one status share it (Flux's transition time). */
  statusSince: number | null;
  retry: PendingRetry | null;
  /** Failed reconciles since the last one that was not Failed. */
  consecutiveFailures: number;
  /** The latest observation of protection from the kernel, and when it was made (null: never observed). */
  protection: HostProtection | null;
  protectionAt: number | null;
  /** How the latest switch's confirmation ended (null: none ended in this process). */
  lastConfirmation: { at: number; outcome: ConfirmOutcome } | null;
}

export function initialState(now: number): AgentState {
  return {
    startedAt: now,
    running: null,
    lastReconcile: null,
    lastSuccess: null,
    lastDrift: null,
    applied: null,
    statusSince: null,
    retry: null,
    consecutiveFailures: 0,
    protection: null,
    protectionAt: null,
    lastConfirmation: null,
  };
}

/** The applied revision after `outcome`: the reported one (with the fetched ref when it is the fetched commit). */
export function appliedAfter(previous: AppliedRevision | null, outcome: ReconcileOutcome): AppliedRevision | null {
  const a = outcome.appliedRevision;
  if (!a) return previous;
  const fetched = outcome.revision;
  const ref =
    fetched && fetched.commit !== null && fetched.commit === a.commit
      ? fetched.ref
      : previous && previous.commit === a.commit
        ? previous.ref
        : null;
  return { commit: a.commit, ref, generation: a.generation };
}

/** "main@3f2a1b2c" or "3f2a1b2c" or "unknown revision", for messages. */
export function revisionText(r: { ref: string | null; commit: string | null } | null): string {
  if (!r) return 'unknown revision';
  const commit = r.commit ? r.commit.slice(0, 12) : null;
  if (r.ref && commit) return `${r.ref}@${commit}`;
  return commit ?? r.ref ?? 'unknown revision';
}

// The reconciler's side of commit confirmation, kept out of host-reconciler.ts: the probes before a switch, what ran
// before it (kept on disk), the outcome that says `confirming`, a confirmation left unfinished by a dead process, and
// confirm() itself (commit-confirmation.ts probes and rolls back).
import type { DesiredState } from '../compile/desired-state.js';
import type { CommandRunner } from '../dataplane/iptables/index.js';
import type { ConfirmOutcome, ReconcileOutcome, Unlocked } from '../agent/reconciler.js';
import type { CommitProbes } from '../model/resources.js';
import type { SourceOptions } from '../source/index.js';
import { NotrackError } from '../errors.js';
import {
  keepPreviousState,
  readPreviousState,
  readRecord,
  removePreviousState,
  type AppliedRecord,
  type AppliedRevision,
} from './applied-record.js';
import { confirmSwitch, type PendingSwitch } from './commit-confirmation.js';
import { commitProbes, probeBefore } from './commit-probes.js';
import {
  confirmerAlive,
  readPendingConfirmation,
  removePendingConfirmation,
  writePendingConfirmation,
} from './pending-confirmation.js';

interface SwitchConfirmationOptions {
  source: SourceOptions;
  bpffs: string;
  stateDir: string;
  /** The deadline after a switch; undefined: no confirmation (--no-confirm). */
  timeoutMs: number | undefined;
  runner: () => CommandRunner;
  locked: <T>(command: string, fn: () => T | Promise<T>) => Promise<T>;
  appliedRevision: () => ReconcileOutcome['appliedRevision'];
}

/** The probes of a coming switch and how they fared before it. */
/** What a switch under confirmation adds to its Ready message (the CLI puts the generation before it). */
export const CONFIRMING_NOTE = '; confirming: ';

export interface ProbedBefore {
  configured: CommitProbes;
  probes: PendingSwitch['probes'];
  before: PendingSwitch['before'];
}

function safeRecord(stateDir: string): AppliedRecord | null {
  try {
    return readRecord(stateDir);
  } catch {
    return null;
  }
}

/** The kept previous state is no longer the one the switch replaced: nothing safe to roll back to. */
export class PreviousStateLostError extends NotrackError {
  constructor(stateDir: string, hash: string) {
    super(
      'previous-state-lost',
      `the state to roll back to (${hash.slice(0, 12)}) is no longer in ${stateDir} (another notrack replaced it, or it ` +
        'was removed or damaged): the host keeps what it runs',
    );
  }
}

/**
 * The way back when something of notrack's ran before but its state cannot be read: a rollback to it fails with
 * PreviousStateLostError (the host keeps what it runs, failsafes included) and never takes it for "nothing of
 * notrack's ran before", which would remove notrack from the host.
 */
function lostPrevious(stateDir: string, hash: string, revision: AppliedRevision): PendingSwitch['previous'] {
  return {
    revision,
    state: () => {
      throw new PreviousStateLostError(stateDir, hash);
    },
  };
}

export class SwitchConfirmation {
  private pending: PendingSwitch | null = null;
  private previous: PendingSwitch['previous'] = null;

  constructor(private readonly opts: SwitchConfirmationOptions) {}

  /** Outside the host lock, before a switch to `hash`: the probes' results now, or null when none is to be confirmed. */
  async probeBefore(
    configured: CommitProbes | undefined,
    hash: string,
    unlocked: Unlocked,
  ): Promise<ProbedBefore | null> {
    if (this.opts.timeoutMs === undefined || !configured) return null;
    if (safeRecord(this.opts.stateDir)?.desiredHash === hash) return null;
    // The commit was just fetched: the Git probe counts as passed before the switch.
    const probes = commitProbes(this.opts.source, configured, true);
    return { configured, probes, before: await unlocked(() => probeBefore(probes)) };
  }

  /**
   * Under the host lock, before applyHost: what runs now is the way back (kept on disk for a restart). `current`
   * reads the applied state; it is called only when the file cannot be kept (the rollback then has it in memory) or
   * an apply was left pending: otherwise the kept file is read at rollback, and a switch that is confirmed never
   * decodes it.
   */
  rememberPrevious(record: AppliedRecord | null, current: () => DesiredState | null, hash: string): void {
    this.previous = null;
    // Without confirmation nothing is ever rolled back (switched() keeps no pending switch): nothing to remember.
    if (this.opts.timeoutMs === undefined || !record?.desiredHash || record.desiredHash === hash) return;
    const eager = (): void => {
      const state = current();
      this.previous = state
        ? { state: () => state, revision: record.revision }
        : lostPrevious(this.opts.stateDir, record.desiredHash, record.revision);
    };
    // A record left pending names a state that is not the applied file's: read it now, as it is.
    if (record.pending) eager();
    try {
      keepPreviousState(this.opts.stateDir);
    } catch {
      // Only a restart during the confirmation needs the copy (it then rolls back to nothing of notrack's).
      removePreviousState(this.opts.stateDir);
      if (!this.previous) eager();
      return;
    }
    if (this.previous) return;
    const stateDir = this.opts.stateDir;
    const expected = record.desiredHash;
    this.previous = {
      revision: record.revision,
      state: () => {
        const state = readPreviousState(stateDir);
        // Another notrack's confirmed apply may have kept its own previous state over this one since.
        // A kept file that is gone or fails its checks is lost too: a rollback must never take it for "nothing of
        // notrack's ran before" and remove the host's protection.
        if (!state || state.hash !== expected) throw new PreviousStateLostError(stateDir, expected);
        return state;
      },
    };
  }

  /** After the apply: a Ready switch to `hash` waits for confirm(), and its outcome says so at once. */
  switched<T extends { outcome: ReconcileOutcome }>(
    r: T,
    probed: ProbedBefore | null,
    revision: AppliedRevision,
    hash: string,
  ): T {
    if (!probed || r.outcome.status !== 'Ready' || safeRecord(this.opts.stateDir)?.desiredHash !== hash) return r;
    this.pending = {
      revision,
      desiredHash: hash,
      previous: this.previous,
      probes: probed.probes,
      before: probed.before,
    };
    writePendingConfirmation(this.opts.stateDir, {
      since: new Date().toISOString(),
      pid: process.pid,
      revision,
      desiredHash: hash,
      previous: this.previous?.revision ?? null,
      probes: probed.configured,
      before: probed.before,
    });
    const counted = probed.before.filter((b) => b.before).length;
    const message = `${r.outcome.message}${CONFIRMING_NOTE}${counted} probe${counted === 1 ? '' : 's'} within ${Math.round(this.opts.timeoutMs! / 1000)} s`;
    return { ...r, outcome: { ...r.outcome, message, confirming: true } };
  }

  /**
   * A confirmation left unfinished by a process that died during it (kill -9), taken up first, before any fetch (a
   * lock-out cuts the fetch too): the outcome to report, or null when there is none.
   */
  resume(): Omit<ReconcileOutcome, 'durationMs' | 'appliedRevision'> | null {
    const left = this.opts.timeoutMs !== undefined ? readPendingConfirmation(this.opts.stateDir) : null;
    if (!left || confirmerAlive(left)) return null;
    const record = safeRecord(this.opts.stateDir);
    if (record?.desiredHash !== left.desiredHash || record.pending) {
      // The host moved on since (another apply): nothing of that switch is left to confirm.
      removePendingConfirmation(this.opts.stateDir);
      return null;
    }
    // Something of notrack's ran before (left.previous): a kept state that cannot be read is lost, never "nothing".
    const state = left.previous ? readPreviousState(this.opts.stateDir) : null;
    const previous = left.previous
      ? state
        ? { state: () => state, revision: left.previous }
        : lostPrevious(this.opts.stateDir, left.previous.commit ?? 'unknown', left.previous)
      : null;
    this.pending = {
      revision: left.revision,
      desiredHash: left.desiredHash,
      previous,
      probes: commitProbes(this.opts.source, left.probes),
      before: left.before,
    };
    return {
      status: 'Ready',
      reason: 'UpToDate',
      message: `the switch to ${left.revision.commit?.slice(0, 12) ?? 'the policy'} at ${left.since} was left unconfirmed (the process ended): confirming it now, before fetching`,
      revision: { ref: left.revision.ref, commit: left.revision.commit },
      changes: 0,
      confirming: true,
    };
  }

  /** Probes the pending switch and rolls it back when a probe it broke stays broken. */
  async confirm(): Promise<ConfirmOutcome | null> {
    const pending = this.pending;
    this.pending = null;
    if (!pending) return null;
    const c = await confirmSwitch(pending, {
      bpffs: this.opts.bpffs,
      stateDir: this.opts.stateDir,
      runner: this.opts.runner(),
      deadlineMs: this.opts.timeoutMs ?? 30_000,
      locked: this.opts.locked,
      appliedRevision: this.opts.appliedRevision,
    });
    removePendingConfirmation(this.opts.stateDir);
    removePreviousState(this.opts.stateDir);
    return c;
  }
}

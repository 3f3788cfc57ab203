// Confirms a switch to a new commit: the probes that passed before it must pass within the deadline after it, or the
// host is put back to what it ran before (the previous DesiredState: programs, iptables and ipsets; nothing of
// notrack's when nothing ran before) and the commit is marked bad in the state folder until the head moves.
import { performance } from 'node:perf_hooks';
import type { DesiredState } from '../compile/desired-state.js';
import type { CommandRunner } from '../dataplane/iptables/index.js';
import type { ConfirmOutcome, ProbeResult, ReconcileOutcome } from '../agent/reconciler.js';
import { readRecord, type AppliedRevision } from './applied-record.js';
import { applyHost } from './apply-host.js';
import { brokenProbes, probeAfter, type Probe } from './commit-probes.js';
import { removeHost } from './host-remove.js';
import { clearRolledBack, markRolledBack } from './rolled-back.js';

/** A switch waiting for its confirmation: what came in, what ran before, and the probes' results before it. */
export interface PendingSwitch {
  revision: AppliedRevision;
  /** The DesiredState hash switched in: a rollback only undoes it while the record still names it. */
  desiredHash: string;
  /**
   * What ran before: null when nothing of notrack's did (a rollback then removes notrack). Its state is read only by a
   * rollback (null then: it could not be read, and the rollback removes notrack as when nothing ran).
   */
  previous: { state: () => DesiredState | null; revision: AppliedRevision } | null;
  probes: Probe[];
  before: ProbeResult[];
}

interface ConfirmOptions {
  bpffs: string;
  stateDir: string;
  runner: CommandRunner;
  deadlineMs: number;
  /** Runs host changes under the host lock. */
  locked: <T>(command: string, fn: () => T | Promise<T>) => Promise<T>;
  /** The applied revision as the reconciler reports it, after the rollback. */
  appliedRevision: () => ReconcileOutcome['appliedRevision'];
}

const short = (c: string | null): string => (c ? c.slice(0, 12) : 'the new policy');

function probeText(r: ProbeResult): string {
  return `${r.probe}: ${r.error ?? 'failed'}`;
}

/** Probes after the switch; rolls back when one that passed before fails until the deadline. */
export async function confirmSwitch(p: PendingSwitch, opts: ConfirmOptions): Promise<ConfirmOutcome> {
  const t0 = performance.now();
  const ms = () => Math.round(performance.now() - t0);
  const probes = await probeAfter(p.probes, p.before, opts.deadlineMs);
  const broken = brokenProbes(probes);
  const commit = p.revision.commit;
  if (!broken.length) {
    clearRolledBack(opts.stateDir);
    const checked = probes.filter((r) => r.before).length;
    const down = probes.filter((r) => !r.before).map((r) => r.probe);
    return {
      status: 'Confirmed',
      commit,
      message:
        `${short(commit)} confirmed: ${checked} probe${checked === 1 ? '' : 's'} passed after the switch` +
        (down.length ? ` (not counted, already failing before it: ${down.join(', ')})` : ''),
      probes,
      durationMs: ms(),
    };
  }
  const why = `${broken.map(probeText).join('; ')}, passed before the switch and not within ${Math.round(opts.deadlineMs / 1000)} s after it`;
  const revision = { ref: p.revision.ref, commit };
  const t1 = performance.now();
  try {
    const back = await opts.locked('rollback', () => {
      const record = readRecord(opts.stateDir);
      // Another notrack changed the host since (a person's apply): undo nothing of theirs.
      if (record && record.desiredHash !== p.desiredHash) return null;
      const previous = p.previous?.state() ?? null;
      if (p.previous && previous) {
        const r = applyHost({
          state: previous,
          revision: p.previous.revision,
          bpffs: opts.bpffs,
          stateDir: opts.stateDir,
          repair: false,
          runner: opts.runner,
        });
        return `the host runs ${short(p.previous.revision.commit)} again (${r.changes.length} change${r.changes.length === 1 ? '' : 's'})`;
      }
      const removed = removeHost({ bpffs: opts.bpffs, stateDir: opts.stateDir, runner: opts.runner });
      return `nothing of notrack's ran before it: removed from ${removed.interfaces.length} interface(s)`;
    });
    if (back === null)
      return {
        status: 'RollbackFailed',
        commit,
        message: `${short(commit)} failed its probes (${why}), but the host was changed by another notrack since: nothing was rolled back`,
        probes,
        durationMs: ms(),
      };
    markRolledBack(opts.stateDir, { commit: commit ?? '', ref: p.revision.ref, at: new Date().toISOString(), why });
    const message = `rolled back ${short(commit)}: ${why}; ${back} in ${Math.round(performance.now() - t1)} ms; not retried until the head moves`;
    return {
      status: 'RolledBack',
      commit,
      message,
      probes,
      durationMs: ms(),
      outcome: {
        status: 'Stalled',
        reason: 'RolledBack',
        message,
        revision,
        appliedRevision: opts.appliedRevision(),
        changes: 0,
        durationMs: ms(),
      },
    };
  } catch (e) {
    // Still marked: applying it again on the next tick would only repeat the same cut.
    markRolledBack(opts.stateDir, { commit: commit ?? '', ref: p.revision.ref, at: new Date().toISOString(), why });
    const message = `rolling back ${short(commit)} failed (${(e as Error).message}) after ${why}`;
    return {
      status: 'RollbackFailed',
      commit,
      message,
      probes,
      durationMs: ms(),
      outcome: {
        status: 'Failed',
        reason: 'ApplyFailed',
        message,
        revision,
        appliedRevision: opts.appliedRevision(),
        changes: 0,
        durationMs: ms(),
      },
    };
  }
}

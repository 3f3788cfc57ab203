// Puts the last applied state back on the host from the state folder alone, with no network: what a boot needs
// before the network comes up (bpffs pins, XDP, TC, iptables and ipsets are all gone after a reboot).
import { NotrackError } from '../errors.js';
import type { CommandRunner } from '../dataplane/iptables/index.js';
import { readAppliedState, readRecord } from './applied-record.js';
import { applyHost, type ApplyHostResult } from './apply-host.js';

export class NothingToRestoreError extends NotrackError {
  constructor(stateDir: string) {
    super(
      'nothing-to-restore',
      `there is no applied state in ${stateDir} to restore (nothing was ever applied here, or it was removed): ` +
        'run notrack apply once the network is up',
    );
  }
}

interface RestoreOptions {
  bpffs: string;
  stateDir: string;
  runner?: CommandRunner;
  /** Rebuild what drifted too (the command does); the agent's start only fills in what is missing. */
  repair: boolean;
  onStep?: (line: string) => void;
}

/** Re-applies the applied DesiredState of the state folder; throws NothingToRestoreError when there is none. */
export function restoreHost(opts: RestoreOptions): ApplyHostResult & { revision: { commit: string | null } } {
  const record = readRecord(opts.stateDir);
  const applied = readAppliedState(opts.stateDir);
  if (!record || !applied || !record.desiredHash) throw new NothingToRestoreError(opts.stateDir);
  const result = applyHost({
    state: applied,
    revision: record.revision,
    bpffs: opts.bpffs,
    stateDir: opts.stateDir,
    repair: opts.repair,
    ...(opts.runner ? { runner: opts.runner } : {}),
    ...(opts.onStep ? { onStep: opts.onStep } : {}),
  });
  return { ...result, revision: record.revision };
}

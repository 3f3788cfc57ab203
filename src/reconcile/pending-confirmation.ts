// A switch whose confirmation has not ended, kept in the state folder: an agent killed during the probes finds it on
// its next start and confirms (or rolls back) then, so a kill -9 never lets a lock-out commit stay unconfirmed.
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ProbeResult } from '../agent/reconciler.js';
import type { CommitProbes } from '../model/resources.js';
import { makeStateDir, type AppliedRevision } from './applied-record.js';

export interface PendingConfirmation {
  since: string;
  /** The process confirming it: while it lives, the confirmation is its own. */
  pid: number;
  revision: AppliedRevision;
  desiredHash: string;
  /** What ran before (its state is applied-state.previous.json); null: nothing of notrack's. */
  previous: AppliedRevision | null;
  probes: CommitProbes;
  before: ProbeResult[];
}

const file = (stateDir: string): string => path.join(stateDir, 'confirming.json');

export function writePendingConfirmation(stateDir: string, p: PendingConfirmation): void {
  makeStateDir(stateDir);
  const tmp = `${file(stateDir)}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(p) + '\n', { mode: 0o600 });
  renameSync(tmp, file(stateDir));
}

/** The confirmation left unfinished, or null (none, or a file that cannot be read: it confirms nothing). */
export function readPendingConfirmation(stateDir: string): PendingConfirmation | null {
  try {
    const p = JSON.parse(readFileSync(file(stateDir), 'utf8')) as PendingConfirmation;
    if (typeof p.desiredHash !== 'string' || !p.revision || !p.probes || !Array.isArray(p.before)) return null;
    return p;
  } catch {
    return null;
  }
}

/** Whether the process that wrote it still runs (then it still confirms; nobody else takes it up). */
export function confirmerAlive(p: PendingConfirmation): boolean {
  if (p.pid === process.pid) return false;
  try {
    process.kill(p.pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function removePendingConfirmation(stateDir: string): void {
  rmSync(file(stateDir), { force: true });
}

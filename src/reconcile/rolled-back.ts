// The commit last rolled back on this host, kept in the state folder so that neither the next tick nor a restart
// of the agent applies it again: it stays refused until the head moves to another commit.
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { makeStateDir } from './applied-record.js';

export interface RolledBackCommit {
  commit: string;
  ref: string | null;
  at: string;
  /** Why, in plain words (the probes that failed). */
  why: string;
}

const file = (stateDir: string): string => path.join(stateDir, 'rolled-back.json');

/** The commit marked bad, or null. A file that cannot be parsed marks nothing (it can only name a commit). */
export function readRolledBack(stateDir: string): RolledBackCommit | null {
  try {
    const r = JSON.parse(readFileSync(file(stateDir), 'utf8')) as Partial<RolledBackCommit>;
    if (typeof r.commit !== 'string' || !r.commit) return null;
    return { commit: r.commit, ref: r.ref ?? null, at: String(r.at ?? 'unknown'), why: String(r.why ?? '') };
  } catch {
    return null;
  }
}

export function markRolledBack(stateDir: string, mark: RolledBackCommit): void {
  makeStateDir(stateDir);
  const tmp = `${file(stateDir)}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(mark) + '\n', { mode: 0o600 });
  renameSync(tmp, file(stateDir));
}

export function clearRolledBack(stateDir: string): void {
  rmSync(file(stateDir), { force: true });
}

export function rolledBackText(m: RolledBackCommit): string {
  return (
    `${m.commit.slice(0, 12)} was rolled back at ${m.at} (${m.why}); it is not applied again until the head moves ` +
    '(push a fixing commit; notrack apply tries it again by hand)'
  );
}

// Suspending notrack on a host: a file in the state folder that keeps the dataplane as it is and stops every change
// (reconciles, drift repair, link-watch attaches) until resumed. For people working on the host by hand.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { makeStateDir } from './applied-record.js';

export interface Suspension {
  since: string;
  reason: string;
}

const file = (stateDir: string): string => path.join(stateDir, 'suspended');

/** The suspension in force, or null. A file that cannot be parsed still suspends (it was meant to). */
export function readSuspension(stateDir: string): Suspension | null {
  let text: string;
  try {
    text = readFileSync(file(stateDir), 'utf8');
  } catch {
    return null;
  }
  try {
    const s = JSON.parse(text) as Partial<Suspension>;
    return { since: String(s.since ?? 'unknown'), reason: String(s.reason ?? '') };
  } catch {
    return { since: 'unknown', reason: 'unreadable suspension file' };
  }
}

export function suspend(stateDir: string, reason: string): Suspension {
  makeStateDir(stateDir);
  const s: Suspension = { since: new Date().toISOString(), reason };
  writeFileSync(file(stateDir), JSON.stringify(s) + '\n', { mode: 0o600 });
  return s;
}

/** Returns the suspension that was lifted, or null when there was none. */
export function resume(stateDir: string): Suspension | null {
  const was = readSuspension(stateDir);
  rmSync(file(stateDir), { force: true });
  return was;
}

export function suspensionText(s: Suspension): string {
  return `notrack is suspended on this host since ${s.since}${s.reason ? ` (${s.reason})` : ''}: the dataplane stays as it is and nothing is changed; notrack resume ends it`;
}

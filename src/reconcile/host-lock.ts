// One writer per host: a lock file in the state folder, held by one notrack process while it changes the dataplane.
// A second apply (an operator's while the agent runs, two at once) waits for it, or fails with a message naming the
// holder. A lock whose process is gone (kill -9, a crash) is taken over; the pid's start time guards against reuse.
import { closeSync, openSync, readFileSync, readdirSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';
import { NotrackError } from '../errors.js';
import { makeStateDir, StateWriteError } from './applied-record.js';

export class HostLockedError extends NotrackError {
  constructor(message: string) {
    super('host-locked', message);
  }
}

interface Holder {
  pid: number;
  start: string;
  command: string;
  since: string;
}

/** The kernel's start time of a process (field 22 of /proc/<pid>/stat), or null when it is gone. */
function processStart(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

function readHolder(file: string): Holder | null {
  try {
    const h = JSON.parse(readFileSync(file, 'utf8')) as Holder;
    return typeof h?.pid === 'number' ? h : null;
  } catch {
    return null;
  }
}

/** True when the lock's process is alive (and is the same process, not a reuse of its pid). */
function alive(h: Holder | null): boolean {
  return h !== null && processStart(h.pid) === h.start;
}

/** Temporary files of writers that are gone (a crash or a full disk in an older version left them). */
function removeStaleTemporaries(stateDir: string): void {
  let names: string[];
  try {
    names = readdirSync(stateDir);
  } catch {
    return;
  }
  for (const name of names) {
    const m = /\.(\d+)\.tmp$/.exec(name);
    if (m && processStart(Number(m[1])) === null) rmSync(path.join(stateDir, name), { force: true });
  }
}

function tryTake(file: string, command: string): Holder | null {
  const me: Holder = {
    pid: process.pid,
    start: processStart(process.pid) ?? '',
    command,
    since: new Date().toISOString(),
  };
  let fd: number;
  try {
    fd = openSync(file, 'wx', 0o600);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST')
      throw new StateWriteError(
        path.dirname(file),
        e,
        'the host lock cannot be taken, so nothing was changed on the host',
      );
    const holder = readHolder(file);
    if (alive(holder)) return holder;
    // Its process is gone: the lock is stale. Remove it and try once more (another waiter may win the race).
    rmSync(file, { force: true });
    try {
      fd = openSync(file, 'wx', 0o600);
    } catch (again) {
      if ((again as NodeJS.ErrnoException).code !== 'EEXIST') throw again;
      return readHolder(file) ?? me;
    }
  }
  try {
    writeSync(fd, JSON.stringify(me));
  } catch (e) {
    rmSync(file, { force: true });
    throw new StateWriteError(
      path.dirname(file),
      e,
      'the host lock cannot be taken, so nothing was changed on the host',
    );
  } finally {
    closeSync(fd);
  }
  return null;
}

/**
 * Runs `fn` holding the host lock of `stateDir`. Waits up to `waitMs` for another holder (polling); then throws
 * host-locked naming it. The lock is released when `fn` settles, whatever it does.
 */
export async function withHostLock<T>(
  stateDir: string,
  opts: { waitMs: number; command: string },
  fn: () => T | Promise<T>,
): Promise<T> {
  makeStateDir(stateDir);
  const file = path.join(stateDir, 'lock');
  const deadline = Date.now() + opts.waitMs;
  for (;;) {
    const holder = tryTake(file, opts.command);
    if (holder === null) break;
    if (Date.now() >= deadline) {
      throw new HostLockedError(
        `another notrack (pid ${holder.pid}, ${holder.command}, since ${holder.since}) is changing this host ` +
          `(lock ${file}); waited ${Math.round(opts.waitMs / 1000)} s. Try again when it is done` +
          (opts.waitMs === 0 ? '' : ', or raise --lock-timeout'),
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  try {
    removeStaleTemporaries(stateDir);
    return await fn();
  } finally {
    rmSync(file, { force: true });
  }
}

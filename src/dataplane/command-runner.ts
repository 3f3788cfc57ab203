// How the dataplane runs programs (tc, iptables, ipset): the one place that spawns them, from argv arrays with checked
// exit status, and the injectable runner iptables and ipset code takes (tests run it inside a namespace).
import { execFile, spawn, spawnSync } from 'node:child_process';
import { NotrackError } from '../errors.js';

/** What a program said: its exit status (-1 when it could not run or was killed) and its output. */
export interface CommandResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs one program from an argv array, with optional stdin, and returns its exit status and output. */
export type CommandRunner = (argv: string[], input?: string) => CommandResult;

/** Output of `iptables-save` and `ipset save` on a busy host runs to many megabytes. */
const MAX_OUTPUT = 512 * 1024 * 1024;

/**
 * Spawns `argv` directly (no shell) in this thread's network namespace and waits for it. `error` is set when the
 * program could not be started or did not finish in time; `stderr` then says so too.
 */
export function runProgram(
  argv: string[],
  options: { input?: string | undefined; timeoutMs: number },
): CommandResult & { error?: Error } {
  const [cmd, ...args] = argv;
  if (!cmd) throw new Error('runProgram needs a program to run');
  const r = spawnSync(cmd, args, {
    input: options.input,
    encoding: 'utf8',
    maxBuffer: MAX_OUTPUT,
    timeout: options.timeoutMs,
  });
  const result: CommandResult & { error?: Error } = {
    status: r.status ?? -1,
    stdout: r.stdout ?? '',
    stderr: r.stderr || (r.error ? String(r.error) : ''),
  };
  if (r.error) result.error = r.error;
  return result;
}

/** The default runner of iptables and ipset: runProgram with a timeout long enough for a restore of a big ruleset. */
export const spawnRunner: CommandRunner = (argv, input) => {
  const { status, stdout, stderr } = runProgram(argv, { input, timeoutMs: 120_000 });
  return { status, stdout, stderr };
};

/** A CommandRunner that answers through a promise, so that several programs (and the caller) run side by side. */
export type AsyncCommandRunner = (argv: string[]) => Promise<CommandResult>;

/**
 * spawnRunner without the wait: the program runs while the caller goes on. Used where reads of the host overlap
 * work done in this process (the host check reads iptables and ipsets while it digests the maps).
 */
const spawnRunnerAsync: AsyncCommandRunner = (argv) =>
  new Promise((resolve) => {
    const [cmd, ...args] = argv;
    if (!cmd) throw new Error('spawnRunnerAsync needs a program to run');
    execFile(cmd, args, { encoding: 'utf8', maxBuffer: MAX_OUTPUT, timeout: 120_000 }, (error, stdout, stderr) => {
      const status = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
      resolve({ status, stdout, stderr: stderr || (error && status === -1 ? String(error) : '') });
    });
  });

/** The asynchronous form of `runner`: spawnRunner's runs side by side; any other (a test's) runs as it is. */
export function asyncRunner(runner: CommandRunner): AsyncCommandRunner {
  return runner === spawnRunner ? spawnRunnerAsync : async (argv) => runner(argv);
}

/** A program notrack ran to change or read the dataplane failed. */
export class DataplaneCommandError extends NotrackError {
  readonly argv: string[];
  readonly status: number;
  readonly stderr: string;
  constructor(code: string, argv: string[], status: number, stderr: string) {
    super(code, `${argv.join(' ')} failed (exit ${status}): ${stderr.trim() || 'no error output'}`);
    this.argv = argv;
    this.status = status;
    this.stderr = stderr;
  }
}

/** Runs argv and returns stdout; throws DataplaneCommandError with `code` when it exits non-zero. */
export function runChecked(runner: CommandRunner, code: string, argv: string[], input?: string): string {
  return checked(runner(argv, input), code, argv);
}

/** runChecked through an AsyncCommandRunner. */
export async function runCheckedAsync(runner: AsyncCommandRunner, code: string, argv: string[]): Promise<string> {
  return checked(await runner(argv), code, argv);
}

/** The output of a program that exited 0; else DataplaneCommandError with `code`. */
export function checked(r: CommandResult, code: string, argv: string[]): string {
  if (r.status !== 0) throw new DataplaneCommandError(code, argv, r.status, r.stderr);
  return r.stdout;
}

/** A long-running program whose output is read line by line (a monitor), until stop() or its own end. */
export interface WatchedProgram {
  stop(): void;
}

/**
 * Starts `argv` (no shell) in this thread's network namespace and calls `onLine` for each line it prints;
 * `onExit` hears when it ends by itself (not after stop()), with its status and last error output.
 */
export function watchProgram(
  argv: string[],
  onLine: (line: string) => void,
  onExit: (status: number | null, stderr: string) => void,
): WatchedProgram {
  const [cmd, ...args] = argv;
  if (!cmd) throw new Error('watchProgram needs a program to run');
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stopped = false;
  let pending = '';
  let stderr = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    pending += chunk;
    for (let nl = pending.indexOf('\n'); nl >= 0; nl = pending.indexOf('\n')) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      if (line !== '') onLine(line);
    }
  });
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-2000);
  });
  child.on('error', (e) => {
    stderr += String(e.message);
  });
  child.on('close', (code) => {
    if (!stopped) onExit(code, stderr);
  });
  // The watcher must never keep the process alive by itself.
  child.unref();
  return {
    stop() {
      stopped = true;
      child.kill('SIGTERM');
    },
  };
}

// Runs one program (argv, no shell) with a time limit and reports its status and output: asynchronously for the
// lab, synchronously where a caller must not yield (tests that switch namespaces, setup steps in order).
import { spawn, spawnSync } from 'node:child_process';
import { LabError } from './lab-error.js';

export interface CommandResult {
  /** The exit status; -1 when the program was killed by a signal or could not start. */
  status: number;
  stdout: string;
  stderr: string;
  /** True when the time limit ended it. */
  timedOut: boolean;
}

export interface CommandOptions {
  /** Written to the program's stdin, which is then closed; without it stdin is empty. */
  input?: string;
  /** Kill the program (SIGKILL) after this long; default 30 s. */
  timeoutMs?: number;
  /** Resolve with a failed status instead of rejecting. */
  allowFail?: boolean;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/** The argv as a person would type it, for messages (arguments with spaces quoted). */
export function showArgv(argv: readonly string[]): string {
  return argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

/**
 * Runs argv and collects its output. Async on purpose: a synchronous spawn would stall this process's event loop,
 * and with it anything the process serves or reads in the meantime.
 */
export function runCommand(argv: readonly string[], opts: CommandOptions = {}): Promise<CommandResult> {
  const [cmd, ...args] = argv;
  if (cmd === undefined) throw new LabError('lab-command-failed', 'empty command');
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      ...(opts.env !== undefined ? { env: opts.env } : {}),
      ...(opts.cwd !== undefined ? { cwd: opts.cwd } : {}),
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    let spawnError: Error | undefined;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs ?? 30_000);
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.stdin.on('error', () => {});
    child.on('error', (e) => {
      spawnError = e;
    });
    child.stdin.end(opts.input ?? '');
    child.on('close', (code) => {
      clearTimeout(timer);
      const result: CommandResult = {
        status: code ?? -1,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8') || (spawnError ? String(spawnError.message) : ''),
        timedOut,
      };
      if (result.status === 0 || opts.allowFail) {
        resolve(result);
        return;
      }
      reject(failure(argv, result, opts.timeoutMs ?? 30_000));
    });
  });
}

function failure(argv: readonly string[], result: CommandResult, timeoutMs: number): LabError {
  const why = result.timedOut ? `timed out after ${timeoutMs} ms` : `exit status ${result.status}`;
  return new LabError(
    'lab-command-failed',
    `${showArgv(argv)} failed (${why}): ${result.stderr.trim() || result.stdout.trim()}`,
  );
}

/** runCommand's synchronous twin: the same options, result and errors. */
export function runCommandSync(argv: readonly string[], opts: CommandOptions = {}): CommandResult {
  const [cmd, ...args] = argv;
  if (cmd === undefined) throw new LabError('lab-command-failed', 'empty command');
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const r = spawnSync(cmd, args, {
    input: opts.input ?? '',
    encoding: 'utf8',
    timeout: timeoutMs,
    killSignal: 'SIGKILL',
    maxBuffer: 256 * 1024 * 1024,
    ...(opts.env !== undefined ? { env: opts.env } : {}),
    ...(opts.cwd !== undefined ? { cwd: opts.cwd } : {}),
  });
  const timedOut = (r.error as NodeJS.ErrnoException | undefined)?.code === 'ETIMEDOUT';
  const result: CommandResult = {
    status: r.status ?? -1,
    stdout: r.stdout ?? '',
    stderr: (r.stderr ?? '') || (r.error ? String(r.error.message) : ''),
    timedOut,
  };
  if (result.status !== 0 && !opts.allowFail) throw failure(argv, result, timeoutMs);
  return result;
}

// How dataplane code runs iptables/ipset: an injectable runner (tests run it inside a namespace) and status checks.
import { spawnSync } from 'node:child_process';
import { NotrackError } from '../../errors.js';

/** Runs one program from an argv array, with optional stdin, and returns its exit status and output. */
export type CommandRunner = (argv: string[], input?: string) => { status: number; stdout: string; stderr: string };

/** Output of `iptables-save` and `ipset save` on a busy host runs to many megabytes. */
const MAX_OUTPUT = 512 * 1024 * 1024;

/** The default runner: spawns the program directly in this process's network namespace (no shell). */
export const spawnRunner: CommandRunner = (argv, input) => {
  const [cmd, ...args] = argv;
  if (!cmd) throw new Error('spawnRunner needs a program to run');
  const r = spawnSync(cmd, args, { input, encoding: 'utf8', maxBuffer: MAX_OUTPUT, timeout: 120_000 });
  return { status: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr || (r.error ? String(r.error) : '') };
};

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
  const r = runner(argv, input);
  if (r.status !== 0) throw new DataplaneCommandError(code, argv, r.status, r.stderr);
  return r.stdout;
}

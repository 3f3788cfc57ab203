// Runs the notrack CLI from source (tsx) as a child process, as a user would, and returns what it printed.
import { spawnSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import path from 'node:path';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const ENTRY = path.join(ROOT, 'test', 'support', 'cli-entry.ts');
/** tsx by absolute URL, so TypeScript entry points run with any working directory. */
export const TSX_LOADER = pathToFileURL(path.join(ROOT, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href;

/** The argv that runs `notrack <args>` from source (prefix it with `ip netns exec NS` to run it in a namespace). */
export function cliCommand(args: readonly string[]): string[] {
  return [process.execPath, '--import', TSX_LOADER, ENTRY, ...args];
}

export interface CliResult { status: number; stdout: string; stderr: string }

export function runCli(args: string[], opts: { cwd?: string; env?: Record<string, string>; input?: string } = {}): CliResult {
  const [cmd, ...argv] = cliCommand(args);
  const r = spawnSync(cmd!, argv, {
    cwd: opts.cwd ?? ROOT, encoding: 'utf8', input: opts.input, timeout: 120_000, maxBuffer: 64 * 1024 * 1024,
    env: { ...process.env, ...opts.env },
  });
  return { status: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

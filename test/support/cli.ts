// Runs the notrack CLI from source (tsx) as a child process, as a user would, and returns what it printed.
import { spawnSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import path from 'node:path';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
/** tsx by absolute URL, so TypeScript entry points run with any working directory. */
const tsxLoader = (root: string): string =>
  pathToFileURL(path.join(root, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href;
export const TSX_LOADER = tsxLoader(ROOT);

/**
 * The argv that runs `notrack <args>` from source (prefix it with `ip netns exec NS` to run it in a namespace);
 * `root` is the checkout to run it from (a readable copy for tests that run it as another user).
 */
export function cliCommand(args: readonly string[], root = ROOT): string[] {
  return [process.execPath, '--import', tsxLoader(root), path.join(root, 'test', 'support', 'cli-entry.ts'), ...args];
}

export interface CliResult {
  status: number;
  stdout: string;
  stderr: string;
}

export function runCli(
  args: string[],
  opts: { cwd?: string; env?: Record<string, string>; input?: string } = {},
): CliResult {
  const [cmd, ...argv] = cliCommand(args);
  const r = spawnSync(cmd!, argv, {
    cwd: opts.cwd ?? ROOT,
    encoding: 'utf8',
    input: opts.input,
    timeout: 120_000,
    maxBuffer: 64 * 1024 * 1024,
    env: { ...process.env, ...opts.env },
  });
  return { status: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

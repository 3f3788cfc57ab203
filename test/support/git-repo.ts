// Git in a test's own repository folder: argv arrays, a fixed author, stdout trimmed, and a thrown error on failure.
import { spawnSync } from 'node:child_process';

/** A git runner for the repository in `dir` (read when called, so a test may set it up later). */
export function gitIn(dir: () => string): (args: string[]) => string {
  return (args) => {
    const r = spawnSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.org', ...args], {
      cwd: dir(),
      encoding: 'utf8',
    });
    if (r.status !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
    return r.stdout.trim();
  };
}

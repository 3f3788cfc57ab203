// A copy of the checkout that every user can read, for tests that run notrack as an unprivileged user: the
// checkout itself may sit under a private folder (mode 0700, like root's home on Debian) that nobody can enter.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ROOT } from './cli.js';

/** What the CLI needs at run time from source: sources, schemas, BPF objects, modules and the example policies. */
const ENTRIES = ['package.json', 'src', 'schema', 'build', 'node_modules', 'policies-example', 'test/support'];

export interface ReadableCopy {
  /** The copy's root: run the CLI or import src/ from here. */
  readonly root: string;
  remove(): void;
}

/** Copies the checkout's run-time files into a new folder under the system's temporary folder, readable by all. */
export function readableCopy(): ReadableCopy {
  const root = mkdtempSync(path.join(tmpdir(), 'notrack-readable-'));
  try {
    chmodSync(root, 0o755);
    for (const entry of ENTRIES) {
      const target = path.join(root, entry);
      spawnSync('mkdir', ['-p', path.dirname(target)]);
      const r = spawnSync('cp', ['-a', path.join(ROOT, entry), target], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`copying ${entry} failed: ${r.stderr}`);
    }
    const r = spawnSync('chmod', ['-R', 'a+rX', root], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`chmod failed: ${r.stderr}`);
  } catch (e) {
    rmSync(root, { recursive: true, force: true });
    throw e;
  }
  return { root, remove: () => rmSync(root, { recursive: true, force: true }) };
}

// Reads policy files from a plain folder on disk, for validating a working tree before anything is committed.
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import type { SourceSettings } from './settings.js';
import { byPath, type SourceFile, type SourceSnapshot } from './snapshot.js';
import { SourceError } from './source-error.js';

function inside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === '' || (!rel.startsWith('..') && !rel.startsWith(sep));
}

const toPosix = (p: string) => p.split(sep).join('/');

export async function readDirectory(settings: SourceSettings): Promise<SourceSnapshot> {
  const base = resolve(settings.root ?? process.cwd());
  const dir = resolve(base, settings.path);
  // Paths are reported relative to the root, like repository paths, unless the folder lies outside it.
  const root = inside(base, dir) ? base : dir;
  const subPath = toPosix(relative(root, dir)) || '.';
  const files: SourceFile[] = [];
  const warnings: string[] = [];

  async function readOne(full: string, size: number): Promise<void> {
    const path = toPosix(relative(root, full));
    files.push(
      size > settings.maxFileBytes
        ? { path, content: new Uint8Array(0), tooLarge: true, size }
        : { path, content: new Uint8Array(await readFile(full)), size },
    );
  }

  async function walk(folder: string): Promise<void> {
    for (const entry of await readdir(folder, { withFileTypes: true })) {
      if (entry.name === '.git') continue;
      const full = join(folder, entry.name);
      const rel = toPosix(relative(root, full));
      if (entry.isDirectory()) {
        await walk(full);
      } else if (entry.isSymbolicLink()) {
        // Skipped as in a repository, so that what validates here is what the agent reads from Git.
        if (settings.include(rel)) warnings.push(`${rel} is a symbolic link and was skipped`);
      } else if (entry.isFile() && settings.include(rel)) {
        await readOne(full, (await stat(full)).size);
      }
    }
  }

  let top;
  try {
    top = await stat(dir);
  } catch {
    throw new SourceError('source-path-not-found', `the folder ${dir} does not exist`, { repo: root });
  }
  if (top.isDirectory()) await walk(dir);
  else await readOne(dir, top.size);
  files.sort(byPath);
  return { repo: root, kind: 'directory', ref: null, refKind: null, commit: null, subPath, files, warnings };
}

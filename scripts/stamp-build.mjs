#!/usr/bin/env node
// Writes dist/build-info.json (package version, Git commit, build time) so an installed package, which has no .git,
// can still say which commit it was built from (`notrack version`).
// The commit comes from $NOTRACK_BUILD_COMMIT when set (an image build from an exported tree), else from git.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));

function git(args) {
  const r = spawnSync('git', args, { cwd: root, encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

const commit = process.env.NOTRACK_BUILD_COMMIT || git(['rev-parse', 'HEAD']);
// Uncommitted changes to tracked files make the commit an approximation: say so rather than claim it.
const dirty = process.env.NOTRACK_BUILD_COMMIT
  ? false
  : (git(['status', '--porcelain', '--untracked-files=no']) ?? '') !== '';
const info = {
  name: pkg.name,
  version: pkg.version,
  commit: commit ?? null,
  dirty,
  builtAt: new Date().toISOString(),
};
mkdirSync(path.join(root, 'dist'), { recursive: true });
writeFileSync(path.join(root, 'dist', 'build-info.json'), `${JSON.stringify(info, null, 2)}\n`);
console.log(`stamp-build: ${info.name} ${info.version} ${info.commit ?? '(no commit)'}${dirty ? ' (dirty)' : ''}`);

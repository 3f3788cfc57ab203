// A shallow CI checkout without the base branch: plan fails with the reason and the fix (fetch the base, or full
// history), instead of a bare "ref not found".
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runCli, ROOT } from '../support/cli.js';

const scratch = mkdtempSync(path.join(os.tmpdir(), 'notrack-shallow-'));
test.after(() => rmSync(scratch, { recursive: true, force: true }));

function git(cwd: string, ...args: string[]): void {
  const r = spawnSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.invalid', ...args], {
    cwd,
    encoding: 'utf8',
  });
  assert.is(r.status, 0, r.stderr);
}

test('plan in a shallow clone without origin/main says the clone is shallow and how to fetch the base', () => {
  const origin = path.join(scratch, 'origin');
  cpSync(path.join(ROOT, 'policies-example'), origin, { recursive: true });
  git(origin, 'init', '-q', '-b', 'main');
  git(origin, 'add', '-A');
  git(origin, 'commit', '-qm', 'one');
  git(origin, 'checkout', '-q', '-b', 'feature');
  git(origin, 'commit', '-q', '--allow-empty', '-m', 'two');
  const clone = path.join(scratch, 'clone');
  git(scratch, 'clone', '-q', '--depth', '1', '--branch', 'feature', '--single-branch', `file://${origin}`, clone);
  const r = runCli(['plan', '--base', 'origin/main', '--head', 'HEAD'], { cwd: clone });
  assert.is(r.status, 1);
  assert.match(r.stderr, 'error[source-ref-not-found]: ref "origin/main" not found');
  assert.match(r.stderr, 'This clone is shallow');
  assert.match(r.stderr, 'fetch-depth: 0');
  // The fix it names works: fetch the base, and the plan runs.
  git(clone, 'fetch', '-q', '--no-tags', 'origin', 'main:refs/remotes/origin/main');
  const fixed = runCli(['plan', '--base', 'origin/main', '--head', 'HEAD'], { cwd: clone });
  assert.ok(fixed.status === 0 || fixed.status === 2, fixed.stderr);
});

test.run();

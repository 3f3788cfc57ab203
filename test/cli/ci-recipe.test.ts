// The README's CI recipe, run as written against a clone of policies-example with a pull request on top: every
// command exits 0 (strict validation included) and the plan comment fits GitHub.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ROOT, runCli } from '../support/cli.js';

/** The commands of the README's CI block, each as argv after `notrack`, with what its output is written to. */
function recipe(): { args: string[]; output: string | null }[] {
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const block = readme.split('In CI for the policy repository:')[1]!.match(/```sh\n([\s\S]*?)```/)![1]!;
  return block
    .split('\n')
    .map((l) => l.replace(/#.*$/, '').trim())
    .filter((l) => l.startsWith('notrack '))
    .map((l) => {
      const [command, output] = l.split('>').map((x) => x.trim());
      return { args: command!.split(/\s+/).slice(1), output: output ?? null };
    });
}

test("the README's CI recipe runs green on a pull request against policies-example", () => {
  const repo = mkdtempSync(path.join(tmpdir(), 'notrack-ci-'));
  const git = (...args: string[]) => {
    const r = spawnSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.org', ...args], {
      cwd: repo,
      encoding: 'utf8',
    });
    assert.is(r.status, 0, r.stderr);
  };
  try {
    cpSync(path.join(ROOT, 'policies-example'), repo, { recursive: true });
    git('init', '--quiet', '--initial-branch=main');
    git('add', '--all');
    git('commit', '--quiet', '-m', 'base');
    git('update-ref', 'refs/remotes/origin/main', 'HEAD');
    // The pull request: memcached moves ahead of postgres.
    const file = path.join(repo, 'policies/data/memcached.yaml');
    writeFileSync(file, readFileSync(file, 'utf8').replace('order: 200', 'order: 150'));
    git('commit', '--quiet', '-am', 'memcached first');

    const steps = recipe();
    assert.equal(
      steps.map((s) => s.args[0]),
      ['validate', 'test', 'plan', 'comment'],
    );
    assert.ok(steps[0]!.args.includes('--strict'), 'CI validates strictly');
    // The last step posts plan.md to the forge: test/cli/comment.test.ts runs it against a recording API.
    for (const step of steps.filter((s) => s.args[0] !== 'comment')) {
      const r = runCli(step.args, { cwd: repo, env: { GITHUB_STEP_SUMMARY: '' } });
      assert.is(r.status, 0, `notrack ${step.args.join(' ')}: ${r.stdout}${r.stderr}`);
      if (step.output === 'plan.md') {
        assert.match(r.stdout, /^### 📝 notrack plan/);
        assert.match(r.stdout, /No traffic changes: every packet is decided as before, by the same rule\./);
        assert.match(
          r.stdout,
          /! GlobalNetworkPolicy cache-memcached \(policies\/data\/memcached\.yaml\)\n!\s+order: 200 -> 150/,
        );
        assert.ok(r.stdout.length <= 65_536);
      }
    }
  } finally {
    rmSync(repo, { recursive: true, force: true });
  }
});

test.run();

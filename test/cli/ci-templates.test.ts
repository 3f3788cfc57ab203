// The GitHub composite action and the GitLab CI templates call notrack only with commands and flags it has, and
// carry the steps the workflow needs: fetch the base, validate (warnings as errors), test, plan, comment; their
// shell steps run as the CI would run them on a pull request that changes policy.
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parse } from 'yaml';
import { cliInProcess } from '../support/cli-in-process.js';
import { ROOT, cliCommand } from '../support/cli.js';
import { flagsFromHelp } from '../../src/cli/completion.js';

const TEMPLATES = [
  'action.yml',
  'ci/gitlab/notrack.gitlab-ci.yml',
  'ci/gitlab/fleet-drift.gitlab-ci.yml',
  'ci/github/fleet-drift.yml',
];

/** Every shell line of a template (GitHub `run:`, GitLab `script`/`before_script`). */
function shellLines(doc: unknown): string[] {
  const out: string[] = [];
  const walk = (v: unknown, key: string | null) => {
    if (typeof v === 'string' && (key === 'run' || key === 'script' || key === 'before_script' || key === 'item'))
      out.push(...v.split('\n'));
    else if (Array.isArray(v)) for (const x of v) walk(x, key === 'script' || key === 'before_script' ? 'item' : null);
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, k);
  };
  walk(doc, null);
  return out;
}

/** `notrack <command> --flag …` invocations in shell text: the command and its flags. */
function invocations(lines: string[]): { command: string; flags: string[] }[] {
  const text = lines.join('\n').replace(/\\\n\s*/g, ' ');
  return [...text.matchAll(/\bnotrack ([a-z]+)([^\n;|&>]*)/g)].map((m) => ({
    command: m[1]!,
    flags: [...m[2]!.matchAll(/(?:^|\s)--([a-z][a-z0-9-]*)/g)].map((f) => f[1]!),
  }));
}

test('every notrack command and flag in the CI templates exists', async () => {
  let checked = 0;
  for (const file of TEMPLATES) {
    const doc = parse(readFileSync(path.join(ROOT, file), 'utf8')) as unknown;
    for (const call of invocations(shellLines(doc))) {
      const help = await cliInProcess(call.command, '--help');
      assert.is(help.code, 0, `${file}: notrack ${call.command} is a command`);
      const known = new Set(flagsFromHelp(help.out).map((f) => f.name));
      for (const f of call.flags) assert.ok(known.has(f), `${file}: notrack ${call.command} has --${f}`);
      checked += 1;
    }
  }
  assert.ok(checked >= 10, `${checked} invocations checked`);
});

test('the action is composite and runs validate (warnings fail), test, plan, then the comment, after fetching the base', () => {
  const action = parse(readFileSync(path.join(ROOT, 'action.yml'), 'utf8')) as {
    runs: { using: string; steps: { name?: string; run?: string; if?: string }[] };
  };
  assert.is(action.runs.using, 'composite');
  const runs = action.runs.steps.map((s) => s.run ?? '');
  const at = (re: RegExp) => runs.findIndex((r) => re.test(r));
  const order = [
    /git fetch --no-tags --depth=1 origin/,
    /notrack validate .*--strict/,
    /notrack test /,
    /notrack plan /,
    /notrack comment /,
  ].map(at);
  assert.ok(
    order.every((i) => i >= 0),
    `steps found: ${order}`,
  );
  assert.equal(
    [...order].sort((a, b) => a - b),
    order,
    'in this order',
  );
  const comment = action.runs.steps.find((s) => /notrack comment/.test(s.run ?? ''))!;
  assert.match(comment.if ?? '', 'pull_request.number');
});

/** A policy repository with a change on a pull request branch, its base at origin/main as CI fetches it, and a
 *  `notrack` command on PATH that runs this checkout. */
function pullRequestCheckout(): { dir: string; env: NodeJS.ProcessEnv } {
  const dir = mkdtempSync(path.join(tmpdir(), 'notrack-ci-'));
  const repo = path.join(dir, 'repo');
  cpSync(path.join(ROOT, 'policies-example'), repo, { recursive: true });
  const git = (...args: string[]) => {
    const r = spawnSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.org', ...args], { cwd: repo });
    assert.is(r.status, 0, `git ${args.join(' ')}: ${r.stderr}`);
  };
  git('init', '--quiet', '--initial-branch=main');
  git('add', '--all');
  git('commit', '--quiet', '-m', 'base');
  git('update-ref', 'refs/remotes/origin/main', 'HEAD');
  const set = path.join(repo, 'sets', 'ddos-deny-list.yaml');
  writeFileSync(
    set,
    readFileSync(set, 'utf8').replace('    - 203.0.113.66/32\n', '    - 203.0.113.66/32\n    - 192.0.2.77/32\n'),
  );
  git('commit', '--quiet', '-am', 'deny one more address');
  mkdirSync(path.join(dir, 'bin'));
  const shim = path.join(dir, 'bin', 'notrack');
  const argv = cliCommand([]).map((a) => `'${a}'`);
  writeFileSync(shim, `#!/bin/sh\nexec ${argv.join(' ')} "$@"\n`);
  chmodSync(shim, 0o755);
  return { dir, env: { ...process.env, PATH: `${path.dirname(shim)}:${process.env['PATH']}` } };
}

/** Runs one CI shell step as GitHub Actions (bash -eo pipefail) and GitLab (set -eo pipefail) do. */
function runStep(script: string, cwd: string, env: NodeJS.ProcessEnv): { status: number; out: string } {
  const r = spawnSync('bash', ['--noprofile', '--norc', '-eo', 'pipefail', '-c', script], {
    cwd,
    env,
    encoding: 'utf8',
    timeout: 180_000,
  });
  return { status: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

test('the action validates, tests and plans a pull request that changes policy, writing the plan and the job summary', () => {
  const { dir, env } = pullRequestCheckout();
  try {
    const action = parse(readFileSync(path.join(ROOT, 'action.yml'), 'utf8')) as {
      runs: { steps: { name?: string; run?: string }[] };
    };
    const summary = path.join(dir, 'summary.md');
    const output = path.join(dir, 'output');
    const stepEnv = { ...env, RUNNER_TEMP: dir, GITHUB_STEP_SUMMARY: summary, GITHUB_OUTPUT: output };
    for (const name of ['validate', 'policy tests', 'plan']) {
      const step = action.runs.steps.find((s) => s.name === name);
      assert.ok(step?.run, `the action has a ${name} step`);
      const script = step!
        .run!.replaceAll('${{ inputs.path }}', '.')
        .replaceAll('${{ steps.base.outputs.ref }}', 'origin/main');
      const r = runStep(script, path.join(dir, 'repo'), stepEnv);
      assert.is(r.status, 0, `${name}: ${r.out}`);
    }
    assert.match(readFileSync(output, 'utf8'), `file=${path.join(dir, 'notrack-plan.md')}`);
    const plan = readFileSync(path.join(dir, 'notrack-plan.md'), 'utf8');
    assert.match(plan, '192.0.2.77/32');
    assert.ok(readFileSync(summary, 'utf8').includes(plan.trim().split('\n')[0]!), 'the plan is in the job summary');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the GitLab template's job script runs on a merge request that changes policy and keeps the plan without a token", () => {
  const { dir, env } = pullRequestCheckout();
  try {
    const doc = parse(readFileSync(path.join(ROOT, 'ci/gitlab/notrack.gitlab-ci.yml'), 'utf8')) as {
      'notrack-plan': { script: string[] };
    };
    const jobEnv = { ...env, NOTRACK_PATH: '.', CI_MERGE_REQUEST_TARGET_BRANCH_NAME: 'main', NOTRACK_GITLAB_TOKEN: '' };
    const r = runStep(doc['notrack-plan'].script.join('\n'), path.join(dir, 'repo'), jobEnv);
    assert.is(r.status, 0, r.out);
    assert.ok(existsSync(path.join(dir, 'repo', 'plan.md')), 'the plan.md artifact is written');
    assert.match(readFileSync(path.join(dir, 'repo', 'plan.md'), 'utf8'), '192.0.2.77/32');
    assert.match(r.out, 'NOTRACK_GITLAB_TOKEN is not set');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();

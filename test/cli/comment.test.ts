// `notrack comment` against a local server speaking GitHub's and GitLab's comment APIs: one plan comment per pull
// request, created once, edited in place, split when too long, trimmed back, left alone when unchanged; with the
// exact requests recorded.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { cliCommand, ROOT, type CliResult } from '../support/cli.js';
import { startForgeApi, type ForgeApi } from '../support/forge-api.js';

const TOKEN = 'ghs_test_token_0123456789';
const scratch = mkdtempSync(path.join(os.tmpdir(), 'notrack-comment-'));
test.after(() => rmSync(scratch, { recursive: true, force: true }));

/** The CLI as a child process, without blocking this process: the API server answers from this event loop. */
function runCli(args: string[], opts: { env: Record<string, string> }): Promise<CliResult> {
  const [cmd, ...argv] = cliCommand(args);
  const child = spawn(cmd!, argv, {
    cwd: ROOT,
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += String(d)));
  child.stderr.on('data', (d) => (stderr += String(d)));
  return new Promise((resolve) => child.on('close', (code) => resolve({ status: code ?? -1, stdout, stderr })));
}

/** 120 comments by people first, so the plan comment is on page 2 and the list must follow pagination. */
const PEOPLE = Array.from({ length: 120 }, (_, i) => ({ id: i + 1, body: `looks good ${i + 1}` }));

function report(name: string, text: string): string {
  const file = path.join(scratch, name);
  writeFileSync(file, text);
  return file;
}

function event(pr: number): string {
  return report(`event-${pr}.json`, JSON.stringify({ pull_request: { number: pr } }));
}

function postGithub(api: ForgeApi, file: string) {
  return runCli(['comment', '--file', file], {
    env: {
      GITHUB_ACTIONS: 'true',
      GITLAB_CI: '',
      GITHUB_TOKEN: TOKEN,
      GITHUB_REPOSITORY: 'netops/host-firewall',
      GITHUB_API_URL: api.url,
      GITHUB_EVENT_PATH: event(7),
    },
  });
}

/** The requests since `from`, as `METHOD path?query` lines. */
const lines = (api: ForgeApi, from: number) => api.requests.slice(from).map((r) => `${r.method} ${r.url}`);
const plans = (api: ForgeApi) => api.comments.filter((c) => c.body.startsWith('<!-- notrack:plan part '));

test('GitHub: created once, then edited in place, split when too long, trimmed back, untouched when equal', async () => {
  const api = await startForgeApi({
    token: TOKEN,
    repository: 'netops/host-firewall',
    pullRequest: 7,
    comments: PEOPLE,
  });
  const list = '/repos/netops/host-firewall/issues/7/comments';
  try {
    // 1. First plan: the list is read (both pages) and one comment is created.
    let r = await postGithub(api, report('plan1.md', '### notrack plan\n\n2 hosts change\n'));
    assert.is(r.status, 0, r.stderr);
    assert.equal(lines(api, 0), [`GET ${list}?per_page=100`, `GET ${list}?per_page=100&page=2`, `POST ${list}`]);
    assert.equal(api.requests[2]!.body, { body: '<!-- notrack:plan part 1 -->\n### notrack plan\n\n2 hosts change\n' });
    assert.is(api.requests[2]!.authorization, `token ${TOKEN}`);
    assert.match(r.stdout, /^plan comment part 1: created https:\/\/github\.example\/\S+ \(id 1000\)$/m);
    assert.is(plans(api).length, 1);

    // 2. A new plan edits the same comment.
    let mark = api.requests.length;
    r = await postGithub(api, report('plan2.md', '### notrack plan\n\n3 hosts change\n'));
    assert.is(r.status, 0, r.stderr);
    assert.equal(lines(api, mark), [
      `GET ${list}?per_page=100`,
      `GET ${list}?per_page=100&page=2`,
      'PATCH /repos/netops/host-firewall/issues/comments/1000',
    ]);
    assert.equal(api.requests.at(-1)!.body, {
      body: '<!-- notrack:plan part 1 -->\n### notrack plan\n\n3 hosts change\n',
    });
    assert.is(plans(api).length, 1);

    // 3. A plan too long for one comment (GitHub: 65,536 characters) becomes parts, split at line ends.
    const long = Array.from({ length: 3000 }, (_, i) => `| host-${i} | 10.${i >> 8}.${i & 255}.0/24 added |`).join(
      '\n',
    );
    mark = api.requests.length;
    r = await postGithub(api, report('plan3.md', `${long}\n`));
    assert.is(r.status, 0, r.stderr);
    const parts = plans(api);
    assert.is(parts.length, 2);
    for (const p of parts) assert.ok(p.body.length <= 65_536, `part of ${p.body.length} characters`);
    assert.match(parts[1]!.body, /^<!-- notrack:plan part 2 -->\n_notrack plan, part 2 of 2_\n\n\| host-/);
    assert.equal(lines(api, mark).slice(-2), [
      'PATCH /repos/netops/host-firewall/issues/comments/1000',
      `POST ${list}`,
    ]);
    const joined = parts.map((p) => p.body.replace(/^<!-- [^\n]*\n_[^\n]*_\n\n/, '')).join('');
    assert.is(joined, `${long}\n`, 'the parts hold the whole report, in order, cut only at line ends');

    // 4. A short plan again: part 1 edited, part 2 deleted.
    mark = api.requests.length;
    r = await postGithub(api, report('plan4.md', '### notrack plan\n\nno changes\n'));
    assert.is(r.status, 0, r.stderr);
    assert.equal(lines(api, mark).slice(-2), [
      'PATCH /repos/netops/host-firewall/issues/comments/1000',
      'DELETE /repos/netops/host-firewall/issues/comments/1001',
    ]);
    assert.match(r.stdout, 'plan comment part 2: deleted (id 1001)');
    assert.is(plans(api).length, 1);

    // 5. The same plan once more: read only, nothing written.
    mark = api.requests.length;
    r = await postGithub(api, report('plan5.md', '### notrack plan\n\nno changes\n'));
    assert.is(r.status, 0, r.stderr);
    assert.ok(lines(api, mark).every((l) => l.startsWith('GET ')));
    assert.match(r.stdout, 'plan comment part 1: unchanged');
    // People's comments were never touched.
    assert.equal(api.comments.slice(0, 120), PEOPLE);
  } finally {
    await api.close();
  }
});

test('GitHub: a rejected token is an error (exit 1) that says so, and nothing is written', async () => {
  const api = await startForgeApi({ token: 'another-token', repository: 'netops/host-firewall', pullRequest: 7 });
  try {
    const r = await postGithub(api, report('plan-denied.md', 'x\n'));
    assert.is(r.status, 1);
    assert.match(r.stderr, /error\[publish-request-failed\]: github refused the comment \(HTTP 401\)/);
    assert.ok(api.requests.every((q) => q.method === 'GET'));
  } finally {
    await api.close();
  }
});

test('outside a pull request the command says where it would need to run (exit 1)', async () => {
  const r = await runCli(['comment', '--file', report('p.md', 'x\n')], {
    env: {
      GITHUB_ACTIONS: 'true',
      GITLAB_CI: '',
      GITHUB_TOKEN: TOKEN,
      GITHUB_REPOSITORY: 'a/b',
      GITHUB_EVENT_PATH: '',
      GITHUB_REF: 'refs/heads/main',
    },
  });
  assert.is(r.status, 1);
  assert.match(r.stderr, 'error[publish-no-target]');
});

test('GitLab: one merge request note, created then edited in place, with the token in PRIVATE-TOKEN', async () => {
  const api = await startForgeApi({
    token: TOKEN,
    repository: 'unused/unused',
    pullRequest: 12,
    gitlabProject: '42',
    comments: [{ id: 1, body: 'added 1 commit', system: true }],
  });
  const notes = '/projects/42/merge_requests/12/notes';
  const env = {
    GITLAB_CI: 'true',
    GITHUB_ACTIONS: '',
    NOTRACK_GITLAB_TOKEN: TOKEN,
    CI_API_V4_URL: api.url,
    CI_PROJECT_ID: '42',
    CI_MERGE_REQUEST_IID: '12',
  };
  try {
    let r = await runCli(['comment', '--file', report('gl1.md', 'plan one\n')], { env });
    assert.is(r.status, 0, r.stderr);
    r = await runCli(['comment', '--file', report('gl2.md', 'plan two\n')], { env });
    assert.is(r.status, 0, r.stderr);
    assert.equal(lines(api, 0), [
      `GET ${notes}?per_page=100&sort=asc&page=1`,
      `POST ${notes}`,
      `GET ${notes}?per_page=100&sort=asc&page=1`,
      `PUT ${notes}/1000`,
    ]);
    assert.ok(api.requests.every((q) => q.privateToken === TOKEN));
    assert.equal(
      api.comments.map((c) => c.body),
      ['added 1 commit', '<!-- notrack:plan part 1 -->\nplan two\n'],
    );
  } finally {
    await api.close();
  }
});

test.run();

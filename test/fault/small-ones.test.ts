// The small findings of issue 12 (finding 12 and the provenance of 7), each as a user meets it: one file-size limit
// for every command, U+2028 refused, file names that cannot inject workflow commands or terminal escapes, a bpffs
// folder under /proc refused at once, a bad --max-file-bytes a usage error, private state files, a deleted branch
// Stalled instead of retried forever, and a token never sent over plain http.
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { cliCommand, runCli, ROOT } from '../support/cli.js';
import { kernelGate } from '../support/kernel-gate.js';
import { NetNs } from '../support/netns.js';
import { RECONCILE_TOOLS, dbPolicy, withLab } from '../support/reconcile-fixture.js';

const gate = kernelGate('small-ones', { tools: RECONCILE_TOOLS });

function folder(files: Record<string, string | Buffer>): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'notrack-small-'));
  for (const [name, content] of Object.entries(files)) writeFileSync(path.join(dir, name), content);
  return dir;
}

const SET = (name: string) =>
  `apiVersion: projectcalico.org/v3\nkind: GlobalNetworkSet\nmetadata: {name: ${name}, labels: {a: b}}\nspec: {nets: [10.0.0.0/8]}\n`;

/** Runs the CLI inside a namespace of this test (it may try the kernel: never in the root namespace). */
function cliIn(ns: NetNs, args: string[], env: Record<string, string> = {}) {
  const [cmd, ...argv] = ['ip', 'netns', 'exec', ns.name, ...cliCommand(args)];
  const r = spawnSync(cmd!, argv, { cwd: ROOT, encoding: 'utf8', timeout: 60_000, env: { ...process.env, ...env } });
  return { status: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '', timedOut: r.error !== undefined };
}

gate.test('one file-size limit: validate and test name the same one, and a file under it is read by both', () => {
  const big = `# ${'x'.repeat(5 * 1024 * 1024)}\n`;
  const dir = folder({ 'big.yaml': big, 'ok.yaml': SET('ok') });
  try {
    const v = runCli(['validate', '--path', dir]);
    assert.is(v.status, 1);
    assert.match(v.stdout, /over the limit of 4194304/);
    const mid = folder({ 'mid.yaml': `${SET('mid')}# ${'y'.repeat(2 * 1024 * 1024)}\n` });
    try {
      assert.is(runCli(['validate', '--path', mid]).status, 0, 'a 2 MiB file is under the one limit');
    } finally {
      rmSync(mid, { recursive: true, force: true });
    }
    const bad = runCli(['validate', '--path', dir, '--max-file-bytes', 'abc']);
    assert.is(bad.status, 64, bad.stderr);
    assert.match(bad.stderr, /--max-file-bytes takes a whole number/);
    assert.not.match(bad.stderr, /internal error/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

gate.test('a file saved with U+2028 line separators is refused, not half read', () => {
  const text = `${SET('one')}---\u2028${SET('two').replace(/\n/g, '\u2028')}`;
  const dir = folder({ 'sets.yaml': text });
  try {
    const v = runCli(['validate', '--path', dir]);
    assert.is(v.status, 1, v.stdout);
    assert.match(v.stdout, /line-separator/);
    assert.match(v.stdout, /U\+2028/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

gate.test('a file name with a newline, ::warning:: and an escape injects nothing, in github and text output', () => {
  const dir = folder({ 'a\n::warning::pwned\u001b[31m.yaml': 'apiVersion: [' });
  try {
    const gh = runCli(['validate', '--path', dir, '--format', 'github']);
    assert.is(gh.status, 1);
    for (const line of gh.stdout.split('\n')) assert.not.ok(line.startsWith('::warning::'), `injected: ${line}`);
    assert.not.match(gh.stdout, /\u001b/);
    const text = runCli(['validate', '--path', dir]);
    for (const line of text.stdout.split('\n')) assert.not.ok(line.startsWith('::warning::'), `injected: ${line}`);
    assert.not.match(text.stdout, /\u001b/);
    assert.match(text.stdout, /a\\n::warning::pwned\\x1b\[31m\.yaml/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

gate.test('--bpffs /proc/x is refused at once (no endless mkdir)', () => {
  const ns = NetNs.create('s');
  const dir = folder({});
  try {
    for (const [name, text] of Object.entries(dbPolicy())) {
      mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
      writeFileSync(path.join(dir, name), text);
    }
    const r = cliIn(ns, [
      'apply',
      '--path',
      dir,
      '--host',
      'db-1',
      '--bpffs',
      '/proc/x',
      '--state-dir',
      `${dir}/state`,
    ]);
    assert.not.ok(r.timedOut, 'apply returned');
    assert.is(r.status, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /not on a bpffs mount/);
  } finally {
    ns.delete();
    rmSync(dir, { recursive: true, force: true });
  }
});

gate.test('state files are private; a deleted branch is Stalled (RefNotFound), not retried forever', () =>
  withLab(async (lab) => {
    lab.commit(dbPolicy());
    assert.is(lab.cli('apply').status, 0);
    assert.is(statSync(lab.stateDir).mode & 0o777, 0o700, 'the state folder is 0700');
    assert.is(statSync(path.join(lab.stateDir, 'applied.json')).mode & 0o777, 0o600, 'the record is 0600');
    assert.is(statSync(path.join(lab.stateDir, 'applied-state.json')).mode & 0o777, 0o600);
    const r = lab.cli('apply', '--ref', 'a-deleted-branch', '--format', 'json');
    assert.is(r.status, 1);
    const outcome = (JSON.parse(r.stdout) as { outcome: { status: string; reason: string } }).outcome;
    assert.equal([outcome.status, outcome.reason], ['Stalled', 'RefNotFound']);
  }),
);

gate.test('a token is never sent over plain http unless --allow-insecure-http', () => {
  const ns = NetNs.create('h');
  try {
    const env = { NOTRACK_GIT_TOKEN: 'secret-token-1234' };
    const url = 'http://127.0.0.1:9/policy.git';
    const refused = cliIn(ns, ['validate', '--repo', url], env);
    assert.is(refused.status, 1);
    assert.match(refused.stderr, /source-insecure-http/);
    assert.not.match(refused.stderr + refused.stdout, /secret-token-1234/);
    const allowed = cliIn(ns, ['validate', '--repo', url, '--allow-insecure-http'], env);
    assert.is(allowed.status, 1);
    assert.match(allowed.stderr, /source-unreachable/, 'with the flag it tries (and finds nothing there)');
  } finally {
    ns.delete();
  }
});

gate.test.run();

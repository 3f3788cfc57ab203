// notrack validate from the command line: formats, exit codes and usage errors.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, writeFileSync, rmSync, mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runCli } from '../support/cli.js';

const BAD = `apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: db
spec:
  doNotTrack: true
  applyOnForward: true
  ingress:
    - action: Allow
      protocl: TCP
`;

function repoWith(files: Record<string, string>): { dir: string; done: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), 'notrack-validate-'));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), text);
  }
  return { dir, done: () => rmSync(dir, { recursive: true, force: true }) };
}

test('policies-example validates clean and exits 0', () => {
  const r = runCli(['validate', '--path', 'policies-example']);
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /^valid: \d+ files, \d+ documents .*: 0 errors/m);
});

test('an invalid file prints file:line:col, the check and the JSON path, and exits 1', () => {
  const repo = repoWith({ 'policies/db.yaml': BAD });
  try {
    const r = runCli(['validate', '--path', 'policies'], { cwd: repo.dir });
    assert.is(r.status, 1);
    assert.ok(
      r.stdout.includes(
        'policies/db.yaml:10:7: error[unknown-field]: unknown field "protocl" in ingress[0]; did you mean "protocol"? (at spec.ingress[0].protocl)',
      ),
      r.stdout,
    );
    assert.match(r.stdout, /^invalid: 1 file, 1 document .*: 1 error/m);
  } finally {
    repo.done();
  }
});

test('json output is versioned and carries every diagnostic field', () => {
  const repo = repoWith({ 'p.yaml': BAD });
  try {
    const r = runCli(['validate', '--format', 'json'], { cwd: repo.dir });
    assert.is(r.status, 1);
    const out = JSON.parse(r.stdout);
    assert.is(out.formatVersion, 1);
    assert.is(out.kind, 'notrack.validate');
    assert.is(out.valid, false);
    assert.equal(out.summary, { errors: 1, warnings: 0, notices: 0 });
    const d = out.diagnostics[0];
    assert.equal(
      [d.severity, d.code, d.file, d.line, d.col, d.path],
      ['error', 'unknown-field', 'p.yaml', 10, 7, 'spec.ingress[0].protocl'],
    );
  } finally {
    repo.done();
  }
});

test('github format prints workflow annotations and appends a Markdown summary to $GITHUB_STEP_SUMMARY', () => {
  const repo = repoWith({ 'p.yaml': BAD });
  const summary = path.join(repo.dir, 'summary.md');
  try {
    const r = runCli(['validate', '--format', 'github'], { cwd: repo.dir, env: { GITHUB_STEP_SUMMARY: summary } });
    assert.is(r.status, 1);
    assert.ok(
      r.stdout.startsWith(
        '::error file=p.yaml,line=10,col=7,endColumn=14,title=notrack unknown-field::unknown field "protocl"',
      ),
      r.stdout,
    );
    assert.match(readFileSync(summary, 'utf8'), /### ❌ notrack validate/);
  } finally {
    repo.done();
  }
});

test('warnings pass unless --warnings-as-errors', () => {
  const repo = repoWith({
    'p.yaml': `apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: { name: nothing-selected }
spec:
  selector: role == 'nobody'
  doNotTrack: true
  applyOnForward: true
  ingress: [{ action: Deny, protocol: UDP }]
`,
  });
  try {
    const ok = runCli(['validate'], { cwd: repo.dir });
    assert.is(ok.status, 0, ok.stdout);
    assert.match(ok.stdout, /warning\[selects-nothing\]/);
    assert.is(runCli(['validate', '--warnings-as-errors'], { cwd: repo.dir }).status, 1);
  } finally {
    repo.done();
  }
});

test('usage errors exit 64 and name the problem; --help documents the options', () => {
  const bad = runCli(['validate', '--format', 'xml']);
  assert.is(bad.status, 64);
  assert.match(bad.stderr, /--format must be one of text, json, github, not "xml"/);
  const unknown = runCli(['validate', '--frobnicate']);
  assert.is(unknown.status, 64);
  assert.match(unknown.stderr, /frobnicate/);
  const help = runCli(['validate', '--help']);
  assert.is(help.status, 0);
  assert.match(help.stdout, /--repo URL\|PATH/);
  assert.is(runCli(['nope']).status, 64);
});

test('a missing policy path is an error with its own code, not a crash', () => {
  const r = runCli(['validate', '--path', 'does-not-exist']);
  assert.is(r.status, 1);
  assert.match(r.stderr, /error\[source-[a-z-]+\]: .*does-not-exist/);
});

test.run();

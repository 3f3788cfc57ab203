// `notrack test` against policies-example and copies of it: passing and failing cases, invalid test files, formats.
import { cpSync, mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cliInProcess } from '../support/cli-in-process.js';

const scratch = mkdtempSync(path.join(os.tmpdir(), 'notrack-test-command-'));
let copies = 0;
/** A copy of policies-example outside the working directory (so paths print relative to it), plus extra files. */
function repoWith(files: Record<string, string>): string {
  const dir = path.join(scratch, `repo-${copies++}`);
  cpSync('policies-example', dir, { recursive: true });
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), text);
  }
  return dir;
}

const WRONG = `apiVersion: notrack.dev/v1alpha1
kind: PolicyTest
metadata:
  name: wrong-expectations
spec:
  host: db-1
  interface: eth0
  cases:
    - packet: tcp 10.0.1.7:40000 > 10.0.2.10:5432
      expect: allow
    - name: the author thought the app subnet was denied
      packet: tcp 10.0.1.7:40000 > 10.0.2.10:5432
      expect: deny
      rule: db-postgres/ingress/1
`;

test("the example repository's own tests all pass (exit 0), and --verbose lists each case", async () => {
  const r = await cliInProcess('test', '--path', 'policies-example', '--verbose');
  assert.is(r.code, 0, r.out + r.err);
  const lines = r.out.trimEnd().split('\n');
  assert.is(lines[lines.length - 1], 'passed: 2 files, 5 tests, 30 cases: 30 passed, 0 failed');
  assert.ok(
    lines.includes(
      'policies-example/tests/edge.yaml:37:7: ok: edge-public case 6: udp 192.0.2.10:11211 > 10.0.0.10:40000: deny by edge-reflection-deny/ingress/1',
    ),
  );
  assert.ok(
    lines.includes(
      'policies-example/tests/edge.yaml:42:7: ok: edge-public case 7: tcp 10.0.255.7:50000 > 10.0.0.10:22: pass (failsafe tcp 22 from 10.0.255.0/24)',
    ),
  );
});

test('a failing case is an error at its line with expected and actual, and exit 1', async () => {
  const dir = repoWith({ 'tests/wrong.yaml': WRONG });
  const r = await cliInProcess('test', '--path', dir);
  assert.is(r.code, 1);
  assert.is(
    r.out,
    [
      'tests/wrong.yaml:11:7: error[test-failed]: wrong-expectations case 1 (the author thought the app subnet was denied): ' +
        'tcp 10.0.1.7:40000 > 10.0.2.10:5432: expected deny by db-postgres/ingress/1, got allow by db-postgres/ingress/0 (at spec.cases[1])',
      'failed: 3 files, 6 tests, 32 cases: 31 passed, 1 failed',
      '',
    ].join('\n'),
  );
});

test('--format json lists every case with what was expected and what happened; github prints annotations', async () => {
  const dir = repoWith({ 'tests/wrong.yaml': WRONG });
  const json = await cliInProcess('test', '--path', dir, '--format', 'json');
  assert.is(json.code, 1);
  const j = JSON.parse(json.out);
  assert.equal([j.kind, j.formatVersion, j.passed], ['notrack.test', 1, false]);
  assert.equal(j.summary, { files: 3, tests: 6, cases: 32, passed: 31, failed: 1, errors: 0 });
  const failed = j.results.filter((r: { passed: boolean }) => !r.passed);
  assert.equal(
    failed.map((r: Record<string, unknown>) => [
      r['file'],
      r['line'],
      r['test'],
      r['index'],
      r['expected'],
      (r['actual'] as { rule: string }).rule,
    ]),
    [
      [
        'tests/wrong.yaml',
        11,
        'wrong-expectations',
        1,
        { outcome: 'deny', rule: 'db-postgres/ingress/1' },
        'db-postgres/ingress/0',
      ],
    ],
  );
  const gh = await cliInProcess('test', '--path', dir, '--format', 'github');
  assert.match(
    gh.out,
    /^::error file=tests\/wrong\.yaml,line=11,col=7,title=notrack test-failed::wrong-expectations case 1 /m,
  );
});

test('cases take direction: egress (packets the host sends), and a rule of the other direction is an error at the field', async () => {
  const egress = `apiVersion: notrack.dev/v1alpha1
kind: PolicyTest
metadata:
  name: replies
spec:
  host: db-1
  interface: eth0
  direction: egress
  cases:
    - name: the author forgot the reply leaves from the named port's address only
      packet: tcp 10.0.2.99:5432 > 10.0.1.7:40000
      expect: allow
    - packet: tcp 10.0.2.10:5432 > 10.0.1.7:40000
      expect: allow
      rule: db-postgres/ingress/0
`;
  const r = await cliInProcess('test', '--path', repoWith({ 'tests/replies.yaml': egress }), '--format', 'json');
  assert.is(r.code, 1);
  const run = JSON.parse(r.out);
  assert.equal(
    run.results
      .filter((c: { test: string }) => c.test === 'replies')
      .map((c: { direction: string; passed: boolean; actual: { reason: string } }) => [
        c.direction,
        c.passed,
        c.actual.reason,
      ]),
    [['egress', false, 'no-match']],
  );
  assert.ok(
    run.diagnostics.some(
      (d: { code: string; message: string; path: string }) =>
        d.code === 'invalid-value' &&
        d.path === 'spec.cases[1].rule' &&
        d.message.startsWith('db-postgres/ingress/0 is an ingress rule, and this case checks egress'),
    ),
    JSON.stringify(run.diagnostics),
  );
});

test('invalid test files are errors at the field: schema, packet, unknown host and interface, other kinds', async () => {
  const dir = repoWith({
    'tests/broken.yaml': `apiVersion: notrack.dev/v1alpha1
kind: PolicyTest
metadata: { name: typo }
spec:
  host: db-1
  interface: eth0
  cases:
    - packet: tcp 10.0.1.7:1 > 10.0.2.10:5432
      expect: alow
---
apiVersion: notrack.dev/v1alpha1
kind: PolicyTest
metadata: { name: bad-packet }
spec:
  host: db-1
  interface: eth0
  cases:
    - packet: tcp 10.0.1.7 > 10.0.2.10:5432
      expect: allow
---
apiVersion: notrack.dev/v1alpha1
kind: PolicyTest
metadata: { name: no-such-host }
spec: { host: db-2, interface: eth0, cases: [{ packet: 'tcp 10.0.1.7:1 > 10.0.2.10:5432', expect: allow }] }
---
apiVersion: notrack.dev/v1alpha1
kind: PolicyTest
metadata: { name: no-such-interface }
spec: { host: db-1, interface: eth1, cases: [{ packet: 'tcp 10.0.1.7:1 > 10.0.2.10:5432', expect: allow }] }
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkSet
metadata: { name: misplaced }
spec: { nets: [10.0.0.0/8] }
`,
  });
  const r = await cliInProcess('test', '--path', dir);
  assert.is(r.code, 1);
  assert.is(
    r.out,
    [
      'tests/broken.yaml:9:15: error[invalid-value]: expect is the string "alow"; expected one of allow, deny, pass; did you mean "allow"? (at spec.cases[0].expect)',
      'tests/broken.yaml:18:15: error[invalid-packet]: invalid packet "tcp 10.0.1.7 > 10.0.2.10:5432": tcp needs both ports, e.g. "tcp 10.0.0.1:40000 > 10.0.0.2:80" (or "frag" for a later fragment) (at spec.cases[0].packet)',
      'tests/broken.yaml:24:15: error[unknown-host]: no HostEndpoint has node "db-2"; did you mean "db-1"? (hosts: cache-1, db-1, edge-1) (at spec.host)',
      'tests/broken.yaml:29:32: error[unknown-interface]: host db-1 has no HostEndpoint on interface eth1; did you mean "eth0"? (interfaces: eth0) (at spec.interface)',
      'tests/broken.yaml:32:7: error[not-a-policy-test]: the tests folder holds PolicyTest documents only, not GlobalNetworkSet (policy belongs outside it) (at kind)',
      'failed: 3 files, 8 tests, 30 cases: 30 passed, 0 failed, 5 errors in the test files',
      '',
    ].join('\n'),
  );
});

test('policy that does not validate runs no case: its errors are printed and the run fails', async () => {
  const dir = repoWith({
    'policies/broken.yaml': `apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: { name: broken }
spec: { doNotTrack: true, applyOnForward: true, ingress: [{ action: Alow }] }
`,
  });
  const r = await cliInProcess('test', '--path', dir);
  assert.is(r.code, 1);
  assert.match(r.out, /^policies\/broken\.yaml:4:\d+: error\[invalid-value\]: action is the string "Alow"/m);
  assert.match(
    r.out,
    /\nfailed: the policy has 1 error \(see "notrack validate"\), so none of the cases in 2 test files ran\n$/,
  );
});

test('every command leaves the tests folder out of the policy: validate stays clean next to PolicyTest files', async () => {
  const dir = repoWith({ 'tests/wrong.yaml': WRONG });
  const r = await cliInProcess('validate', '--path', dir);
  assert.is(r.code, 0, r.out);
  assert.match(r.out, /^valid: 11 files, 14 documents/m);
});

test('--tests points at a folder outside the policy path; from a Git repository both come from the same commit', async () => {
  const dir = path.join(scratch, 'git-repo');
  mkdirSync(dir);
  cpSync('policies-example', path.join(dir, 'policy'), { recursive: true });
  mkdirSync(path.join(dir, 'checks'));
  writeFileSync(path.join(dir, 'checks', 'wrong.yaml'), WRONG);
  const git = (...args: string[]) => {
    const r = spawnSync(
      'git',
      ['-c', 'user.name=t', '-c', 'user.email=t@example.com', '-c', 'init.defaultBranch=main', ...args],
      { cwd: dir, encoding: 'utf8' },
    );
    assert.is(r.status, 0, r.stderr);
  };
  git('init', '-q');
  git('add', '.');
  git('commit', '-q', '-m', 'policy and checks');
  const own = await cliInProcess('test', '--repo', dir, '--path', 'policy');
  assert.is(own.code, 0, own.out + own.err);
  assert.match(own.out, 'passed: 2 files, 5 tests, 30 cases: 30 passed, 0 failed');
  const elsewhere = await cliInProcess('test', '--repo', dir, '--path', 'policy', '--tests', 'checks');
  assert.is(elsewhere.code, 1);
  assert.match(elsewhere.out, /^checks\/wrong\.yaml:11:7: error\[test-failed\]/m);
  assert.match(elsewhere.out, 'failed: 1 file, 1 test, 2 cases: 1 passed, 1 failed');
});

test('a folder without test files is an error that says where it looked', async () => {
  const r = await cliInProcess('test', '--path', 'policies-example', '--tests', 'policies-example/hosts/none');
  assert.is(r.code, 1);
  assert.match(r.err, 'error[no-tests]: no test files under policies-example/hosts/none');
});

test.after(() => rmSync(scratch, { recursive: true, force: true }));
test.run();

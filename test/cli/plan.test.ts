// notrack plan from the command line: per-host changes between two revisions in text, Markdown and JSON.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ROOT, runCli } from '../support/cli.js';

let repo = '';

function git(args: string[]): string {
  const r = spawnSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.org', ...args], {
    cwd: repo,
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
}

function edit(file: string, from: string, to: string): void {
  const p = path.join(repo, file);
  writeFileSync(p, readFileSync(p, 'utf8').replace(from, to));
}

test.before(() => {
  repo = mkdtempSync(path.join(tmpdir(), 'notrack-plan-'));
  cpSync(path.join(ROOT, 'policies-example'), repo, { recursive: true });
  git(['init', '--quiet', '--initial-branch=main']);
  git(['add', '--all']);
  git(['commit', '--quiet', '-m', 'base']);
  edit('hosts/db-1.yaml', 'port: 5432', 'port: 5433');
  edit('sets/ddos-deny-list.yaml', '    - 203.0.113.66/32\n', '    - 203.0.113.66/32\n    - 192.0.2.77/32\n');
  git(['commit', '--quiet', '-am', 'head']);
});

test.after(() => rmSync(repo, { recursive: true, force: true }));

test('a pull request that moves a port and adds a deny-list entry shows the rule and set changes per host, exit 2', () => {
  const r = runCli(['plan', '--repo', repo, '--base', 'HEAD~1', '--head', 'HEAD']);
  assert.is(r.status, 2, r.stderr);
  assert.ok(r.stdout.includes('~ host db-1'), r.stdout);
  assert.ok(
    r.stdout.includes('- IPv4: Allow tcp from 10.0.1.0/24 dport 5432') &&
      r.stdout.includes('+ IPv4: Allow tcp from 10.0.1.0/24 dport 5433'),
    r.stdout,
  );
  assert.match(
    r.stdout,
    /~ set selector dos-deny-list == "true", used by ddos-deny ingress\[0\] source \(IPv4\): 660 -> 661 prefixes \(\+1 -0\)\n\s+\+ 192\.0\.2\.77\/32/,
  );
  assert.ok(!r.stdout.includes('host cache-1'), 'unchanged hosts are left out');
  assert.match(r.stdout, /Plan: 2 of 3 hosts change \(0 new, 0 removed, 2 updated\)\./);
});

test('the same revision on both sides is no change, exit 0', () => {
  const r = runCli(['plan', '--repo', repo, '--base', 'main', '--head', 'HEAD']);
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /No changes: 3 hosts already match the head revision\./);
});

test('markdown puts each changed host in a diff block with the marker first; json is versioned', () => {
  const md = runCli(['plan', '--repo', repo, '--base', 'HEAD~1', '--head', 'HEAD', '--format', 'markdown']);
  assert.is(md.status, 2);
  assert.match(md.stdout, /^### 📝 notrack plan/);
  assert.match(md.stdout, /```diff\n! host db-1\n/);
  assert.match(md.stdout, /^\+ +IPv4: Allow tcp from 10\.0\.1\.0\/24 dport 5433$/m);
  const js = JSON.parse(
    runCli(['plan', '--repo', repo, '--base', 'HEAD~1', '--head', 'HEAD', '--format', 'json']).stdout,
  );
  assert.equal([js.formatVersion, js.kind, js.summary.changed], [1, 'notrack.plan', 2]);
  const edge = js.hosts.find((h: { host: string }) => h.host === 'edge-1');
  assert.equal(edge.interfaces[0].sets[0].added, ['192.0.2.77/32']);
});

test('an invalid head revision is an error naming the problem, exit 1', () => {
  edit('policies/data/postgres.yaml', 'action: Allow', 'action: Alow');
  git(['commit', '--quiet', '-am', 'broken']);
  const r = runCli(['plan', '--repo', repo, '--base', 'HEAD~1', '--head', 'HEAD']);
  assert.is(r.status, 1);
  assert.match(r.stderr, /error\[plan-invalid-revision\]: the head revision is invalid \(\d+ errors?\):/);
  assert.match(r.stderr, /policies\/data\/postgres\.yaml:\d+:\d+: error\[invalid-value\]/);
});

test.run();

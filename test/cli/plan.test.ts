// `notrack plan` on a real Git repository: traffic changes for a pull request, Terraform's exit status (0, or 2 with
// --detailed-exitcode), Markdown and versioned JSON, and an invalid head revision.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cpSync, mkdtempSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ROOT, runCli } from '../support/cli.js';
import { gitIn } from '../support/git-repo.js';

let repo = '';

const git = gitIn(() => repo);

function edit(file: string, from: string, to: string): void {
  const p = path.join(repo, file);
  writeFileSync(p, readFileSync(p, 'utf8').replace(from, to));
}

const plan = (...args: string[]) => runCli(['plan', '--repo', repo, ...args]);

test.before(() => {
  repo = mkdtempSync(path.join(tmpdir(), 'notrack-plan-'));
  cpSync(path.join(ROOT, 'policies-example'), repo, { recursive: true });
  git(['init', '--quiet', '--initial-branch=main']);
  git(['add', '--all']);
  git(['commit', '--quiet', '-m', 'base']);
  git(['tag', 'base']);
  // A pull request: postgres moves to 5433 on db-1, and the deny list gets one more address.
  edit('hosts/db-1.yaml', 'port: 5432', 'port: 5433');
  edit('sets/ddos-deny-list.yaml', '    - 203.0.113.66/32\n', '    - 203.0.113.66/32\n    - 192.0.2.77/32\n');
  git(['commit', '--quiet', '-am', 'head']);
  git(['tag', 'pr']);
  // A refactor of the same: files renamed and moved, documents reordered.
  mkdirSync(path.join(repo, 'all'));
  renameSync(path.join(repo, 'policies/edge/ddos.yaml'), path.join(repo, 'all/edge-flood.yaml'));
  const memcached = readFileSync(path.join(repo, 'policies/data/memcached.yaml'), 'utf8');
  const postgres = readFileSync(path.join(repo, 'policies/data/postgres.yaml'), 'utf8');
  writeFileSync(path.join(repo, 'all/data.yaml'), `${postgres}\n---\n${memcached}`);
  rmSync(path.join(repo, 'policies/data'), { recursive: true });
  git(['add', '--all']);
  git(['commit', '--quiet', '-m', 'refactor']);
  git(['tag', 'refactor']);
});

test.after(() => rmSync(repo, { recursive: true, force: true }));

test('a pull request that moves a port and grows the deny list shows the traffic that changes, per host; exit 0', () => {
  const r = plan('--base', 'base', '--head', 'pr');
  assert.is(r.status, 0, r.stderr);
  assert.match(
    r.stdout,
    /^Plan: 2 of 3 hosts change \(0 new, 0 removed, 2 updated\)\. Traffic: \d+ regions? newly allowed, \d+ newly denied, \d+ newly tracked/m,
  );
  // db-1: postgres moved from 5432 to 5433 at db-1's own address.
  assert.match(
    r.stdout,
    /eth0 ingress IPv4: tcp to 10\.0\.2\.10\/32 \(endpoint db-1-eth0\), port 5433 from 10\.0\.1\.0\/24 \(set app-subnet\).*\n\s+before: pass \(to tracked processing\): no rule matches\n\s+after: {2}allow \(untracked\) by db-postgres ingress\[0\] \(policies\/data\/postgres\.yaml:16\)\n\s+example: tcp 10\.0\.1\.1:40000 > 10\.0\.2\.10:5433/,
  );
  // edge-1: the new deny-list address, on both interfaces (the same change: one group).
  assert.match(r.stdout, /^ {2}edge-1:\n {4}eth0 ingress IPv4: .*from 192\.0\.2\.77\/32 \(in set ddos-deny-list\)/m);
  assert.match(r.stdout, /^ {4}eth1 ingress IPv4: .*from 192\.0\.2\.77\/32 \(in set ddos-deny-list\)/m);
  assert.match(r.stdout, /\n {6}after: {2}deny by ddos-deny ingress\[0\] \(policies\/edge\/ddos\.yaml:17\)/);
  assert.match(
    r.stdout,
    /~ GlobalNetworkSet ddos-deny-list \(sets\/ddos-deny-list\.yaml\)\n\s+~ nets: 1100 -> 1101 \(\+1 -0\)\n\s+\+ 192\.0\.2\.77\/32/,
  );
  assert.match(
    r.stdout,
    /~ HostEndpoint db-1-eth0 \(hosts\/db-1\.yaml\)\n\s+~ ports: 1 -> 1 \(\+1 -1\)\n\s+\+ postgres TCP 5433\n\s+- postgres TCP 5432/,
  );
  assert.not.match(r.stdout, /host cache-1/, 'unchanged hosts are left out');
});

test('--detailed-exitcode: 2 for changes, 0 for none; the same revision twice is "No changes"', () => {
  assert.is(plan('--base', 'base', '--head', 'pr', '--detailed-exitcode').status, 2);
  const same = plan('--base', 'base', '--head', 'base', '--detailed-exitcode');
  assert.is(same.status, 0, same.stderr);
  assert.match(same.stdout, /No changes: 3 hosts already match the head revision\. No traffic changes\./);
});

test('a refactor that renames, moves and merges files changes nothing: exit 0 even with --detailed-exitcode', () => {
  const r = plan('--base', 'pr', '--head', 'refactor', '--detailed-exitcode');
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /No changes: 3 hosts already match the head revision\. No traffic changes\./);
  assert.match(r.stdout, /Traffic changes:\n {2}none: every packet is decided as before, by the same rule/);
});

test('markdown leads with the summary and puts each host group in a diff block; json is version 2', () => {
  const md = plan('--base', 'base', '--head', 'pr', '--format', 'markdown');
  assert.is(md.status, 0);
  assert.match(
    md.stdout,
    /^### 📝 notrack plan\n\n`[^`]+: base \([0-9a-f]{12}\) -> pr \([0-9a-f]{12}\)`\n\n\*\*Plan: 2 of 3 hosts change/,
  );
  assert.match(md.stdout, /#### Traffic changes\n/);
  assert.match(md.stdout, /^\+ {3}after: {2}deny by ddos-deny ingress\[0\]/m);
  assert.match(md.stdout, /#### Resource changes\n/);
  const js = JSON.parse(plan('--base', 'base', '--head', 'pr', '--format', 'json').stdout);
  assert.equal([js.formatVersion, js.kind, js.summary.changed], [2, 'notrack.plan', 2]);
  const denied = js.trafficChanges.find(
    (c: { after: { outcome: string }; interface: string }) => c.after.outcome === 'deny' && c.interface === 'eth1',
  );
  assert.equal(denied.hosts, ['edge-1']);
  assert.equal(denied.match[0].src, ['192.0.2.77/32']);
});

test('an invalid head revision is an error naming the problem, exit 1', () => {
  edit('all/data.yaml', 'action: Allow', 'action: Alow');
  git(['commit', '--quiet', '-am', 'broken']);
  const r = plan('--base', 'HEAD~1', '--head', 'HEAD', '--detailed-exitcode');
  assert.is(r.status, 1);
  assert.match(r.stderr, /error\[plan-invalid-revision\]: the head revision is invalid \(\d+ errors?\):/);
  assert.match(r.stderr, /all\/data\.yaml:\d+:\d+: error\[invalid-value\]/);
});

test.run();

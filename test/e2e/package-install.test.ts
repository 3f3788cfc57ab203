// The npm package as a user gets it: `npm pack` (prepack builds dist/ and the BPF objects), then `npm i -g` of the
// tarball into a fresh prefix as an unprivileged user, and validate, test, explain, plan and version run from there
// with no compiler on PATH.
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as assert from 'uvu/assert';
import { kernelGate } from '../support/kernel-gate.js';
import { ROOT } from '../support/cli.js';

const gate = kernelGate('package install', { tools: ['npm', 'setpriv', 'git', 'tar'] });
const test = gate.test;

let scratch = '';
let tarball = '';
const NOBODY = { uid: 65534, gid: 65534 };

function run(argv: string[], opts: SpawnSyncOptions = {}) {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', maxBuffer: 64 << 20, timeout: 600_000, ...opts });
  return { status: r.status ?? -1, stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? '') };
}

/** Runs argv as nobody with only `env` (no root settings, no inherited PATH). */
function asNobody(argv: string[], env: Record<string, string>, cwd = scratch) {
  return run(
    [
      'setpriv',
      `--reuid=${NOBODY.uid}`,
      `--regid=${NOBODY.gid}`,
      '--clear-groups',
      'env',
      '-i',
      ...Object.entries(env).map(([k, v]) => `${k}=${v}`),
      ...argv,
    ],
    { cwd },
  );
}

/** The user's shell after the install: the prefix's bin and a folder holding only node, so no compiler at all. */
function userEnv(): Record<string, string> {
  return {
    HOME: path.join(scratch, 'home'),
    PATH: `${path.join(scratch, 'home', 'prefix', 'bin')}:${path.join(scratch, 'node-only')}`,
  };
}

test.before(() => {
  if (!gate.runs) return;
  scratch = mkdtempSync(path.join(os.tmpdir(), 'notrack-package-'));
  chmodSync(scratch, 0o755);
  // Readable by the unprivileged user whatever the umask of the run (CI may run under umask 077).
  for (const d of ['home', 'node-only', 'pack']) mkdirSync(path.join(scratch, d), { mode: 0o755 });
  for (const d of ['node-only', 'pack']) chmodSync(path.join(scratch, d), 0o755);
  chownSync(path.join(scratch, 'home'), NOBODY.uid, NOBODY.gid);
  symlinkSync(process.execPath, path.join(scratch, 'node-only', 'node'));
});

test.after(() => {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

test('npm pack runs prepack (build) and ships the built JS, BPF objects, schemas and build stamp, not the tests', () => {
  const r = run(['npm', 'pack', '--pack-destination', path.join(scratch, 'pack')], { cwd: ROOT });
  assert.is(r.status, 0, r.stderr);
  const files = readdirSync(path.join(scratch, 'pack'));
  assert.equal(files, ['notrack-dev-notrack-0.1.0.tgz'.replace('0.1.0', readVersion())]);
  tarball = path.join(scratch, 'pack', files[0]!);
  chmodSync(tarball, 0o644);
  const list = run(['tar', '-tzf', tarball]).stdout.split('\n');
  for (const f of [
    'package/bin/notrack.js',
    'package/dist/cli/main.js',
    'package/dist/bundle/main.js',
    'package/dist/build-info.json',
    'package/build/bpf/xdp.o',
    'package/build/bpf/tc.o',
    'package/schema/globalnetworkpolicy.schema.json',
    'package/policies-example/policies/data/postgres.yaml',
    'package/deploy/systemd/notrack-agent.service',
  ])
    assert.ok(list.includes(f), `${f} is in the tarball`);
  for (const f of list) {
    assert.not.ok(f.startsWith('package/test/') || f.startsWith('package/src/'), `${f} must not ship`);
    assert.not.ok(f.endsWith('.map'), `${f}: source maps point at sources the package does not ship`);
  }
});

function readVersion(): string {
  return (JSON.parse(run(['cat', path.join(ROOT, 'package.json')]).stdout) as { version: string }).version;
}

test('npm i -g of the tarball into a fresh prefix as an unprivileged user installs the notrack command', () => {
  assert.ok(tarball, 'the tarball was packed');
  const globalconfig = run(['npm', 'config', 'get', 'globalconfig']).stdout.trim();
  const home = path.join(scratch, 'home');
  // A copy of this machine's npm cache, so the install reads what it can locally (--prefer-offline) and asks the
  // registry only for what is missing: the same packages, fewer round trips.
  const rootCache = run(['npm', 'config', 'get', 'cache']).stdout.trim();
  if (rootCache && existsSync(path.join(rootCache, '_cacache'))) {
    cpSync(path.join(rootCache, '_cacache'), path.join(home, 'cache', '_cacache'), { recursive: true });
    run(['chown', '-R', `${NOBODY.uid}:${NOBODY.gid}`, path.join(home, 'cache')]);
  }
  const r = asNobody(
    [
      'npm',
      'install',
      '--global',
      '--prefix',
      path.join(home, 'prefix'),
      '--cache',
      path.join(home, 'cache'),
      '--no-audit',
      '--no-fund',
      '--prefer-offline',
      tarball,
    ],
    // The machine's npm settings (registry, CA) live in its global npmrc, which --prefix would otherwise move.
    { HOME: home, PATH: '/usr/bin:/bin', npm_config_globalconfig: globalconfig, npm_config_update_notifier: 'false' },
  );
  assert.is(r.status, 0, `${r.stdout}\n${r.stderr}`);
  const which = asNobody(
    ['/bin/sh', '-c', 'command -v notrack; command -v clang || echo no-clang; command -v cc || echo no-cc'],
    userEnv(),
  );
  assert.equal(which.stdout.trim().split('\n'), [path.join(home, 'prefix', 'bin', 'notrack'), 'no-clang', 'no-cc']);
});

test('the installed notrack reports its version and the commit it was built from', () => {
  const head = run(['git', 'rev-parse', 'HEAD'], { cwd: ROOT }).stdout.trim();
  const r = asNobody(['notrack', 'version', '--format', 'json'], userEnv());
  assert.is(r.status, 0, r.stderr);
  const info = JSON.parse(r.stdout) as { name: string; version: string; commit: string };
  assert.is(info.name, '@notrack-dev/notrack');
  assert.is(info.version, readVersion());
  assert.is(info.commit, head);
});

test('validate, test and explain run from the installed package without a compiler, as a user without root', () => {
  const policies = path.join(scratch, 'policies');
  cpSync(path.join(ROOT, 'policies-example'), policies, { recursive: true });
  run(['chmod', '-R', 'a+rX', policies]);
  const validate = asNobody(['notrack', 'validate', '--path', 'policies'], userEnv());
  assert.is(validate.status, 0, validate.stdout + validate.stderr);
  assert.match(validate.stdout, /^valid: \d+ files/m);
  const tests = asNobody(['notrack', 'test', '--path', 'policies'], userEnv());
  assert.is(tests.status, 0, tests.stdout + tests.stderr);
  assert.match(tests.stdout, /^passed: .* 0 failed/m);
  const explain = asNobody(
    [
      'notrack',
      'explain',
      '--path',
      'policies',
      '--host',
      'db-1',
      '--iface',
      'eth0',
      '--packet',
      'tcp 10.0.1.7:40000 > 10.0.2.10:5432',
    ],
    userEnv(),
  );
  assert.is(explain.status, 0, explain.stdout + explain.stderr);
  assert.match(explain.stdout, /allow/i);
});

test('plan compares two commits of a policy repository from the installed package', () => {
  const repo = path.join(scratch, 'repo');
  cpSync(path.join(ROOT, 'policies-example'), repo, { recursive: true });
  const git = (...args: string[]) => {
    const r = run(['git', '-c', 'user.name=t', '-c', 'user.email=t@example.invalid', ...args], { cwd: repo });
    assert.is(r.status, 0, r.stderr);
    return r.stdout.trim();
  };
  git('init', '-q', '-b', 'main');
  git('add', '-A');
  git('commit', '-qm', 'base');
  const base = git('rev-parse', 'HEAD');
  const file = path.join(repo, 'policies', 'data', 'postgres.yaml');
  const text = run(['cat', file]).stdout.replace('nets: [10.0.1.0/24]', 'nets: [10.0.9.0/24]');
  run(['sh', '-c', 'cat > "$1"', 'sh', file], { input: text });
  git('commit', '-qam', 'head');
  run(['chmod', '-R', 'a+rX', repo]);
  const r = asNobody(
    ['notrack', 'plan', '--repo', repo, '--base', base, '--head', 'main', '--format', 'markdown'],
    userEnv(),
  );
  assert.ok(r.status === 0 || r.status === 2, `plan exit ${r.status}: ${r.stderr}`);
  assert.match(r.stdout, '10.0.9.0/24');
});

test('deploy/systemd/install.sh puts the notrack command where the unit runs it, with the unit and a private env file', () => {
  const root = path.join(scratch, 'root');
  const r = run(['bash', path.join(ROOT, 'deploy', 'systemd', 'install.sh'), '--root', root, tarball]);
  assert.is(r.status, 0, r.stdout + r.stderr);
  const unit = readFileSync(path.join(root, 'etc', 'systemd', 'system', 'notrack-agent.service'), 'utf8');
  const exec = /^ExecStart=(\S+)/m.exec(unit)?.[1];
  assert.is(exec, '/usr/local/bin/notrack');
  const installed = run([path.join(root, exec!), 'version']);
  assert.is(installed.status, 0, installed.stderr);
  assert.match(installed.stdout, /^notrack \d+\.\d+\.\d+ \(commit [0-9a-f]{12}/);
  assert.is(statSync(path.join(root, 'etc', 'notrack', 'notrack-agent.env')).mode & 0o777, 0o600);
  assert.match(unit, /^MemoryMax=/m);
  assert.match(unit, /^TasksMax=/m);
});

test.run();

// CLI conventions a user expects of a mature tool: --version and `notrack version` (with the commit), did-you-mean
// for commands and flags, bash and zsh completion that offers exactly the flags each command accepts, and an agent
// that refuses to start without --repo.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cliInProcess } from '../support/cli-in-process.js';
import { flagsFromHelp } from '../../src/cli/completion.js';

const scratch = mkdtempSync(path.join(os.tmpdir(), 'notrack-conventions-'));
test.after(() => rmSync(scratch, { recursive: true, force: true }));

const COMMANDS = [
  'validate',
  'explain',
  'test',
  'plan',
  'apply',
  'drift',
  'status',
  'logs',
  'agent',
  'suspend',
  'resume',
  'remove',
  'restore',
  'comment',
  'fleet',
  'demo',
  'version',
  'completion',
];

function git(args: string[]): string {
  return spawnSync('git', args, { encoding: 'utf8' }).stdout.trim();
}

test('--version and `notrack version` print the package version and the commit it was built from', async () => {
  const pkg = JSON.parse(spawnSync('cat', ['package.json'], { encoding: 'utf8' }).stdout) as { version: string };
  const short = await cliInProcess('--version');
  assert.is(short.code, 0);
  assert.match(short.out, new RegExp(`^notrack ${pkg.version.replace(/\./g, '\\.')} \\(commit `));
  const long = await cliInProcess('version', '--format', 'json');
  assert.is(long.code, 0, long.err);
  const info = JSON.parse(long.out) as { version: string; commit: string | null; node: string };
  assert.is(info.version, pkg.version);
  assert.is(info.node, process.versions.node);
  // The checkout is built before the tests (npm test builds first): the stamp names a commit of this repository.
  assert.ok(info.commit, 'dist/build-info.json has a commit: run npm run build');
  assert.is(git(['cat-file', '-t', info.commit!]), 'commit');
});

test('a misspelt command gets "did you mean" and exit 64', async () => {
  const r = await cliInProcess('valdate');
  assert.is(r.code, 64);
  assert.match(r.err, 'unknown command "valdate"; did you mean "validate"?');
  const far = await cliInProcess('frobnicate');
  assert.is(far.code, 64);
  assert.not.match(far.err, 'did you mean');
});

test('a misspelt flag gets "did you mean" with the flag spelt right', async () => {
  const r = await cliInProcess('validate', '--formt', 'json');
  assert.is(r.code, 64);
  assert.match(r.err, `Unknown option '--formt'; did you mean "--format"?`);
  const plan = await cliInProcess('plan', '--bsae', 'main', '--head', 'HEAD');
  assert.match(plan.err, 'did you mean "--base"?');
});

test('the agent refuses to start without --repo (it would read every YAML file under the current directory)', async () => {
  const r = await cliInProcess('agent', '--host', 'db-1', '--listen', 'off');
  assert.is(r.code, 64);
  assert.match(r.err, 'the agent needs --repo');
});

test('each command help lists its flags, and the completion parser reads them with values and choices', async () => {
  const r = await cliInProcess('validate', '--help');
  const flags = flagsFromHelp(r.out);
  const format = flags.find((f) => f.name === 'format');
  assert.equal(format?.choices, ['text', 'json', 'github']);
  assert.is(flags.find((f) => f.name === 'path')?.valueKind, 'dir');
  assert.is(flags.find((f) => f.name === 'strict')?.takesValue, false);
});

/** Runs the bash completion function for the words typed so far and returns what it offers. */
function bashComplete(script: string, words: string[]): string[] {
  const file = path.join(scratch, 'notrack.bash');
  writeFileSync(file, script);
  const driver = [
    `source ${JSON.stringify(file)}`,
    'COMP_WORDS=("$@")',
    'COMP_CWORD=$((${#COMP_WORDS[@]} - 1))',
    '_notrack',
    'printf "%s\\n" "${COMPREPLY[@]}"',
  ].join('\n');
  const r = spawnSync('bash', ['-c', driver, 'bash', ...words], { encoding: 'utf8', cwd: scratch });
  assert.is(r.status, 0, r.stderr);
  return r.stdout.split('\n').filter(Boolean);
}

test('bash completion: commands, flags of the command typed, and values of choice flags', async () => {
  const r = await cliInProcess('completion', 'bash');
  assert.is(r.code, 0, r.err);
  assert.equal(bashComplete(r.out, ['notrack', 'va']), ['validate']);
  assert.equal(bashComplete(r.out, ['notrack', '']).sort(), [...COMMANDS, '--help', '--version'].sort());
  assert.equal(bashComplete(r.out, ['notrack', 'plan', '--b']), ['--base']);
  assert.equal(bashComplete(r.out, ['notrack', 'validate', '--format', '']), ['text', 'json', 'github']);
  assert.equal(bashComplete(r.out, ['notrack', 'agent', '--drift-mode', '']), ['enforce', 'warn']);
  assert.ok(bashComplete(r.out, ['notrack', 'agent', '--']).includes('--drift-mode'));
});

test('every flag the completion offers is one the command accepts (no "Unknown option")', async () => {
  for (const name of COMMANDS) {
    const help = await cliInProcess(name, '--help');
    assert.is(help.code, 0, `${name} --help: ${help.err}`);
    for (const f of flagsFromHelp(help.out)) {
      // --help after the flag stops every command before it acts; an unknown flag fails in parsing first.
      const argv = f.takesValue
        ? [name, `--${f.name}`, f.choices[0] ?? 'x', '--help']
        : [name, `--${f.name}`, '--help'];
      const r = await cliInProcess(...argv);
      assert.not.match(r.err, 'Unknown option', `${name} --${f.name}`);
    }
  }
});

test('zsh completion is valid zsh and describes every command', async () => {
  const r = await cliInProcess('completion', 'zsh');
  assert.is(r.code, 0, r.err);
  assert.match(r.out, /^#compdef notrack/);
  for (const name of COMMANDS) assert.match(r.out, `'${name}:`);
  const file = path.join(scratch, '_notrack');
  writeFileSync(file, r.out);
  const check = spawnSync('zsh', ['-n', file], { encoding: 'utf8' });
  assert.is(check.status, 0, check.stderr);
});

test('completion without a shell, or with another shell, is a usage error', async () => {
  assert.is((await cliInProcess('completion')).code, 64);
  const fish = await cliInProcess('completion', 'fish');
  assert.is(fish.code, 64);
  assert.match(fish.err, 'bash and zsh');
});

test.run();

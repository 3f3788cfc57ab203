// The asynchronous runner the host check reads iptables and ipsets with: programs run side by side, failures keep
// their exit status and error output, and an injected (test) runner is used as it is.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  asyncRunner,
  runCheckedAsync,
  spawnRunner,
  DataplaneCommandError,
  type CommandRunner,
} from '../../src/dataplane/command-runner.js';

test('programs started through the async runner run side by side (one waits for the other)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'notrack-runner-'));
  try {
    // A reader of a FIFO blocks until a writer opens it: run one after the other, the first would never end.
    const fifo = join(dir, 'fifo');
    assert.is(spawnSync('mkfifo', [fifo]).status, 0);
    writeFileSync(join(dir, 'text'), 'through the pipe\n');
    const run = asyncRunner(spawnRunner);
    const [read, written] = await Promise.all([
      run(['cat', fifo]),
      run(['dd', `if=${join(dir, 'text')}`, `of=${fifo}`, 'status=none']),
    ]);
    assert.equal([read.status, read.stdout, written.status], [0, 'through the pipe\n', 0]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a failing or missing program is an error naming its exit status and what it said', async () => {
  const run = asyncRunner(spawnRunner);
  const failed = await runCheckedAsync(run, 'ls-failed', ['ls', '/nonexistent-notrack-path']).catch((e: unknown) => e);
  assert.instance(failed, DataplaneCommandError);
  assert.is((failed as DataplaneCommandError).code, 'ls-failed');
  assert.is((failed as DataplaneCommandError).status, 2);
  assert.match((failed as DataplaneCommandError).stderr, /nonexistent-notrack-path/);
  const missing = await run(['notrack-no-such-program']);
  assert.is(missing.status, -1);
  assert.match(missing.stderr, /ENOENT/);
});

test('an injected runner is called as it is', async () => {
  const calls: string[][] = [];
  const injected: CommandRunner = (argv) => (calls.push(argv), { status: 0, stdout: 'saved', stderr: '' });
  assert.is(await runCheckedAsync(asyncRunner(injected), 'x', ['iptables-save', '-c']), 'saved');
  assert.equal(calls, [['iptables-save', '-c']]);
});

test.run();

// NOTRACK_TIMINGS: stage times on stderr when set, nothing when not.
import { spawnSync } from 'node:child_process';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const script = `import { stageDone } from './src/timings.ts'; let x = 0; for (let i = 0; i < 3e6; i++) x += i; stageDone('count'); stageDone('nothing');`;

function run(env: NodeJS.ProcessEnv): string {
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    env,
    encoding: 'utf8',
  });
  assert.is(r.status, 0, r.stderr);
  return r.stderr;
}

test('with NOTRACK_TIMINGS each stage prints its wall clock and CPU since the last mark', () => {
  const lines = run({ ...process.env, NOTRACK_TIMINGS: '1' })
    .trim()
    .split('\n');
  assert.is(lines.length, 2);
  assert.match(lines[0]!, /^notrack timing: count \d+ ms \(CPU \d+ ms\)$/);
  assert.match(lines[1]!, /^notrack timing: nothing \d+ ms \(CPU \d+ ms\)$/);
  // The first stage counts from the process's start, so it holds at least the module loading before it.
  assert.ok(Number(/count (\d+)/.exec(lines[0]!)![1]) > 0);
});

test('without it, nothing is printed', () => {
  const env = { ...process.env };
  delete env['NOTRACK_TIMINGS'];
  assert.is(run(env), '');
});

test.run();

// What a crashed chaos run leaves is removed: a tmpfs mounted inside the lab folder of a process that is gone is
// unmounted and the folder removed; the same of a process still running is left alone.
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { LAB_MARKER, TEST_NAME_PREFIX, removeLeftovers } from '../../src/demo/leftovers.js';
import { kernelGate } from '../support/kernel-gate.js';
import { run, uniqueName } from '../support/netns.js';

const gate = kernelGate('leftovers-mounts', { tools: ['mount', 'umount'] });

const mounted = (dir: string): boolean =>
  readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .some((l) => l.split(' ')[4] === dir && l.includes(' - tmpfs '));

/** A lab folder named after `pid`, with the marker and a small tmpfs mounted on its `state` folder. */
function labFolder(pid: number): { dir: string; state: string } {
  const dir = path.join(tmpdir(), `${TEST_NAME_PREFIX}${pid.toString(36)}-r1-leftover`);
  const state = path.join(dir, 'state');
  mkdirSync(state, { recursive: true });
  writeFileSync(path.join(dir, LAB_MARKER), '');
  run(['mount', '-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', state]);
  return { dir, state };
}

gate.test("a dead run's tmpfs is unmounted and its folder removed; a live run's is kept", () => {
  // A process that has ended: its pid names the crashed run.
  const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  const crashed = labFolder(Number(dead.stdout));
  // This process is alive: what it owns must stay (its own name, as uniqueName() makes them).
  const alive = path.join(tmpdir(), `${uniqueName('r')}-live`);
  mkdirSync(path.join(alive, 'state'), { recursive: true });
  writeFileSync(path.join(alive, LAB_MARKER), '');
  run(['mount', '-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', path.join(alive, 'state')]);
  try {
    const removed = removeLeftovers();
    assert.ok(removed.includes(`mount ${crashed.state}`), removed.join('\n'));
    assert.not.ok(mounted(crashed.state), 'the dead run’s tmpfs is unmounted');
    assert.not.ok(existsSync(crashed.dir), 'and its folder removed');
    assert.ok(mounted(path.join(alive, 'state')), 'the live run’s tmpfs stays');
  } finally {
    for (const d of [crashed.state, path.join(alive, 'state')]) run(['umount', d], { allowFail: true });
    rmSync(crashed.dir, { recursive: true, force: true });
    rmSync(alive, { recursive: true, force: true });
  }
});

gate.test.run();

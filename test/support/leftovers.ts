// Removes namespaces and bpffs pin folders that a crashed earlier test run left behind (those whose pid is gone).
import { readFileSync, rmSync } from 'node:fs';
import { basename } from 'node:path';
import { run, TEST_PREFIX } from './netns.js';

function ownerAlive(name: string): boolean {
  // Names are `ntt<pid in base 36>-<tag><serial>`.
  const m = name.slice(TEST_PREFIX.length).match(/^([0-9a-z]+)-/);
  if (!m) return false;
  const pid = parseInt(m[1]!, 36);
  try { process.kill(pid, 0); return pid !== process.pid; } catch { return false; }
}

if (process.getuid?.() === 0) {
  const list = run(['ip', 'netns', 'list'], { allowFail: true }).stdout;
  for (const line of list.split('\n')) {
    const name = line.split(' ')[0];
    if (name?.startsWith(TEST_PREFIX) && !ownerAlive(name)) {
      run(['ip', 'netns', 'del', name], { allowFail: true });
      console.log(`removed leftover namespace ${name}`);
    }
  }
  // Private bpffs mounts made by pinDir(): `<tmp>/ntt<pid>-p<n>-bpffs`.
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4] ?? '');
  for (const mnt of mounts) {
    const name = basename(mnt);
    if (name.startsWith(TEST_PREFIX) && name.endsWith('-bpffs') && !ownerAlive(name)) {
      run(['umount', mnt], { allowFail: true });
      rmSync(mnt, { recursive: true, force: true });
      console.log(`removed leftover bpffs mount ${mnt}`);
    }
  }
}

// Labs of `notrack demo` and the end-to-end tests whose process died (they clean up after themselves otherwise).
if (process.getuid?.() === 0) {
  const { removeLeftoverLabs } = await import('../../src/demo/leftovers.js');
  for (const line of removeLeftoverLabs()) console.log(`removed leftover lab: ${line}`);
}

// Runs a program (argv) in a private mount namespace where the only bpffs mount is the one given, then exits with its
// status. Usage: unshare --mount --propagation private -- node isolated-bpffs.mjs BPFFS PROGRAM [ARGS...]
//
// Why: xdp-filter (xdp-tools 1.3) pins its maps under the FIRST bpffs mount it finds in /proc/mounts, whatever
// LIBXDP_BPFFS says, so beside other test suites it would pin into their private mounts (or the machine's
// /sys/fs/bpf). Unmounting the other mounts here touches only this private copy of the mount table.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const [keep, ...argv] = process.argv.slice(2);
if (!keep || argv.length === 0) {
  console.error('usage: isolated-bpffs.mjs BPFFS PROGRAM [ARGS...]');
  process.exit(64);
}
const mounts = readFileSync('/proc/self/mounts', 'utf8')
  .split('\n')
  .map((l) => l.split(' '))
  .filter((f) => f[2] === 'bpf' && f[1] !== keep)
  .map((f) => f[1].replace(/\\040/g, ' '));
for (const m of mounts.reverse()) {
  const r = spawnSync('umount', ['-l', m], { stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`isolated-bpffs: could not hide ${m}`);
    process.exit(1);
  }
}
const r = spawnSync(argv[0], argv.slice(1), { stdio: 'inherit', env: { ...process.env, LIBXDP_BPFFS: keep } });
process.exit(r.status ?? 1);

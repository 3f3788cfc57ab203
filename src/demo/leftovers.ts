// Finds and removes what a crashed earlier lab left behind: namespaces, processes in them, its bpffs mount and
// its temporary folder. Lab names carry the creating process's pid, so only labs whose process is gone are touched.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';

/** Every lab name (namespaces, temporary folder) starts with this, then the pid in base 36 and a dash. */
export const LAB_NAME_PREFIX = 'ntd';

/** A file in every lab's temporary folder, so that only folders a lab made are ever removed. */
export const LAB_MARKER = '.notrack-lab';

/** The pid a lab name (`ntd<pid>-<serial>` or `ntd<pid>-<serial>-<role>`) carries, or null for other names. */
export function labOwnerPid(name: string): number | null {
  const m = new RegExp(`^${LAB_NAME_PREFIX}([0-9a-z]+)-[0-9a-z]+(-|$)`).exec(name);
  return m ? parseInt(m[1]!, 36) : null;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** True when `name` belongs to a lab whose process has ended (and is not this process). */
export function abandoned(name: string): boolean {
  const pid = labOwnerPid(name);
  return pid !== null && pid !== process.pid && !processAlive(pid);
}

function run(argv: string[]): { status: number; stdout: string } {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: 15_000 });
  return { status: r.status ?? -1, stdout: r.stdout ?? '' };
}

/** Names from `ip netns list` ("name" or "name (id: 3)" per line). */
export function namespaceNames(): string[] {
  return run(['ip', 'netns', 'list']).stdout.split('\n').map((l) => l.split(' ')[0] ?? '').filter((n) => n !== '');
}

/** Kills the processes still running inside a namespace (by pid), so that deleting it frees everything. */
export function killNamespaceProcesses(ns: string): number {
  const pids = run(['ip', 'netns', 'pids', ns]).stdout.split(/\s+/).filter((p) => /^\d+$/.test(p)).map(Number);
  for (const pid of pids) {
    if (pid === process.pid) continue;
    try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ }
  }
  return pids.length;
}

/** The bpffs mount points listed in /proc/self/mountinfo (field 5, octal escapes undone; type after " - "). */
export function bpffsMounts(): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n')
    .filter((l) => / - bpf /.test(l))
    .map((l) => (l.split(' ')[4] ?? '').replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))))
    .filter((m) => m !== '');
}

/**
 * Removes every namespace, mount and temporary folder of labs whose process is gone; returns one line per thing
 * removed, for the caller to print.
 */
export function removeLeftoverLabs(): string[] {
  if (process.getuid?.() !== 0) return [];
  const removed: string[] = [];
  for (const ns of namespaceNames()) {
    if (!ns.startsWith(LAB_NAME_PREFIX) || !abandoned(ns)) continue;
    killNamespaceProcesses(ns);
    if (run(['ip', 'netns', 'del', ns]).status === 0) removed.push(`namespace ${ns}`);
  }
  const stillMounted = new Set<string>();
  for (const mnt of bpffsMounts()) {
    const folder = basename(dirname(mnt));
    if (dirname(dirname(mnt)) !== tmpdir() || !folder.startsWith(LAB_NAME_PREFIX) || !abandoned(folder)) continue;
    if (run(['umount', mnt]).status === 0) removed.push(`bpffs mount ${mnt}`);
    else stillMounted.add(dirname(mnt));
  }
  for (const entry of readdirSync(tmpdir())) {
    const full = join(tmpdir(), entry);
    if (!entry.startsWith(LAB_NAME_PREFIX) || !abandoned(entry) || stillMounted.has(full)) continue;
    if (!existsSync(join(full, LAB_MARKER))) continue;
    rmSync(full, { recursive: true, force: true });
    removed.push(`folder ${full}`);
  }
  return removed;
}

// Owned names and what a crashed lab left behind. Everything a lab makes (the demo's and e2e labs, and the
// namespaces and private bpffs mounts of the kernel tests, which are labs of one or two namespaces) is named
// `<prefix><pid in base 36>-…` after the process that made it, so only things whose process is gone are removed:
// a second lab or test suite running beside this one is never touched.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';

/** Every lab name (namespaces, temporary folder) starts with this, then the pid in base 36 and a dash. */
export const LAB_NAME_PREFIX = 'ntd';
/** The kernel tests' namespaces, interfaces and private bpffs folders start with this (test/support/netns.ts). */
export const TEST_NAME_PREFIX = 'ntt';
const OWNED_PREFIXES = [LAB_NAME_PREFIX, TEST_NAME_PREFIX];

/** `<prefix><this pid in base 36>-<rest>`: a name leftovers can trace back to this process. */
export function ownedName(prefix: string, rest: string): string {
  return `${prefix}${process.pid.toString(36)}-${rest}`;
}

/** A file in every lab's temporary folder, so that only folders a lab made are ever removed. */
export const LAB_MARKER = '.notrack-lab';

/** The pid an owned name (`ntd<pid>-<serial>[-<role>]`, `ntt<pid>-<tag><serial>[-bpffs]`) carries, or null. */
function ownerPid(name: string): number | null {
  const m = new RegExp(`^(?:${OWNED_PREFIXES.join('|')})([0-9a-z]+)-[0-9a-z]+(-|$)`).exec(name);
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

/** True when `name` is owned by a process that has ended (and is not this process). */
export function abandoned(name: string): boolean {
  const pid = ownerPid(name);
  return pid !== null && pid !== process.pid && !processAlive(pid);
}

function run(argv: string[]): { status: number; stdout: string } {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: 15_000 });
  return { status: r.status ?? -1, stdout: r.stdout ?? '' };
}

/** Names from `ip netns list` ("name" or "name (id: 3)" per line). */
export function namespaceNames(): string[] {
  return run(['ip', 'netns', 'list'])
    .stdout.split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((n) => n !== '');
}

/** Kills the processes still running inside a namespace (by pid), so that deleting it frees everything. */
export function killNamespaceProcesses(ns: string): number {
  const pids = run(['ip', 'netns', 'pids', ns])
    .stdout.split(/\s+/)
    .filter((p) => /^\d+$/.test(p))
    .map(Number);
  for (const pid of pids) {
    if (pid === process.pid) continue;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  return pids.length;
}

/** The mount points of one file system type in /proc/self/mountinfo (field 5, octal escapes undone; type after " - "). */
function mountsOfType(type: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((l) => l.includes(` - ${type} `))
    .map((l) => (l.split(' ')[4] ?? '').replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))))
    .filter((m) => m !== '');
}

/** The bpffs mount points. */
export function bpffsMounts(): string[] {
  return mountsOfType('bpf');
}

const owned = (name: string): boolean => OWNED_PREFIXES.some((p) => name.startsWith(p));

/**
 * Removes every namespace, bpffs mount and temporary folder whose owning process is gone; returns one line per
 * thing removed, for the caller to print. Labs keep their mount in `<tmp>/ntd…/bpffs`, tests in `<tmp>/ntt…-bpffs`.
 */
export function removeLeftovers(): string[] {
  if (process.getuid?.() !== 0) return [];
  const removed: string[] = [];
  for (const ns of namespaceNames()) {
    if (!owned(ns) || !abandoned(ns)) continue;
    killNamespaceProcesses(ns);
    if (run(['ip', 'netns', 'del', ns]).status === 0) removed.push(`namespace ${ns}`);
  }
  const stillMounted = new Set<string>();
  // bpffs pin folders, and the small tmpfs a chaos run puts its state folder on (to fill it).
  for (const mnt of [...bpffsMounts(), ...mountsOfType('tmpfs')]) {
    // The first folder under the temporary folder names the owner.
    const rel = mnt.startsWith(`${tmpdir()}/`) ? mnt.slice(tmpdir().length + 1) : null;
    const top = rel?.split('/')[0];
    if (!top || !owned(top) || !abandoned(top)) continue;
    if (run(['umount', mnt]).status === 0) removed.push(`mount ${mnt}`);
    else stillMounted.add(join(tmpdir(), top));
  }
  for (const entry of readdirSync(tmpdir())) {
    const full = join(tmpdir(), entry);
    if (!owned(entry) || !abandoned(entry) || stillMounted.has(full)) continue;
    // Only what a lab or test made: a lab's folder carries its marker, a test's pin folder is an empty mount point.
    const isLab = existsSync(join(full, LAB_MARKER));
    const isPinFolder =
      entry.startsWith(TEST_NAME_PREFIX) && entry.endsWith('-bpffs') && readdirSync(full).length === 0;
    if (!isLab && !isPinFolder) continue;
    rmSync(full, { recursive: true, force: true });
    removed.push(`folder ${full}`);
  }
  return removed;
}

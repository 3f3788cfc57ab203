// A memory cgroup with a hard limit for the memory fault tests, as the DaemonSet's `resources.limits.memory`
// makes one: cgroup v2 where the memory controller is on the unified hierarchy, else the v1 memory hierarchy
// (this machine's kind: hybrid). Made under the test's own cgroup, named with the pid, removed by remove().
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { uniqueName } from './netns.js';

const ROOT = '/sys/fs/cgroup';

/** Where this process sits: the v2 hierarchy when it has the memory controller, else v1's memory hierarchy. */
function ownCgroup(): { version: 1 | 2; dir: string } | null {
  const lines = readFileSync('/proc/self/cgroup', 'utf8').split('\n');
  const v2 = lines.find((l) => l.startsWith('0::'))?.slice(3);
  const unified = existsSync(path.join(ROOT, 'cgroup.controllers')) ? ROOT : path.join(ROOT, 'unified');
  if (v2 !== undefined && existsSync(path.join(unified, 'cgroup.controllers'))) {
    const controllers = readFileSync(path.join(unified, 'cgroup.controllers'), 'utf8');
    const dir = path.join(unified, v2);
    // A child can be limited only where the memory controller is delegated to children (a systemd scope or
    // service with Delegate=, a container's root).
    const subtree = path.join(dir, 'cgroup.subtree_control');
    if (/\bmemory\b/.test(controllers) && existsSync(subtree) && /\bmemory\b/.test(readFileSync(subtree, 'utf8')))
      return { version: 2, dir };
  }
  const v1 = lines.map((l) => /^\d+:memory:(.*)$/.exec(l)?.[1]).find((p) => p !== undefined);
  if (v1 !== undefined && existsSync(path.join(ROOT, 'memory', v1, 'memory.limit_in_bytes')))
    return { version: 1, dir: path.join(ROOT, 'memory', v1) };
  return null;
}

/** Why memory cgroups cannot be made here, or null (for kernelGate-style checks). */
export function memoryCgroupProblem(): string | null {
  return ownCgroup() === null ? 'no memory cgroup controller (v1 or v2) is available to this process' : null;
}

export class MemoryCgroup {
  private constructor(
    readonly version: 1 | 2,
    readonly dir: string,
  ) {}

  /** A new cgroup limited to `limitBytes` of memory and no swap. */
  static create(limitBytes: number): MemoryCgroup {
    const own = ownCgroup();
    if (own === null) throw new Error(memoryCgroupProblem()!);
    const dir = path.join(own.dir, uniqueName('mem'));
    mkdirSync(dir);
    const group = new MemoryCgroup(own.version, dir);
    if (own.version === 2) {
      writeFileSync(path.join(dir, 'memory.max'), String(limitBytes));
      writeFileSync(path.join(dir, 'memory.swap.max'), '0');
    } else {
      writeFileSync(path.join(dir, 'memory.limit_in_bytes'), String(limitBytes));
      const memsw = path.join(dir, 'memory.memsw.limit_in_bytes');
      if (existsSync(memsw)) writeFileSync(memsw, String(limitBytes));
    }
    return group;
  }

  private read(file: string): string {
    return readFileSync(path.join(this.dir, file), 'utf8');
  }

  /**
   * An argv prefix that joins the cgroup, then execs the rest of the argv: the program runs in the cgroup from
   * its first byte (memory charged before a move would stay with the old cgroup). The path is an argument to
   * the shell, never part of its script.
   */
  joinPrefix(): string[] {
    return ['sh', '-c', 'echo $$ > "$1" && shift && exec "$@"', 'sh', path.join(this.dir, 'cgroup.procs')];
  }

  limit(): number {
    return Number(this.read(this.version === 2 ? 'memory.max' : 'memory.limit_in_bytes').trim());
  }

  /** The most memory the cgroup held at once (v2 memory.peak, v1 memory.max_usage_in_bytes), page cache included. */
  peak(): number {
    return Number(this.read(this.version === 2 ? 'memory.peak' : 'memory.max_usage_in_bytes').trim());
  }

  /** How many processes the kernel's OOM killer killed in the cgroup. */
  oomKills(): number {
    const text = this.read(this.version === 2 ? 'memory.events' : 'memory.oom_control');
    return Number(/^oom_kill (\d+)$/m.exec(text)?.[1] ?? 0);
  }

  /**
   * Kills what is left in the cgroup (only what the test put there: the program it started and its children),
   * then removes it once the kernel has let the last process go.
   */
  remove(): void {
    for (let tries = 0; ; tries++) {
      for (const pid of this.processes()) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // Already gone.
        }
      }
      try {
        rmdirSync(this.dir);
        return;
      } catch (e) {
        if (tries >= 300 || (e as NodeJS.ErrnoException).code !== 'EBUSY') throw e;
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
      }
    }
  }

  /** The processes in the cgroup now. */
  processes(): number[] {
    return this.read('cgroup.procs')
      .split('\n')
      .filter((l) => l !== '')
      .map(Number);
  }
}

/** The peak resident set size of a live process (VmHWM), in bytes. */
export function peakRss(pid: number): number {
  const kb = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Number(kb ?? 0) * 1024;
}

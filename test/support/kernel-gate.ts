// Whether a file's kernel tests run here: one gate instead of a skip check in every file. Off the supported
// platform (no root, no BPF) the tests skip and say why; on it (root, or CI) a missing prerequisite is a failure.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { test as uvuTest } from 'uvu';
import { clangMissingReason } from './bpf-objects.js';

export interface KernelNeeds {
  /** Programs that must be on PATH (scripts/setup.sh installs them all). */
  tools?: readonly string[];
  /** The file compiles C for BPF. */
  clang?: boolean;
}

export interface KernelGate {
  /** `test` when the file's tests run here; otherwise each test is recorded as skipped. */
  readonly test: typeof uvuTest;
  /** True when the tests run: hooks and fixtures that touch the kernel go behind it. */
  readonly runs: boolean;
  /** Why they do not run, or null. */
  readonly reason: string | null;
}

/** Why kernel tests cannot run on this machine at all (not root, no bpffs, no ip), or null. */
export function kernelSkipReason(): string | null {
  if (process.getuid?.() !== 0) return 'kernel tests need root (run as root or in CI)';
  if (!existsSync('/proc/filesystems') || !readFileSync('/proc/filesystems', 'utf8').includes('bpf'))
    return 'the kernel has no bpffs';
  return null;
}

function onPath(tool: string): boolean {
  return spawnSync('sh', ['-c', 'command -v "$1"', 'sh', tool], { stdio: 'ignore' }).status === 0;
}

/**
 * The gate of one test file (`name` is printed with the reason). A machine without root or BPF skips with the
 * reason printed. As root, or in CI, nothing may skip: a missing tool or compiler becomes one failing test that
 * names it, and the file's other tests are recorded as skipped (which the runner also counts as a failure there).
 */
export function kernelGate(name: string, needs: KernelNeeds = {}): KernelGate {
  const platform = kernelSkipReason();
  const missing = ['ip', ...(needs.tools ?? [])].filter((t) => !onPath(t)).map((t) => `${t} is not installed`);
  if (needs.clang) {
    const clang = clangMissingReason();
    if (clang) missing.push(clang);
  }
  const reason = platform ?? (missing.length ? `${missing.join('; ')} (scripts/setup.sh installs it)` : null);
  if (reason === null) return { test: uvuTest, runs: true, reason };

  const mayRun = platform === null || process.env.CI === 'true';
  if (mayRun) {
    uvuTest(`${name}: every prerequisite of these kernel tests is here`, () => {
      throw new Error(reason);
    });
  } else {
    console.log(`${name}: skipped: ${reason}`);
  }
  const skip = ((_name: string, _fn: unknown) => uvuTest.skip()) as unknown as typeof uvuTest;
  return { test: Object.assign(skip, { skip: uvuTest.skip, only: skip }) as typeof uvuTest, runs: false, reason };
}

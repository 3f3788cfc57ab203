// BPF objects compiled from C for the libbpf kernel tests: clang for the BPF target, into a temporary folder.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Why C sources cannot be compiled here, or null when clang is installed. */
export function clangSkipReason(): string | null {
  return spawnSync('clang', ['--version']).status === 0 ? null : 'clang is not installed';
}

/** A temporary folder that C sources are compiled in; `cleanup()` removes it with every object. */
export interface BpfBuildDir {
  readonly path: string;
  /** Compiles `source` as `<name>.c` with clang for the BPF target and returns the object's path. */
  compile(name: string, source: string): string;
  cleanup(): void;
}

export function bpfBuildDir(tag: string): BpfBuildDir {
  const path = mkdtempSync(join(tmpdir(), `notrack-${tag}-`));
  return {
    path,
    compile: (name, source) => {
      const src = join(path, `${name}.c`);
      const obj = join(path, `${name}.o`);
      writeFileSync(src, source);
      const r = spawnSync('clang', ['-O2', '-g', '-target', 'bpf', ...archIncludes(), '-c', src, '-o', obj], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`clang failed for ${name}.c:\n${r.stderr}`);
      return obj;
    },
    cleanup: () => rmSync(path, { recursive: true, force: true }),
  };
}

/** The folder holding asm/types.h for this architecture (Debian multiarch). */
function archIncludes(): string[] {
  const triple = process.arch === 'arm64' ? 'aarch64-linux-gnu' : 'x86_64-linux-gnu';
  return existsSync(`/usr/include/${triple}`) ? [`-I/usr/include/${triple}`] : [];
}

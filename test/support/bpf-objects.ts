// BPF objects compiled from C for tests, with the project's one clang recipe (scripts/bpf-clang.mjs).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clangMissingReason, compileBpf } from '../../scripts/bpf-clang.mjs';

export { clangMissingReason };

/** A temporary folder that C sources are compiled in; `cleanup()` removes it with every object. */
export interface BpfBuildDir {
  readonly path: string;
  /** Compiles `source` as `<name>.c` and returns the object's path. */
  compile(name: string, source: string): string;
  cleanup(): void;
}

export function bpfBuildDir(tag: string): BpfBuildDir {
  const path = mkdtempSync(join(tmpdir(), `notrack-${tag}-`));
  return {
    path,
    compile: (name, source) => {
      const src = join(path, `${name}.c`);
      const out = join(path, `${name}.o`);
      writeFileSync(src, source);
      compileBpf({ src, out });
      return out;
    },
    cleanup: () => rmSync(path, { recursive: true, force: true }),
  };
}

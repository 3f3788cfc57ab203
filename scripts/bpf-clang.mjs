// The one clang recipe for BPF objects: used by the build (scripts/build-bpf.mjs) and by every test that compiles C.
import { spawnSync } from 'node:child_process';
import { existsSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';

/** The compiler: $CLANG or clang on PATH. */
export const CLANG = process.env.CLANG ?? 'clang';

/** Raised when clang is missing or a compile fails; `output` holds what clang printed. */
export class BpfCompileError extends Error {
  constructor(message, output = '') {
    super(output ? `${message}\n${output}` : message);
    this.name = 'BpfCompileError';
    this.output = output;
  }
}

let archInclude;

/**
 * The Debian multiarch include folder (e.g. /usr/include/x86_64-linux-gnu), or null when there is none.
 * <linux/types.h> includes <asm/types.h>, which lives there, and `-target bpf` does not search it by itself.
 */
export function multiarchInclude() {
  if (archInclude !== undefined) return archInclude;
  const r = spawnSync(CLANG, ['-print-multiarch'], { encoding: 'utf8' });
  const fromClang = r.status === 0 ? r.stdout.trim() : '';
  const guess = { x64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu' }[process.arch];
  archInclude = null;
  for (const triple of [fromClang, guess]) {
    if (triple && existsSync(path.join('/usr/include', triple, 'asm'))) {
      archInclude = path.join('/usr/include', triple);
      break;
    }
  }
  return archInclude;
}

/** Why C cannot be compiled for BPF here, or null when clang runs. */
export function clangMissingReason() {
  const r = spawnSync(CLANG, ['--version'], { encoding: 'utf8' });
  if (r.error) return `${CLANG} is not installed (${r.error.message})`;
  return r.status === 0 ? null : `${CLANG} --version failed: ${r.stderr.trim()}`;
}

/**
 * The argv (without the compiler) that compiles `src` to the BPF object `out`: -O2 with BTF (-g), BPF ISA v3,
 * warnings as errors, the given include folders, then the multiarch folder after the system ones.
 */
export function bpfClangArgs({ src, out, includeDirs = [], warningsAsErrors = true }) {
  const arch = multiarchInclude();
  return [
    '-O2',
    '-g',
    '-target',
    'bpf',
    '-mcpu=v3',
    ...(warningsAsErrors ? ['-Wall', '-Werror'] : []),
    ...includeDirs.flatMap((d) => ['-I', d]),
    ...(arch ? ['-idirafter', arch] : []),
    '-c',
    src,
    '-o',
    out,
  ];
}

/**
 * Compiles one C file to a BPF object. The object appears at `out` only when clang succeeded (it is written to a
 * temporary name first). Returns what clang printed on stderr (warnings); throws BpfCompileError on failure.
 */
export function compileBpf(options) {
  const tmp = `${options.out}.${process.pid}.tmp`;
  const r = spawnSync(CLANG, bpfClangArgs({ ...options, out: tmp }), { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    rmSync(tmp, { force: true });
    const output = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim();
    const why = r.error ? `: ${r.error.message}` : ` (exit ${r.status})`;
    throw new BpfCompileError(`${CLANG} failed on ${options.src}${why}`, output);
  }
  renameSync(tmp, options.out);
  return r.stderr ?? '';
}

#!/usr/bin/env node
// Compiles every bpf/*.c into build/bpf/*.o with clang (BPF target, BTF included), skipping up-to-date objects.
// Usage: node scripts/build-bpf.mjs [--force]
// An object is up to date when it is newer than its .c, every bpf/*.h and this script. Exits 1 with clang's own
// output when a compile fails; the half-written object is never left in place.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const srcDir = path.join(root, 'bpf');
const outDir = path.join(root, 'build', 'bpf');
const clang = process.env.CLANG ?? 'clang';
const force = process.argv.includes('--force');

function fail(message) {
  console.error(`build-bpf: ${message}`);
  process.exit(1);
}

// <linux/types.h> includes <asm/types.h>, which lives in the multiarch folder that `-target bpf` does not search.
function multiarchInclude() {
  const r = spawnSync(clang, ['-print-multiarch'], { encoding: 'utf8' });
  if (r.error) fail(`cannot run ${clang}: ${r.error.message}`);
  const fromClang = r.status === 0 ? r.stdout.trim() : '';
  const guess = { x64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu' }[process.arch];
  for (const triple of [fromClang, guess]) {
    if (triple && existsSync(path.join('/usr/include', triple, 'asm'))) return path.join('/usr/include', triple);
  }
  return null;
}

const sources = readdirSync(srcDir).filter((f) => f.endsWith('.c')).sort();
if (sources.length === 0) fail(`no .c files in ${srcDir}`);
const inputsMtime = Math.max(
  statSync(fileURLToPath(import.meta.url)).mtimeMs,
  ...readdirSync(srcDir).filter((f) => f.endsWith('.h')).map((f) => statSync(path.join(srcDir, f)).mtimeMs),
);

mkdirSync(outDir, { recursive: true });
let includeArch;
let built = 0;
for (const file of sources) {
  const src = path.join(srcDir, file);
  const out = path.join(outDir, file.replace(/\.c$/, '.o'));
  if (!force && existsSync(out) && statSync(out).mtimeMs >= Math.max(inputsMtime, statSync(src).mtimeMs)) continue;

  if (includeArch === undefined) includeArch = multiarchInclude();
  const tmp = `${out}.${process.pid}.tmp`;
  const args = [
    '-O2', '-g', '-target', 'bpf', '-mcpu=v3',
    '-Wall', '-Werror',
    '-I', srcDir,
    ...(includeArch ? ['-idirafter', includeArch] : []),
    '-c', src, '-o', tmp,
  ];
  const r = spawnSync(clang, args, { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    rmSync(tmp, { force: true });
    const output = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim();
    fail(`${clang} failed on bpf/${file}${r.error ? `: ${r.error.message}` : ` (exit ${r.status})`}\n${output}`);
  }
  if (r.stderr.trim()) process.stderr.write(r.stderr);
  renameSync(tmp, out);
  built += 1;
  console.log(`build-bpf: bpf/${file} -> ${path.relative(root, out)}`);
}
if (built === 0) console.log('build-bpf: objects are up to date');

#!/usr/bin/env node
// Compiles every bpf/*.c into build/bpf/*.o with clang (BPF target, BTF included), skipping up-to-date objects.
// Usage: node scripts/build-bpf.mjs [--force]
// An object is up to date when it is newer than its .c, every bpf/*.h and this script. Exits 1 with clang's own
// output when a compile fails; the half-written object is never left in place.
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { BpfCompileError, compileBpf } from './bpf-clang.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const srcDir = path.join(root, 'bpf');
const outDir = path.join(root, 'build', 'bpf');
const force = process.argv.includes('--force');

function fail(message) {
  console.error(`build-bpf: ${message}`);
  process.exit(1);
}

const sources = readdirSync(srcDir)
  .filter((f) => f.endsWith('.c'))
  .sort();
if (sources.length === 0) fail(`no .c files in ${srcDir}`);
const recipe = [fileURLToPath(import.meta.url), fileURLToPath(new URL('./bpf-clang.mjs', import.meta.url))];
const inputsMtime = Math.max(
  ...recipe.map((f) => statSync(f).mtimeMs),
  ...readdirSync(srcDir)
    .filter((f) => f.endsWith('.h'))
    .map((f) => statSync(path.join(srcDir, f)).mtimeMs),
);

mkdirSync(outDir, { recursive: true });
let built = 0;
for (const file of sources) {
  const src = path.join(srcDir, file);
  const out = path.join(outDir, file.replace(/\.c$/, '.o'));
  if (!force && existsSync(out) && statSync(out).mtimeMs >= Math.max(inputsMtime, statSync(src).mtimeMs)) continue;
  try {
    const warnings = compileBpf({ src, out, includeDirs: [srcDir] });
    if (warnings.trim()) process.stderr.write(warnings);
  } catch (e) {
    if (e instanceof BpfCompileError) fail(e.message);
    throw e;
  }
  built += 1;
  console.log(`build-bpf: bpf/${file} -> ${path.relative(root, out)}`);
}
if (built === 0) console.log('build-bpf: objects are up to date');

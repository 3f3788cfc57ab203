#!/usr/bin/env node
// Bundles the compiled CLI (dist/cli/main.js and every module it imports) into a few files under dist/bundle/, which
// bin/notrack.js runs. Node 20 resolves, reads and links each ES module of its own: the ~150 modules an apply imports
// cost ~0.1 s of CPU on every start, a fifth of an apply that finds nothing to change. One bundle per command
// (esbuild's code splitting keeps each command's dynamic import a chunk of its own, loaded when the command runs)
// costs a few files instead. Packages stay external (node_modules as installed). dist/ keeps the unbundled modules:
// the tests, the demo's child processes and anything that imports dist/ directly use those.
//
// A module that finds files next to itself through import.meta.url (the schemas, the BPF objects, build-info.json,
// the demo's child programs) keeps finding them: each import.meta.url is rewritten to the URL of that module's own
// file in dist/, relative to the bundle, so the package can still be installed anywhere.
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(root, 'dist');
const outdir = path.join(dist, 'bundle');

/** import.meta.url as the module's own file in dist/ (relative to the chunk that holds it, all in one folder). */
const ownUrl = {
  name: 'own-import-meta-url',
  setup(b) {
    b.onLoad({ filter: /\.js$/ }, (args) => {
      const text = readFileSync(args.path, 'utf8');
      if (!args.path.startsWith(dist + path.sep) || !text.includes('import.meta.url')) return undefined;
      const rel = path.relative(outdir, args.path).split(path.sep).join('/');
      const url = `new URL(${JSON.stringify(rel)}, import.meta.url).href`;
      return { contents: text.replaceAll('import.meta.url', url), loader: 'js' };
    });
  },
};

rmSync(outdir, { recursive: true, force: true });
try {
  await build({
    entryPoints: { main: path.join(dist, 'cli', 'main.js') },
    outdir,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    packages: 'external',
    chunkNames: 'chunk-[hash]',
    // The tsc output's source maps would point a stack at dist/; names are kept (no minifying), so stacks read.
    sourcemap: false,
    logLevel: 'warning',
    plugins: [ownUrl],
  });
} catch (e) {
  console.error(`build-bundle: ${e.message}`);
  process.exit(1);
}

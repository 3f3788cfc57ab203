#!/usr/bin/env node
// Runs the test suite: unit tests, then kernel tests (root only), with uvu under tsx; ends with one summary line.
// Usage: node scripts/run-tests.mjs [--unit|--kernel] [pattern]
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const only = args.find((a) => a === '--unit' || a === '--kernel');
const pattern = args.find((a) => !a.startsWith('--'));
const uvu = path.join(root, 'node_modules', 'uvu', 'bin.js');

const groups = [
  { name: 'unit', dir: 'test', ignore: '^kernel|^e2e', when: only !== '--kernel' },
  { name: 'kernel', dir: 'test/kernel', ignore: null, when: only !== '--unit' },
  { name: 'e2e', dir: 'test/e2e', ignore: null, when: only === undefined },
];

// Remove what a crashed earlier run may have left (namespaces, pins) before anything else runs.
if (only !== '--unit') {
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(root, 'test/support/leftovers.ts')], {
    cwd: root, stdio: 'inherit',
  });
  if (r.status !== 0) console.error('warning: clean-up of leftovers from an earlier run failed');
}

let passed = 0, failed = 0, skipped = 0, exit = 0;
for (const g of groups) {
  if (!g.when) continue;
  const argv = ['--import', 'tsx', uvu, g.dir, pattern ?? '\\.test\\.ts$'];
  if (g.ignore) argv.push('-i', g.ignore);
  console.log(`\n== ${g.name} tests ==`);
  const r = spawnSync(process.execPath, argv, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  process.stdout.write(r.stdout ?? '');
  const num = (label) => Number((r.stdout ?? '').match(new RegExp(`${label}:\\s+(\\d+)`))?.[1] ?? 0);
  const total = num('Total'), ok = num('Passed'), skip = num('Skipped');
  passed += ok; skipped += skip; failed += Math.max(0, total - ok - skip);
  if (r.status !== 0) { exit = 1; if (total === ok + skip) failed += 1; }
}
console.log(`\n${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(exit);

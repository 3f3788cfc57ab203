#!/usr/bin/env node
// Runs the test suite, one child process per test file: unit tests, then kernel and end-to-end tests (root only).
// Each group ends with its passed, failed, skipped and not-run counts; a file that aborts names the tests it left.
// Usage: node scripts/run-tests.mjs [--unit|--kernel|--e2e|--fault|--chaos] [--jobs N] [pattern]
//
// Exit status 1 when any test failed or did not run, or when any was skipped on the supported platform (root, as
// in CI): there a skip means a missing prerequisite that scripts/setup.sh should have installed.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const only = args.find((a) => ['--unit', '--kernel', '--e2e', '--fault', '--chaos'].includes(a));
const jobsArg = args.indexOf('--jobs');
const jobs = jobsArg >= 0 ? Number(args[jobsArg + 1]) : Math.min(2, availableParallelism());
const pattern = args.find((a, i) => !a.startsWith('--') && args[i - 1] !== '--jobs');
const isRoot = process.getuid?.() === 0;
/** On the supported platform every test must run: as root (CI runs as root), a skip is a failure. */
const skipsFail = isRoot || process.env.CI === 'true';

/** Every *.test.ts under `dir`, sorted, except under the folders in `exclude`. */
function testFiles(dir, exclude = []) {
  const out = [];
  const walk = (d) => {
    for (const name of readdirSync(d).sort()) {
      const full = path.join(d, name);
      if (statSync(full).isDirectory()) {
        if (!exclude.includes(path.relative(root, full))) walk(full);
      } else if (name.endsWith('.test.ts') && (!pattern || new RegExp(pattern).test(path.relative(root, full)))) {
        out.push(full);
      }
    }
  };
  walk(path.join(root, dir));
  return out;
}

const groups = [
  // Unit files do not share kernel state, so they run side by side; kernel and e2e files one at a time.
  {
    name: 'unit',
    files: () => testFiles('test', ['test/kernel', 'test/e2e', 'test/fault', 'test/chaos']),
    parallel: jobs,
    when: !only || only === '--unit',
  },
  { name: 'kernel', files: () => testFiles('test/kernel'), parallel: 1, when: !only || only === '--kernel' },
  { name: 'e2e', files: () => testFiles('test/e2e'), parallel: 1, when: !only || only === '--e2e' },
  // Fault tests (issue 12): the real CLI and agent in namespaces under faults, one at a time.
  { name: 'fault', files: () => testFiles('test/fault'), parallel: 1, when: !only || only === '--fault' },
  // The 3-minute chaos run (issue 12): random faults against the real agent, the five figures asserted.
  { name: 'chaos', files: () => testFiles('test/chaos'), parallel: 1, when: !only || only === '--chaos' },
];

const resultDir = mkdtempSync(path.join(tmpdir(), 'notrack-test-results-'));
let serial = 0;

/** Runs one file in its own process; resolves with its counts and what it printed (when buffered). */
function runFile(file, stream) {
  serial += 1;
  const resultPath = path.join(resultDir, `${serial}.json`);
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(root, 'scripts/test-runner/run-file.mjs'), file],
    {
      cwd: root,
      env: { ...process.env, NOTRACK_TEST_RESULT: resultPath, FORCE_COLOR: process.env.FORCE_COLOR ?? '0' },
      stdio: ['ignore', stream ? 'inherit' : 'pipe', stream ? 'inherit' : 'pipe'],
    },
  );
  let output = '';
  child.stdout?.on('data', (d) => {
    output += d;
  });
  child.stderr?.on('data', (d) => {
    output += d;
  });
  return new Promise((resolve) => {
    child.on('close', (code, signal) => {
      let r = null;
      try {
        r = JSON.parse(readFileSync(resultPath, 'utf8'));
      } catch {
        /* the child died before writing */
      }
      const counts = r ?? { registered: 0, passed: 0, failed: 0, skipped: 0, phase: 'start', error: null };
      const notRun = Math.max(0, counts.registered - counts.passed - counts.failed - counts.skipped);
      let problem = counts.error;
      if (!problem && (code !== 0 || signal)) problem = `exited with ${signal ?? `status ${code}`}`;
      if (!r) problem = `${problem ?? 'it ended'} before registering any test`;
      resolve({
        file,
        passed: counts.passed,
        failed: counts.failed,
        skipped: counts.skipped,
        notRun,
        problem,
        output,
        aborted: !r || counts.phase !== 'done',
      });
    });
  });
}

const rel = (f) => path.relative(root, f);

async function runGroup(group) {
  const files = group.files();
  const results = [];
  const queue = [...files];
  const stream = group.parallel === 1;
  const worker = async () => {
    for (let file = queue.shift(); file; file = queue.shift()) {
      if (stream) console.log(`\n-- ${rel(file)}`);
      const r = await runFile(file, stream);
      if (!stream) process.stdout.write(`\n-- ${rel(file)}\n${r.output}`);
      results.push(r);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, group.parallel) }, worker));
  const sum = (k) => results.reduce((n, r) => n + r[k], 0);
  return {
    name: group.name,
    files: files.length,
    passed: sum('passed'),
    failed: sum('failed'),
    skipped: sum('skipped'),
    notRun: sum('notRun'),
    results,
  };
}

// Remove what a crashed earlier run may have left (namespaces, pins, labs) before anything else runs; only things
// whose creating process is gone are touched, so a second suite running beside this one is safe.
if (only !== '--unit' && isRoot) {
  const r = await new Promise((resolve) =>
    spawn(process.execPath, ['--import', 'tsx', path.join(root, 'test/support/leftovers.ts')], {
      cwd: root,
      stdio: 'inherit',
    }).on('close', resolve),
  );
  if (r !== 0) console.error('warning: clean-up of leftovers from an earlier run failed');
}

const summaries = [];
try {
  for (const g of groups) {
    if (!g.when) continue;
    console.log(`\n== ${g.name} tests ==`);
    summaries.push(await runGroup(g));
  }
} finally {
  rmSync(resultDir, { recursive: true, force: true });
}

let bad = false;
console.log('\n== summary ==');
for (const s of summaries) {
  for (const r of s.results) {
    if (r.problem || r.aborted) {
      const why = (r.problem ?? 'did not finish').split('\n').slice(0, 2).join(' / ');
      console.log(`${s.name}: ${rel(r.file)}: ${why}${r.notRun ? `; ${r.notRun} test(s) did not run` : ''}`);
    }
    if (r.skipped && skipsFail)
      console.log(
        `${s.name}: ${rel(r.file)}: ${r.skipped} test(s) skipped (a failure here: run scripts/setup.sh as root)`,
      );
  }
}
for (const s of summaries) {
  const line = `${s.name}: ${s.passed} passed, ${s.failed} failed, ${s.skipped} skipped, ${s.notRun} not run (${s.files} files)`;
  console.log(line);
  const aborted = s.results.some((r) => r.problem || r.aborted);
  if (s.failed || s.notRun || aborted || (skipsFail && s.skipped)) bad = true;
}
const total = (k) => summaries.reduce((n, s) => n + s[k], 0);
console.log(
  `total: ${total('passed')} passed, ${total('failed')} failed, ${total('skipped')} skipped, ${total('notRun')} not run`,
);
process.exit(bad ? 1 : 0);

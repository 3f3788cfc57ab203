// Runs one uvu test file in this process and writes its counts to the file named by $NOTRACK_TEST_RESULT:
// once after the file is imported (so a later crash still leaves how many tests it registered) and again at exit.
// Usage (from run-tests.mjs): node --import tsx scripts/test-runner/run-file.mjs <test file>
import { register } from 'node:module';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

register('./hooks.mjs', import.meta.url);
globalThis.UVU_DEFER = 1;
const { exec, tally } = await import('uvu');

const file = path.resolve(process.argv[2]);
const resultPath = process.env.NOTRACK_TEST_RESULT;
let phase = 'import';
let error = null;

function save() {
  if (resultPath) writeFileSync(resultPath, JSON.stringify({ ...tally, phase, error }));
}
process.on('exit', () => {
  if (phase !== 'done' && error === null) error = 'the process exited before its tests finished';
  save();
});
process.on('uncaughtException', (e) => {
  error = `uncaught exception while ${phase === 'import' ? 'importing' : 'running'}: ${e?.stack ?? e}`;
  console.error(error);
  process.exit(1);
});
process.on('unhandledRejection', (e) => {
  error = `unhandled rejection while ${phase === 'import' ? 'importing' : 'running'}: ${e?.stack ?? e}`;
  console.error(error);
  process.exit(1);
});

globalThis.UVU_QUEUE.push([path.basename(file)]);
globalThis.UVU_INDEX = 0;
try {
  await import(pathToFileURL(file).href);
} catch (e) {
  error = `the file failed to import: ${e?.stack ?? e}`;
  console.error(error);
  process.exit(1);
}
phase = 'run';
save();
await exec(false);
phase = 'done';

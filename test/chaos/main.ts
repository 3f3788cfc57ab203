// `npm run chaos`: one bounded chaos run against the real agent in network namespaces (issue 12). Prints the seed
// first, the per-fault log as it goes, then the five figures as one Markdown table; exits 1 when a goal is missed.
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { removeLeftovers } from '../../src/demo/leftovers.js';
import { kernelSkipReason } from '../support/kernel-gate.js';
import { FAULT_KINDS, type FaultKind } from './faults.js';
import { figuresTable } from './figures.js';
import { runChaos } from './run-chaos.js';

const HELP = `Usage: npm run chaos -- [--minutes N] [--seed S] [--only KIND,...]

Runs the real notrack agent on a lab host (network namespaces, a real Git server over HTTP) with a steady allowed
UDP flow and a deny-listed flood, injects seeded random faults (interface flaps and re-creation, Git down, slow,
garbage and force-pushed, kill -9 of the agent, a full state disk, a concurrent apply, lock-out commits), then stops
them and checks that the host converged. Reports the longest unprotected time, lock-outs that did not roll back,
flood packets past XDP outside unprotected windows, allowed packets lost outside rollback windows, and convergence.

  --minutes N   how long the whole run takes, 2 to 10 (default 10)
  --seed S      the seed of the fault sequence and its parameters (default: random; printed at start)
  --only K,...  only these kinds of fault: ${FAULT_KINDS.join(', ')}
  -h, --help    this text

Needs root. Everything happens in namespaces it creates and is removed at the end, after Ctrl-C too; what a
crashed earlier run left is removed at start. Exit status: 0 every goal met, 1 a goal missed, 2 usage or setup.
`;

function usage(message: string): never {
  process.stderr.write(`chaos: ${message}\n\n${HELP}`);
  process.exit(2);
}

let values: { minutes?: string; seed?: string; only?: string; help?: boolean };
try {
  ({ values } = parseArgs({
    options: {
      minutes: { type: 'string' },
      seed: { type: 'string' },
      only: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  }));
} catch (e) {
  usage((e as Error).message);
}
if (values.help) {
  process.stdout.write(HELP);
  process.exit(0);
}
const minutes = Number(values.minutes ?? '10');
if (!Number.isFinite(minutes) || minutes < 2 || minutes > 10)
  usage(`--minutes must be a number from 2 to 10, not ${values.minutes}`);
const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 32) : Number(values.seed);
if (!Number.isInteger(seed) || seed < 0 || seed >= 2 ** 32)
  usage(`--seed must be an integer from 0 to 4294967295, not ${values.seed}`);
const kinds = values.only?.split(',').map((k) => k.trim()) as FaultKind[] | undefined;
const unknown = (kinds ?? []).filter((k) => !FAULT_KINDS.includes(k));
if (unknown.length) usage(`--only: no fault named ${unknown.join(', ')}`);
const cannot = kernelSkipReason();
if (cannot) usage(`cannot run here: ${cannot}`);

for (const line of removeLeftovers()) console.log(`removed leftover ${line}`);
console.log(
  `chaos: seed ${seed}, ${minutes} minutes (repeat with: npm run chaos -- --seed ${seed} --minutes ${minutes}${values.only ? ` --only ${values.only}` : ''})`,
);

const stop = new AbortController();
let interrupted = 0;
process.on('SIGINT', () => {
  interrupted += 1;
  if (interrupted === 1) {
    console.log('chaos: interrupted; ending the current fault, then removing the lab (Ctrl-C again to force)');
    stop.abort();
  } else {
    // The lab's names carry this pid: once it is gone, the next run (or the test runner) removes what is left.
    console.log('chaos: forced exit; the next run removes what is left');
    process.exit(130);
  }
});

try {
  const result = await runChaos({
    minutes,
    seed,
    log: (l) => console.log(l),
    signal: stop.signal,
    ...(kinds ? { kinds } : {}),
  });
  const f = result.figures;
  console.log(
    `\n## Chaos run: seed ${seed}, ${minutes} minutes, ${result.faults.length} faults, ${(result.durationMs / 1000).toFixed(0)} s\n`,
  );
  console.log(figuresTable(f));
  if (!result.rollbackBuilt)
    console.log('\n(This build has no automatic rollback: a lock-out stays until a person acts.)');
  console.log('\nUnprotected windows:');
  for (const w of f.windows)
    console.log(
      `- +${((w.start - result.observations.startedAt) / 1000).toFixed(1)}s ${w.durationMs} ms: ${w.fault ?? 'no fault'}`,
    );
  if (f.windows.length === 0) console.log('- none');
  if (f.feedLostExamples.length)
    console.log(
      `\nAllowed-flow numbers lost outside any excusing window (first ${f.feedLostExamples.length}): ${f.feedLostExamples.map((x) => `${x.seq} at +${((x.t - result.observations.startedAt) / 1000).toFixed(1)}s`).join(', ')}`,
    );
  const agentLog = path.join(tmpdir(), `notrack-chaos-${seed}-agent.jsonl`);
  writeFileSync(agentLog, result.agentLog.map((l) => JSON.stringify(l)).join('\n') + '\n');
  const observed = path.join(tmpdir(), `notrack-chaos-${seed}-observations.json`);
  const { floodArrivals, feedMarks, ...rest } = result.observations;
  writeFileSync(observed, JSON.stringify({ ...rest, floodArrivals, windows: f.windows }, null, 1));
  console.log(`\nThe agent's log (every process; t is when the run read the line): ${agentLog}`);
  console.log(`What the run observed (link samples, faults, lock-outs, flood arrivals): ${observed}`);
  const problems = result.faults.filter((x) => x.problem);
  if (problems.length) {
    console.log('\nFaults that showed a problem:');
    for (const p of problems) console.log(`- ${p.kind}: ${p.problem}`);
  }
  const missed = f.goals.filter((g) => !g.met).length + problems.length;
  process.exit(stop.signal.aborted ? 130 : missed ? 1 : 0);
} catch (e) {
  console.error(`chaos: the run failed: ${(e as Error).stack ?? String(e)}`);
  process.exit(2);
}

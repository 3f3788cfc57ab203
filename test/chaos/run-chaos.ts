// One bounded chaos run (issue 12): the lab up with the real agent, a steady allowed flow and a deny-listed flood,
// seeded random faults until the time is nearly up, then the faults stop and the run checks that the host
// converged; the figures come from what the observer saw in the kernel and what the traffic counted.
import { RECONCILE_REASONS } from '../../src/agent/reconciler.js';
import { mulberry32 } from '../support/seeded-random.js';
import { ChaosLab, type AgentLine } from './chaos-lab.js';
import { FAULT_BUDGET_MS, FAULT_KINDS, backTo, runFault, type FaultContext, type FaultKind } from './faults.js';
import { chaosFigures, type ChaosFigures, type ChaosObservations, type FaultRecord } from './figures.js';
import { chaosPolicy } from './policy-remote.js';

export interface ChaosOptions {
  minutes: number;
  seed: number;
  /** Progress lines (the per-fault log as it happens). */
  log: (line: string) => void;
  /** Set when the run should end early (Ctrl-C): no new fault starts, the lab is taken down. */
  signal?: AbortSignal;
  /** Only these kinds of fault (default: all). */
  kinds?: readonly FaultKind[];
}

export interface ChaosResult {
  seed: number;
  minutes: number;
  faults: FaultRecord[];
  figures: ChaosFigures;
  observations: ChaosObservations;
  /** Whether the product has automatic rollback (the reconcile reason RolledBack exists). */
  rollbackBuilt: boolean;
  durationMs: number;
  /** Every line the agent logged (all its processes), for a closer look at a missed goal. */
  agentLog: AgentLine[];
}

/** Time kept at the end for stopping the faults and checking convergence. */
const CONVERGE_RESERVE_MS = 50_000;

/** The fault sequence: a policy change, a lock-out, every other kind once in a seeded order, then at random. */
function nextKind(rng: () => number, done: number, left: FaultKind[], kinds: readonly FaultKind[]): FaultKind {
  if (done === 0 && kinds.includes('policy-change')) return 'policy-change';
  // The lock-out second: it is the longest, and a short run must not end before it.
  if (done === 1 && left.includes('lockout')) return left.splice(left.indexOf('lockout'), 1)[0]!;
  if (left.length > 0) return left.splice(Math.floor(rng() * left.length), 1)[0]!;
  return kinds[Math.floor(rng() * kinds.length)]!;
}

export function hasRollback(): boolean {
  return Object.keys(RECONCILE_REASONS).includes('RolledBack');
}

export async function runChaos(opts: ChaosOptions): Promise<ChaosResult> {
  const startedAt = Date.now();
  const deadline = startedAt + opts.minutes * 60_000;
  const rng = mulberry32(opts.seed);
  const rollbackBuilt = hasRollback();
  const t = (): string => `+${((Date.now() - startedAt) / 1000).toFixed(1)}s`;
  const chaos = await ChaosLab.create(opts.log);
  try {
    const ctx: FaultContext = { chaos, rng, good: '', rollbackBuilt, lockouts: [] };
    const first = chaos.agentLog.find((l) => l.msg === 'reconcile finished' && l.status === 'Ready');
    ctx.good = first?.appliedRevision?.commit ?? '';
    opts.log(
      `${t()} agent Ready at ${ctx.good.slice(0, 8)}; faults until +${((deadline - CONVERGE_RESERVE_MS - startedAt) / 1000).toFixed(0)}s`,
    );

    const faults: FaultRecord[] = [];
    const kinds = opts.kinds ?? FAULT_KINDS;
    const left: FaultKind[] = kinds.filter((k) => k !== 'policy-change');
    for (;;) {
      if (opts.signal?.aborted) break;
      const remaining = deadline - CONVERGE_RESERVE_MS - Date.now();
      let kind = nextKind(rng, faults.length, left, kinds);
      if (FAULT_BUDGET_MS[kind] > remaining) {
        // Put it back for a later run of this seed to see the same order; pick the shortest that still fits.
        const fits = kinds.filter((k) => FAULT_BUDGET_MS[k] <= remaining);
        if (fits.length === 0) break;
        if (left.length && !left.includes(kind)) left.push(kind);
        kind = fits[Math.floor(rng() * fits.length)]!;
        const i = left.indexOf(kind);
        if (i >= 0) left.splice(i, 1);
      }
      const record = await runFault(kind, ctx);
      faults.push(record);
      opts.log(
        `#${faults.length} ${t()} ${kind} (${((record.end - record.start) / 1000).toFixed(1)} s): ${record.detail}${record.problem ? `\n   PROBLEM: ${record.problem}` : ''}`,
      );
      await new Promise((r) => setTimeout(r, 1_000 + Math.round(rng() * 2_000)));
    }

    opts.log(`${t()} faults stopped; ${opts.signal?.aborted ? 'interrupted' : 'checking convergence'}`);
    const converged = opts.signal?.aborted
      ? { ok: false, detail: 'not checked: the run was interrupted' }
      : await converge(chaos, ctx);
    opts.log(`${t()} converged: ${converged.ok ? 'yes' : 'no'}: ${converged.detail}`);
    const { observer, traffic } = await chaos.stopTraffic();
    const endedAt = Date.now();
    const observations: ChaosObservations = {
      startedAt,
      protectedFrom: first?.t ?? startedAt,
      endedAt,
      samples: chaos.samples,
      maxSampleGapMs: Number(observer['maxGapMs']),
      maxSampleGapAt: Number(observer['maxGapAt']),
      samplesTaken: Number(observer['samples']),
      lateSamples: Number(observer['lateSamples']),
      floodArrivals: chaos.floodArrivals,
      floodSent: Number(traffic['floodSent']),
      floodSendErrors: Number(traffic['floodErrors']),
      feedSent: Number(traffic['feedSent']),
      feedReceived: Number(observer['received']),
      feedMissing: [
        ...(observer['missing'] as [number, number][]),
        // Numbers after the last one received, up to the last sent, never arrived either.
        ...(Number(traffic['feedSent']) > Number(observer['max'])
          ? [[Number(observer['max']) + 1, Number(traffic['feedSent'])] as [number, number]]
          : []),
      ],
      feedMarks: chaos.feedMarks,
      faults,
      lockouts: ctx.lockouts,
      converged,
    };
    return {
      seed: opts.seed,
      minutes: opts.minutes,
      faults,
      figures: chaosFigures(observations),
      observations,
      rollbackBuilt,
      durationMs: endedAt - startedAt,
      agentLog: chaos.agentLog,
    };
  } finally {
    await chaos.close();
  }
}

/**
 * After the faults: Git answers, the disk has room, the agent runs; a last commit is pushed and must be applied,
 * `notrack drift` must find nothing and /healthz must answer 200.
 */
async function converge(chaos: ChaosLab, ctx: FaultContext): Promise<{ ok: boolean; detail: string }> {
  await chaos.setGit('pass');
  chaos.freeDisk();
  if (!chaos.agentRunning) await chaos.startAgent();
  chaos.variant += 1;
  const since = Date.now();
  const head = await chaos.remote.push(chaosPolicy(chaos.variant), 'the final policy');
  // Wait on the agent's own log (HUP now and then: a retry may be waiting), then ask /status once.
  const ms = await backTo(ctx, head, since, 40_000);
  const status = ms === null ? null : await chaos.status();
  if (ms === null || status?.applied?.commit !== head || status.condition?.status !== 'Ready')
    return {
      ok: false,
      detail: `the head ${head.slice(0, 8)} was not applied within 40 s (${chaos.outcomesSince(since)}; /status ${status?.condition?.status}/${status?.condition?.reason} at ${status?.applied?.commit?.slice(0, 8)})`,
    };
  ctx.good = head;
  const drift = await chaos.cli('drift', []);
  const health = await chaos.http('/healthz');
  const parts = [
    `head ${head.slice(0, 8)} applied ${ms} ms after the push`,
    `drift exit ${drift.status}${drift.status === 0 ? '' : `: ${(drift.stdout + drift.stderr).trim().slice(0, 300)}`}`,
    `/healthz ${health.status}${health.status === 200 ? '' : `: ${health.body.slice(0, 200)}`}`,
  ];
  return { ok: drift.status === 0 && health.status === 200, detail: parts.join(', ') };
}

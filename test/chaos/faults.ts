// The faults of the chaos run (issue 12), one function each: it causes the fault with seeded parameters, ends it,
// waits for the agent's reaction and says what happened. The five figures come from the observer, not from here;
// a fault reports a problem only for a wrong behaviour the figures cannot show (a rewind applied, an apply lost).
import type { Rng } from '../support/seeded-random.js';
import { IFNAME } from '../support/reconcile-fixture.js';
import type { AgentLine, ChaosLab } from './chaos-lab.js';
import { poll, sleep } from './chaos-lab.js';
import type { FaultRecord, LockoutRecord } from './figures.js';
import { chaosPolicy, type Lockout } from './policy-remote.js';

export const FAULT_KINDS = [
  'policy-change',
  'link-flap',
  'link-recreate',
  'git-down',
  'git-trickle',
  'git-garbage',
  'git-rewind',
  'kill-agent',
  'disk-full',
  'concurrent-apply',
  'lockout',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** A generous bound of each fault's length, so the run starts none it cannot finish in time. */
export const FAULT_BUDGET_MS: Record<FaultKind, number> = {
  'policy-change': 20_000,
  'link-flap': 8_000,
  'link-recreate': 15_000,
  'git-down': 30_000,
  'git-trickle': 40_000,
  'git-garbage': 30_000,
  'git-rewind': 30_000,
  'kill-agent': 30_000,
  'disk-full': 40_000,
  'concurrent-apply': 40_000,
  lockout: 60_000,
};

export interface FaultContext {
  chaos: ChaosLab;
  rng: Rng;
  /** The commit the host should run now (the last one it converged to). */
  good: string;
  /** Whether the product rolls a lock-out back by itself (the reason RolledBack exists). */
  rollbackBuilt: boolean;
  lockouts: LockoutRecord[];
}

const between = (rng: Rng, lo: number, hi: number): number => Math.round(lo + rng() * (hi - lo));
const short = (commit: string | null | undefined): string => (commit ? commit.slice(0, 8) : 'none');
const finished = (l: AgentLine): boolean => l.msg === 'reconcile finished';
const appliedIs =
  (commit: string) =>
  (l: AgentLine): boolean =>
    finished(l) && l.status === 'Ready' && l.appliedRevision?.commit === commit;

/** Pushes `files`, asks the agent to reconcile and waits until it runs the new commit (null if not in time). */
async function pushAndApply(
  ctx: FaultContext,
  files: Record<string, string>,
  message: string,
  timeoutMs = 60_000,
): Promise<{ commit: string; ms: number | null }> {
  const since = Date.now();
  const commit = await ctx.chaos.remote.push(files, message);
  ctx.chaos.hup();
  const seen = await ctx.chaos.lineWithin(appliedIs(commit), timeoutMs, since);
  if (seen) ctx.good = commit;
  return { commit, ms: seen ? seen.t - since : null };
}

/** Waits until the agent runs `commit` again after a fault (HUP now and then: backoff may be waiting). */
export async function backTo(
  ctx: FaultContext,
  commit: string,
  since: number,
  timeoutMs = 60_000,
): Promise<number | null> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    ctx.chaos.hup();
    const seen = await ctx.chaos.lineWithin(appliedIs(commit), 5_000, since);
    if (seen) return seen.t - since;
  }
  return null;
}

type FaultBody = (ctx: FaultContext) => Promise<{ detail: string; problem?: string }>;

const policyChange: FaultBody = async (ctx) => {
  ctx.chaos.variant += 1;
  const r = await pushAndApply(ctx, chaosPolicy(ctx.chaos.variant), `variant ${ctx.chaos.variant}`);
  return r.ms === null
    ? { detail: `pushed ${short(r.commit)}`, problem: `${short(r.commit)} was not applied within 60 s` }
    : { detail: `variant ${ctx.chaos.variant} (${short(r.commit)}) applied ${r.ms} ms after the push` };
};

const linkFlap: FaultBody = async (ctx) => {
  const hold = between(ctx.rng, 200, 3_000);
  ctx.chaos.lab.a.exec(['ip', 'link', 'set', IFNAME, 'down']);
  await sleep(hold);
  ctx.chaos.lab.a.exec(['ip', 'link', 'set', IFNAME, 'up']);
  await sleep(1_000);
  return { detail: `eth0 down for ${hold} ms, then up` };
};

const linkRecreate: FaultBody = async (ctx) => {
  const hold = between(ctx.rng, 200, 3_000);
  const since = Date.now();
  await ctx.chaos.recreateLink(hold);
  const attached = await ctx.chaos.lineWithin((l) => l.msg === 'interfaces attached' && l.t >= since, 10_000, since);
  return attached
    ? {
        detail: `eth0 deleted for ${hold} ms and created again; the link watch attached it (latency ${attached.latencyMs} ms)`,
      }
    : { detail: `eth0 deleted for ${hold} ms and created again`, problem: 'no "interfaces attached" within 10 s' };
};

function gitFault(mode: 'down' | 'trickle' | 'garbage', lo: number, hi: number): FaultBody {
  return async (ctx) => {
    const hold = between(ctx.rng, lo, hi);
    const pushDuring = ctx.rng() < 0.5;
    const since = Date.now();
    await ctx.chaos.setGit(mode);
    ctx.chaos.hup();
    let pushed: string | null = null;
    if (pushDuring) {
      ctx.chaos.variant += 1;
      pushed = await ctx.chaos.remote.push(chaosPolicy(ctx.chaos.variant), `variant ${ctx.chaos.variant}`);
    }
    await sleep(hold);
    const during = ctx.chaos.outcomesSince(since);
    await ctx.chaos.setGit('pass');
    const back = Date.now();
    const target = pushed ?? ctx.good;
    const ms = await backTo(ctx, target, back);
    if (ms !== null) ctx.good = target;
    const detail = `Git ${mode} for ${hold} ms${pushed ? ` (${short(pushed)} pushed meanwhile)` : ''}: ${during}`;
    return ms === null
      ? { detail, problem: `the host did not run ${short(target)} within 60 s of Git coming back` }
      : { detail: `${detail}; running ${short(target)} ${ms} ms after Git came back` };
  };
}

const gitRewind: FaultBody = async (ctx) => {
  ctx.chaos.variant += 1;
  await pushAndApply(ctx, chaosPolicy(ctx.chaos.variant), `variant ${ctx.chaos.variant}`);
  const old = await ctx.chaos.remote.ancestor(1);
  const hold = between(ctx.rng, 3_000, 8_000);
  const since = Date.now();
  await ctx.chaos.remote.setMain(old);
  ctx.chaos.hup();
  const refused = await ctx.chaos.lineWithin((l) => finished(l) && l.reason === 'Rewind', 30_000, since);
  await sleep(hold);
  const applied = ctx.chaos.agentLog.some((l) => l.t >= since && appliedIs(old)(l));
  const during = ctx.chaos.outcomesSince(since);
  const head = await ctx.chaos.remote.restoreMain();
  const ms = await backTo(ctx, head, Date.now());
  const detail = `main force-pushed back to ${short(old)} for ${hold} ms: ${during}`;
  if (applied) return { detail, problem: `the rewind to ${short(old)} was applied` };
  if (!refused) return { detail, problem: 'no reconcile refused the rewind (reason Rewind) within 30 s' };
  if (ms === null) return { detail, problem: `the host did not run ${short(head)} again within 60 s` };
  return { detail: `${detail}; refused, and Ready again ${ms} ms after main was restored` };
};

const killAgent: FaultBody = async (ctx) => {
  const recreate = ctx.rng() < 0.4;
  const restartDelay = between(ctx.rng, 500, 2_000);
  await ctx.chaos.killAgent();
  const killedAt = Date.now();
  if (recreate) await ctx.chaos.recreateLink(between(ctx.rng, 100, 500));
  await sleep(Math.max(0, restartDelay - (Date.now() - killedAt)));
  const since = Date.now();
  await ctx.chaos.startAgent();
  const restored = await ctx.chaos.lineWithin(
    (l) => l.msg.startsWith('restored the last applied state'),
    60_000,
    since,
  );
  const ms = await backTo(ctx, ctx.good, since);
  const detail =
    `kill -9, restarted after ${restartDelay} ms${recreate ? ' (eth0 re-created while it was down)' : ''}; ` +
    `${restored ? `restore ${restored.t - since} ms after the start` : 'no restore logged'}`;
  return ms === null
    ? { detail, problem: `the restarted agent did not report ${short(ctx.good)} Ready within 60 s` }
    : { detail: `${detail}; Ready ${ms} ms after the start` };
};

const diskFull: FaultBody = async (ctx) => {
  const bytes = ctx.chaos.fillDisk();
  const since = Date.now();
  ctx.chaos.variant += 1;
  const commit = await ctx.chaos.remote.push(chaosPolicy(ctx.chaos.variant), `variant ${ctx.chaos.variant}`);
  ctx.chaos.hup();
  const first = await ctx.chaos.lineWithin(finished, 60_000, since);
  await sleep(between(ctx.rng, 1_000, 4_000));
  const during = ctx.chaos.outcomesSince(since);
  ctx.chaos.freeDisk();
  const ms = await backTo(ctx, commit, Date.now());
  if (ms !== null) ctx.good = commit;
  const detail = `state tmpfs filled (${(bytes / 1048576).toFixed(1)} MiB) and ${short(commit)} pushed: ${during}${first?.message ? ` ("${first.message.slice(0, 120)}")` : ''}`;
  return ms === null
    ? { detail, problem: `${short(commit)} was not applied within 60 s of freeing the disk` }
    : { detail: `${detail}; applied ${ms} ms after the disk was freed` };
};

const concurrentApply: FaultBody = async (ctx) => {
  ctx.chaos.variant += 1;
  const since = Date.now();
  const commit = await ctx.chaos.remote.push(chaosPolicy(ctx.chaos.variant), `variant ${ctx.chaos.variant}`);
  ctx.chaos.hup();
  const apply = await ctx.chaos.cli('apply', []);
  const ms = await backTo(ctx, commit, since);
  const record = ctx.chaos.lab.record();
  const firstLine = (apply.stdout + apply.stderr).trim().split('\n')[0] ?? '';
  const detail = `notrack apply beside the agent's reconcile of ${short(commit)}: apply exit ${apply.status} ("${firstLine.slice(0, 100)}"), agent ${ctx.chaos.outcomesSince(since)}`;
  if (apply.status !== 0 && !/host-locked|locked/.test(apply.stderr))
    return { detail, problem: `apply failed without a lock message: ${apply.stderr.slice(0, 300)}` };
  if (record.revision.commit !== commit)
    return { detail, problem: `the record names ${short(record.revision.commit)}, not ${short(commit)}` };
  if (ms === null) return { detail, problem: `the agent did not report ${short(commit)} Ready within 60 s` };
  ctx.good = commit;
  return { detail: `${detail}; record and agent at ${short(commit)}` };
};

const lockout: FaultBody = async (ctx) => {
  const kind: Lockout = ctx.rng() < 0.5 ? 'deny-all-inbound' : 'deny-all-outbound';
  const previous = ctx.good;
  const pushedAt = Date.now();
  const commit = await ctx.chaos.remote.push(chaosPolicy(ctx.chaos.variant, kind), `lock-out: ${kind}`);
  ctx.chaos.hup();
  const switched = await ctx.chaos.lineWithin(appliedIs(commit), 30_000, pushedAt);
  // Rolled back: /status says RolledBack and the host runs the previous commit again. Without a rollback in the
  // product the run still watches for a while, so that the figure says what happened rather than assuming it.
  let rolledBackAt: number | null = null;
  let refused = false;
  await poll(
    async () => {
      refused = ctx.chaos.agentLog.some((l) => l.t >= pushedAt && finished(l) && l.reason === 'DisruptionRefused');
      const s = await ctx.chaos.status();
      if (s?.condition?.reason === 'RolledBack' && s.applied?.commit === previous) rolledBackAt = Date.now();
      return rolledBackAt !== null || (refused && !switched);
    },
    ctx.rollbackBuilt ? 90_000 : 20_000,
    500,
  );
  const record: LockoutRecord = { kind, commit, pushedAt, resolvedAt: rolledBackAt ?? Date.now(), rolledBack: false };
  ctx.lockouts.push(record);
  const during = ctx.chaos.outcomesSince(pushedAt);
  // The fix: a revert pushed to Git (the head moves, so a rolled-back commit is behind it).
  const revert = await ctx.chaos.remote.push(chaosPolicy(ctx.chaos.variant), `revert the ${kind} lock-out`);
  let recovery: string;
  if (refused && !switched && rolledBackAt === null) {
    record.refused = true;
    const ms = await backTo(ctx, revert, Date.now());
    recovery = `refused before the switch (DisruptionRefused); the revert ${short(revert)} ${ms === null ? 'was not applied within 60 s' : `applied after ${ms} ms`}`;
  } else if (rolledBackAt !== null) {
    record.rolledBack = true;
    record.resolvedAt = rolledBackAt;
    const ms = await backTo(ctx, revert, Date.now());
    recovery = `rolled back ${rolledBackAt - pushedAt} ms after the push; the revert ${short(revert)} ${ms === null ? 'was not applied within 60 s' : `applied after ${ms} ms`}`;
  } else {
    // Break-glass as an operator would with Git out of reach: apply the revert from a local copy of the repository.
    const apply = await ctx.chaos.cli('apply', [], ctx.chaos.remote.bare);
    record.resolvedAt = Date.now();
    const ms = await backTo(ctx, revert, Date.now());
    recovery =
      `not rolled back within ${ctx.rollbackBuilt ? 90 : 20} s; recovered by hand (notrack apply of the revert from a ` +
      `local copy: exit ${apply.status}); the agent ${ms === null ? 'did not report it Ready within 60 s' : `reported it Ready after ${ms} ms`}`;
  }
  ctx.good = revert;
  return {
    detail: `${kind} commit ${short(commit)} ${switched ? 'switched in' : 'never reported applied'}: ${during}; ${recovery}`,
  };
};

export const FAULTS: Record<FaultKind, FaultBody> = {
  'policy-change': policyChange,
  'link-flap': linkFlap,
  'link-recreate': linkRecreate,
  'git-down': gitFault('down', 4_000, 10_000),
  'git-trickle': gitFault('trickle', 12_000, 18_000),
  'git-garbage': gitFault('garbage', 4_000, 10_000),
  'git-rewind': gitRewind,
  'kill-agent': killAgent,
  'disk-full': diskFull,
  'concurrent-apply': concurrentApply,
  lockout,
};

/** Runs one fault and records its span. */
export async function runFault(kind: FaultKind, ctx: FaultContext): Promise<FaultRecord> {
  const start = Date.now();
  let outcome: { detail: string; problem?: string };
  try {
    outcome = await FAULTS[kind](ctx);
  } catch (e) {
    outcome = { detail: 'the fault could not be run to its end', problem: (e as Error).message.split('\n')[0]! };
  }
  return { kind, start, end: Date.now(), ...outcome };
}

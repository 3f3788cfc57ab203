// The chaos run's five figures, computed from what it observed (pure): unprotected windows from the link samples,
// each attributed to the fault it fell in; flood packets past XDP and allowed-flow losses placed in time and
// counted inside or outside the windows that excuse them; lock-outs that did not roll back; convergence.
import type { Lockout } from './policy-remote.js';

/** A change in what the observer saw on the interface (it prints only changes). */
export interface LinkSample {
  t: number;
  present: boolean;
  /** Administratively up and carrying packets. */
  up: boolean;
  /** `<name>#<id>` of the attached XDP program, or null. */
  xdp: string | null;
  /** The interface's index: a new one means the interface was re-created. */
  ifindex?: number | null;
}

export interface FaultRecord {
  /** The fault's kind, as `npm run chaos` names it. */
  kind: string;
  start: number;
  end: number;
  /** What happened, for the per-fault log. */
  detail: string;
  /** Set when the fault showed a wrong behaviour besides the five figures (e.g. a rewind applied). */
  problem?: string;
}

export interface LockoutRecord {
  kind: Lockout;
  commit: string;
  pushedAt: number;
  /** When the host ran the previous policy again (rolled back, or the run's own recovery). */
  resolvedAt: number;
  rolledBack: boolean;
  /** Refused before the switch (reason DisruptionRefused): it never ran, so it neither locked out nor rolled back. */
  refused?: boolean;
}

export interface FeedMark {
  t: number;
  /** The last number sent at `t`. */
  seq: number;
}

export interface ChaosObservations {
  startedAt: number;
  /** When the agent first reported Ready: what happened before (the lab coming up) is not counted. */
  protectedFrom: number;
  endedAt: number;
  samples: LinkSample[];
  /** The longest gap between two samples of the interface, and when it ended. */
  maxSampleGapMs: number;
  maxSampleGapAt: number;
  samplesTaken: number;
  /** Samples that came more than 100 ms after the one before. */
  lateSamples: number;
  /** Arrival times of flood datagrams that got past XDP. */
  floodArrivals: number[];
  floodSent: number;
  /** Flood sends that failed (the peer's interface or the deny-listed address was gone). */
  floodSendErrors: number;
  feedSent: number;
  feedReceived: number;
  /** Numbers of the allowed flow that never arrived, as inclusive ranges. */
  feedMissing: [number, number][];
  feedMarks: FeedMark[];
  faults: FaultRecord[];
  lockouts: LockoutRecord[];
  converged: { ok: boolean; detail: string };
}

export interface UnprotectedWindow {
  start: number;
  end: number;
  durationMs: number;
  /** The fault it started in (`kind` and its number in the log), or null. */
  fault: string | null;
  /** The fault was a kill -9 of the agent. */
  agentKilled: boolean;
  /**
   * The window is a new interface's (re-created, a new ifindex) before its first attachment: the link watch's case,
   * whose goal is an attachment within 2 s, since no program can be attached to an interface before it exists.
   */
  newInterface: boolean;
}

export interface Goal {
  figure: string;
  value: string;
  goal: string;
  met: boolean;
}

export interface ChaosFigures {
  windows: UnprotectedWindow[];
  longestMs: number;
  /** Longest window while the agent was not killed, on an interface that had been protected (not a new one). */
  longestAgentRunningMs: number;
  /** Longest window of a new interface before the running agent's link watch attached it. */
  longestNewInterfaceMs: number;
  lockoutsNotRolledBack: number;
  floodPastOutside: number;
  floodPastInside: number;
  feedLostOutside: number;
  feedLost: { linkDown: number; lockout: number; unprotected: number };
  /** The first lost numbers outside every excusing window, with their send time. */
  feedLostExamples: { seq: number; t: number }[];
  goals: Goal[];
}

/** Packets may be read a little after the instant they passed the interface (a busy machine). */
export const SLACK_MS = 250;
/** A window is the fault's when it starts this soon after the fault ended (the agent's reaction). */
const FAULT_SETTLE_MS = 3_000;

const unprotected = (s: LinkSample): boolean => s.present && s.up && !(s.xdp ?? '').startsWith('nt_xdp');
const linkDown = (s: LinkSample): boolean => !s.present || !s.up;

interface Span {
  from: number;
  to: number;
}

/** Spans where `pred` held, from the first sample showing it to the first not showing it, with the sample that began each. */
function spans(
  samples: LinkSample[],
  pred: (s: LinkSample) => boolean,
  endedAt: number,
): (Span & { first: LinkSample | null })[] {
  const out: (Span & { first: LinkSample | null })[] = [];
  let open: LinkSample | null = null;
  for (const s of samples) {
    if (pred(s) && open === null) open = s;
    else if (!pred(s) && open !== null) {
      out.push({ from: open.t, to: s.t, first: open });
      open = null;
    }
  }
  if (open !== null) out.push({ from: open.t, to: endedAt, first: open });
  return out;
}

/** The ifindexes that carried notrack's program at some sample: an unprotected window on any other is a new interface's. */
function protectedIndexes(samples: LinkSample[]): Map<number, number> {
  const first = new Map<number, number>();
  for (const s of samples)
    if (s.ifindex != null && s.present && (s.xdp ?? '').startsWith('nt_xdp') && !first.has(s.ifindex))
      first.set(s.ifindex, s.t);
  return first;
}

function faultAt(faults: FaultRecord[], t: number): { fault: FaultRecord; n: number } | null {
  for (let i = faults.length - 1; i >= 0; i--) {
    const f = faults[i]!;
    if (t >= f.start && t <= f.end + FAULT_SETTLE_MS) return { fault: f, n: i + 1 };
  }
  return null;
}

/** When the allowed flow's number `seq` was sent: between the marks around it. */
function sentBetween(marks: FeedMark[], seq: number): Span {
  let lo = 0,
    hi = marks.length - 1;
  if (hi < 0) return { from: 0, to: Infinity };
  if (seq > marks[hi]!.seq) return { from: marks[hi]!.t, to: Infinity };
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (marks[mid]!.seq >= seq) hi = mid;
    else lo = mid + 1;
  }
  return { from: lo > 0 ? marks[lo - 1]!.t : 0, to: marks[lo]!.t };
}

const overlaps = (a: Span, spansList: Span[]): boolean => spansList.some((b) => a.from <= b.to && a.to >= b.from);

const seconds = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;

export function chaosFigures(obs: ChaosObservations): ChaosFigures {
  const gap = obs.maxSampleGapMs;
  const protectedSince = protectedIndexes(obs.samples);
  const windows: UnprotectedWindow[] = spans(obs.samples, unprotected, obs.endedAt)
    .filter((s) => s.to > obs.protectedFrom)
    .map((s) => {
      const from = Math.max(s.from, obs.protectedFrom);
      const at = faultAt(obs.faults, from);
      const ifindex = s.first?.ifindex;
      const since = ifindex == null ? undefined : protectedSince.get(ifindex);
      return {
        start: from,
        end: s.to,
        durationMs: s.to - from,
        fault: at ? `${at.fault.kind} (#${at.n})` : null,
        agentKilled: at?.fault.kind === 'kill-agent',
        newInterface: ifindex != null && (since === undefined || since > s.from),
      };
    });
  // A sample shows a state some time after it began: widen every span by the longest gap before, and the slack after.
  const widen = (s: Span): Span => ({ from: s.from - gap, to: s.to + SLACK_MS });
  const windowSpans = windows.map((w) => widen({ from: w.start, to: w.end }));
  const downSpans = spans(obs.samples, linkDown, obs.endedAt).map(widen);
  const lockoutSpans = obs.lockouts.map((l) => ({ from: l.pushedAt, to: l.resolvedAt + SLACK_MS }));

  const floodCounted = obs.floodArrivals.filter((t) => t >= obs.protectedFrom);
  const floodPastInside = floodCounted.filter((t) => overlaps({ from: t, to: t }, windowSpans)).length;
  const floodPastOutside = floodCounted.length - floodPastInside;

  const feedLost = { linkDown: 0, lockout: 0, unprotected: 0 };
  let feedLostOutside = 0;
  const feedLostExamples: { seq: number; t: number }[] = [];
  for (const [from, to] of obs.feedMissing) {
    for (let seq = from; seq <= to; seq++) {
      const sent = sentBetween(obs.feedMarks, seq);
      if (sent.to < obs.protectedFrom) continue;
      if (overlaps(sent, downSpans)) feedLost.linkDown += 1;
      else if (overlaps(sent, lockoutSpans)) feedLost.lockout += 1;
      else if (overlaps(sent, windowSpans)) feedLost.unprotected += 1;
      else {
        feedLostOutside += 1;
        if (feedLostExamples.length < 10) feedLostExamples.push({ seq, t: sent.to });
      }
    }
  }

  const longest = windows.reduce((m, w) => Math.max(m, w.durationMs), 0);
  const longestOf = (ws: UnprotectedWindow[]): number => ws.reduce((m, w) => Math.max(m, w.durationMs), 0);
  const running = windows.filter((w) => !w.agentKilled && !w.newInterface);
  const longestAgentRunning = longestOf(running);
  const newInterfaces = windows.filter((w) => !w.agentKilled && w.newInterface);
  const longestNew = longestOf(newInterfaces);
  const notRolledBack = obs.lockouts.filter((l) => !l.rolledBack && !l.refused).length;
  const refused = obs.lockouts.filter((l) => l.refused).length;
  const longestWindow = windows.find((w) => w.durationMs === longest);
  const at = (w: UnprotectedWindow | undefined): string =>
    w ? ` (${w.fault ?? 'no fault'}, at +${seconds(w.start - obs.startedAt)})` : '';
  const goals: Goal[] = [
    {
      figure: 'Longest time an interface was unprotected',
      value:
        `${seconds(longest)}${at(longestWindow)}; ${windows.length} window(s); ${obs.samplesTaken} samples, ` +
        `${obs.lateSamples} more than 100 ms after the one before (longest gap ${gap} ms at +${seconds(obs.maxSampleGapAt - obs.startedAt)})`,
      goal: '≤ 2 s',
      met: longest <= 2_000,
    },
    {
      figure: '… while the agent ran, on an interface it had protected',
      value: `${seconds(longestAgentRunning)}${at(running.find((w) => w.durationMs === longestAgentRunning && longestAgentRunning > 0))}`,
      goal: '0 s',
      met: longestAgentRunning === 0,
    },
    {
      figure: '… a new interface until the running agent attached it',
      value: `${seconds(longestNew)}${at(newInterfaces.find((w) => w.durationMs === longestNew && longestNew > 0))}; ${newInterfaces.length} window(s)`,
      goal: '≤ 2 s',
      met: longestNew <= 2_000,
    },
    {
      figure: 'Lock-outs that did not roll back',
      value: `${notRolledBack} of ${obs.lockouts.length}${refused ? ` (${refused} refused before the switch)` : ''}`,
      goal: '0',
      met: notRolledBack === 0,
    },
    {
      figure: 'Flood packets past XDP outside unprotected windows',
      value: `${floodPastOutside} (${floodPastInside} inside windows; ${obs.floodSent} sent, ${obs.floodSendErrors} of them failed at the sender)`,
      goal: '0',
      met: floodPastOutside === 0,
    },
    {
      figure: 'Allowed-flow packets lost outside rollback windows',
      value:
        `${feedLostOutside} (${obs.feedSent} sent, ${obs.feedReceived} received; lost while the link was down ` +
        `${feedLost.linkDown}, in lock-out windows ${feedLost.lockout}, in unprotected windows ${feedLost.unprotected})`,
      goal: '0',
      met: feedLostOutside === 0,
    },
    {
      figure: 'Final state converged',
      value: `${obs.converged.ok ? 'yes' : 'no'}: ${obs.converged.detail}`,
      goal: 'yes',
      met: obs.converged.ok,
    },
  ];
  return {
    windows,
    longestMs: longest,
    longestAgentRunningMs: longestAgentRunning,
    longestNewInterfaceMs: longestNew,
    lockoutsNotRolledBack: notRolledBack,
    floodPastOutside,
    floodPastInside,
    feedLostOutside,
    feedLost,
    feedLostExamples,
    goals,
  };
}

/** The figures as one Markdown table. */
export function figuresTable(f: ChaosFigures): string {
  const rows = f.goals.map((g) => `| ${g.figure} | ${g.value} | ${g.goal} | ${g.met ? 'yes' : '**no**'} |`);
  return ['| Figure | Value | Goal | Met |', '| --- | --- | --- | --- |', ...rows].join('\n');
}

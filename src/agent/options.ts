// The agent's settings: their types, their defaults and the checks every settings object passes, wherever it came
// from (the command line's flags are read by src/cli/agent-flags.ts).
import { UsageError } from '../errors.js';
import type { DriftMode } from './agent-state.js';
import { DEFAULT_RETRY, type RetryPolicy } from './backoff.js';
import { formatDuration } from './duration.js';
import { parseListen, type ListenAddress } from './listen.js';
import type { LogFormat, LogLevel } from './log.js';
import { parseSchedule, type Schedule } from './schedule.js';

export interface AgentOptions {
  /** When to fetch and reconcile: a cron expression (5 fields, or 6 with seconds) or an even interval ("30s", "5m"). */
  schedule: string;
  /** When to compare the host with the applied state. */
  driftSchedule: string;
  /** enforce: repair drift; warn: report it only. */
  driftMode: DriftMode;
  /** Each scheduled run waits a random 0..jitterMs first. */
  jitterMs: number;
  /** Backoff after a Failed reconcile. */
  retry: RetryPolicy;
  /** "HOST:PORT" for /metrics, /healthz, /livez and /status; null for no server. */
  listen: string | null;
  /** Allow a listen address other than loopback. */
  listenPublic: boolean;
  /** Reconcile once at start, before the first tick. */
  runOnStart: boolean;
  /** /healthz turns 503 when the latest reconcile has been Stalled for longer than this. */
  stalledUnhealthyAfterMs: number;
  /** /livez turns 503 when one reconcile or drift check runs longer than this. */
  hungAfterMs: number;
  /** On SIGTERM/SIGINT, how long to wait for a running reconcile before exiting anyway. */
  shutdownTimeoutMs: number;
  logFormat: LogFormat;
  logLevel: LogLevel;
  /** How often protection is observed in the kernel between link events (default 5 s). */
  protectionIntervalMs?: number;
}

export const DEFAULT_AGENT_OPTIONS: AgentOptions = {
  schedule: '*/1 * * * *',
  driftSchedule: '*/5 * * * *',
  driftMode: 'enforce',
  jitterMs: 10_000,
  retry: DEFAULT_RETRY,
  listen: '127.0.0.1:9808',
  listenPublic: false,
  runOnStart: true,
  stalledUnhealthyAfterMs: 15 * 60_000,
  hungAfterMs: 15 * 60_000,
  shutdownTimeoutMs: 30_000,
  logFormat: 'json',
  logLevel: 'info',
};

/** Options checked and read: the two schedules as cron expressions, the listen address. */
interface CheckedAgentOptions {
  schedule: Schedule;
  driftSchedule: Schedule;
  listen: ListenAddress | null;
}

/** Checks options that did not come from flags as strictly as flags are checked. Throws UsageError. */
export function checkAgentOptions(o: AgentOptions): CheckedAgentOptions {
  const schedule = parseSchedule(o.schedule, 'schedule');
  const driftSchedule = parseSchedule(o.driftSchedule, 'drift-schedule');
  for (const [flag, s] of [
    ['schedule', schedule],
    ['drift-schedule', driftSchedule],
  ] as const) {
    if (s.periodMs !== null && o.jitterMs >= s.periodMs) {
      throw new UsageError(
        `--jitter ${formatDuration(o.jitterMs)} is not shorter than --${flag} ${s.text}: every ` +
          `run would still be waiting when the next tick comes, so ticks would be skipped; use a smaller --jitter`,
      );
    }
  }
  const r = o.retry;
  if (!(r.initialMs > 0)) throw new UsageError('--retry-initial must be longer than 0');
  if (!(r.maxMs >= r.initialMs)) {
    throw new UsageError(
      `--retry-max ${formatDuration(r.maxMs)} is shorter than --retry-initial ${formatDuration(r.initialMs)}`,
    );
  }
  if (!(r.factor >= 1)) throw new UsageError('--retry-factor must be at least 1');
  if (!(r.jitter >= 0 && r.jitter < 1)) throw new UsageError('retry jitter must be a fraction in [0, 1)');
  if (!(o.jitterMs >= 0)) throw new UsageError('--jitter must not be negative');
  for (const [flag, v] of [
    ['stalled-unhealthy-after', o.stalledUnhealthyAfterMs],
    ['hung-after', o.hungAfterMs],
    ['shutdown-timeout', o.shutdownTimeoutMs],
  ] as const) {
    if (!(v >= 0)) throw new UsageError(`--${flag} must not be negative`);
  }
  const listen = o.listen === null ? null : parseListen(o.listen, { allowPublic: o.listenPublic });
  return { schedule, driftSchedule, listen };
}

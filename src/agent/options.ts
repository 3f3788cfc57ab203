// The agent's settings: their defaults, the command-line flags that set them, the flags' help, and the checks that
// turn flag text into typed settings (so `notrack agent` stays a thin wrapper).
import { UsageError, oneOf, type OptionSpec } from '../cli/args.js';
import type { DriftMode } from './agent-state.js';
import { DEFAULT_RETRY, type RetryPolicy } from './backoff.js';
import { formatDuration, parseDuration } from './duration.js';
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

/** The flags of `notrack agent` that set AgentOptions, for node:util parseArgs (merge with the source flags). */
export const AGENT_ARGS = {
  schedule: { type: 'string' },
  'drift-schedule': { type: 'string' },
  'drift-mode': { type: 'string' },
  jitter: { type: 'string' },
  'retry-initial': { type: 'string' },
  'retry-max': { type: 'string' },
  'retry-factor': { type: 'string' },
  listen: { type: 'string' },
  'listen-public': { type: 'boolean' },
  'no-run-on-start': { type: 'boolean' },
  'stalled-unhealthy-after': { type: 'string' },
  'hung-after': { type: 'string' },
  'shutdown-timeout': { type: 'string' },
  'log-format': { type: 'string' },
  'log-level': { type: 'string' },
} as const satisfies OptionSpec;

export type AgentArgValues = {
  [K in keyof typeof AGENT_ARGS]?: (typeof AGENT_ARGS)[K]['type'] extends 'boolean' ? boolean : string;
};

const d = DEFAULT_AGENT_OPTIONS;

/** The help lines of the flags in AGENT_ARGS. */
export const AGENT_HELP = `  --schedule CRON|INTERVAL   when to fetch and reconcile (default "${d.schedule}": every minute); a cron
                             expression (6 fields: seconds first) or an interval that divides a minute, hour
                             or day evenly (30s, 5m, 2h)
  --drift-schedule CRON|INTERVAL  when to check the host for drift (default "${d.driftSchedule}")
  --drift-mode MODE          enforce (repair drift; default) or warn (report it only)
  --jitter DURATION          random delay before each scheduled run, up to DURATION (default ${formatDuration(d.jitterMs)}; 0 for none)
  --retry-initial DURATION   first retry after a Failed reconcile (default ${formatDuration(d.retry.initialMs)})
  --retry-max DURATION       longest retry delay (default ${formatDuration(d.retry.maxMs)})
  --retry-factor N           each retry waits N times longer (default ${d.retry.factor}; up to ${d.retry.jitter * 100}% is taken off at random)
  --listen HOST:PORT|off     /metrics, /healthz, /livez and /status (default ${d.listen})
  --listen-public            allow a --listen address other than loopback
  --no-run-on-start          wait for the first tick instead of reconciling at start
  --stalled-unhealthy-after DURATION  /healthz fails once Stalled this long (default ${formatDuration(d.stalledUnhealthyAfterMs)})
  --hung-after DURATION      /livez fails when one run takes longer (default ${formatDuration(d.hungAfterMs)})
  --shutdown-timeout DURATION  on SIGTERM, wait this long for a running reconcile (default ${formatDuration(d.shutdownTimeoutMs)})
  --log-format json|text     one JSON object per line (default) or text for people
  --log-level LEVEL          debug, info (default), warn or error`;

/** The whole help of `notrack agent`, around the reconciler's own flags (source, host, state). */
export function agentHelp(reconcilerFlags: string): string {
  return `Usage: notrack agent --repo URL|PATH --host NAME [options]

Runs until stopped: fetches the policy and reconciles this host on a schedule, checks for drift on another,
retries Failed reconciles with backoff, and serves metrics and health on loopback. The dataplane stays in place
when the agent stops or fails: the host keeps its last good state.

Signals: SIGHUP reconciles now (queued behind a running one); SIGTERM or SIGINT stops scheduling, waits for a
running reconcile (--shutdown-timeout), and exits 0 without touching the dataplane.
Endpoints: /metrics (Prometheus), /healthz (readiness), /livez (liveness), /status (JSON).

Policy and host:
${reconcilerFlags}

Schedule and runtime:
${AGENT_HELP}
  -h, --help                 show this help
`;
}

/** Typed options from the parsed flags; absent flags take the defaults. Throws UsageError naming the flag. */
export function agentOptionsFromArgs(values: AgentArgValues): AgentOptions {
  const duration = (flag: keyof AgentArgValues, fallback: number): number => {
    const v = values[flag];
    return typeof v === 'string' ? parseDuration(v, flag) : fallback;
  };
  const options: AgentOptions = {
    schedule: values.schedule ?? d.schedule,
    driftSchedule: values['drift-schedule'] ?? d.driftSchedule,
    driftMode: oneOf('drift-mode', values['drift-mode'], ['enforce', 'warn'] as const, d.driftMode),
    jitterMs: duration('jitter', d.jitterMs),
    retry: {
      initialMs: duration('retry-initial', d.retry.initialMs),
      maxMs: duration('retry-max', d.retry.maxMs),
      factor: values['retry-factor'] === undefined ? d.retry.factor : parseFactor(values['retry-factor']),
      jitter: d.retry.jitter,
    },
    listen: values.listen ?? d.listen,
    listenPublic: values['listen-public'] ?? false,
    runOnStart: !(values['no-run-on-start'] ?? false),
    stalledUnhealthyAfterMs: duration('stalled-unhealthy-after', d.stalledUnhealthyAfterMs),
    hungAfterMs: duration('hung-after', d.hungAfterMs),
    shutdownTimeoutMs: duration('shutdown-timeout', d.shutdownTimeoutMs),
    logFormat: oneOf('log-format', values['log-format'], ['json', 'text'] as const, d.logFormat),
    logLevel: oneOf('log-level', values['log-level'], ['debug', 'info', 'warn', 'error'] as const, d.logLevel),
  };
  checkAgentOptions(options);
  return options;
}

function parseFactor(text: string): number {
  const n = Number(text);
  if (!/^\d+(\.\d+)?$/.test(text.trim()) || !(n >= 1)) {
    throw new UsageError(`--retry-factor takes a number of at least 1 (2 doubles each delay), not "${text}"`);
  }
  return n;
}

/** Options checked and read: the two schedules as cron expressions, the listen address. */
export interface CheckedAgentOptions {
  schedule: Schedule;
  driftSchedule: Schedule;
  listen: ListenAddress | null;
}

/** Checks options that did not come from flags as strictly as flags are checked. Throws UsageError. */
export function checkAgentOptions(o: AgentOptions): CheckedAgentOptions {
  const schedule = parseSchedule(o.schedule, 'schedule');
  const driftSchedule = parseSchedule(o.driftSchedule, 'drift-schedule');
  for (const [flag, s] of [['schedule', schedule], ['drift-schedule', driftSchedule]] as const) {
    if (s.periodMs !== null && o.jitterMs >= s.periodMs) {
      throw new UsageError(`--jitter ${formatDuration(o.jitterMs)} is not shorter than --${flag} ${s.text}: every ` +
        `run would still be waiting when the next tick comes, so ticks would be skipped; use a smaller --jitter`);
    }
  }
  const r = o.retry;
  if (!(r.initialMs > 0)) throw new UsageError('--retry-initial must be longer than 0');
  if (!(r.maxMs >= r.initialMs)) {
    throw new UsageError(`--retry-max ${formatDuration(r.maxMs)} is shorter than --retry-initial ${formatDuration(r.initialMs)}`);
  }
  if (!(r.factor >= 1)) throw new UsageError('--retry-factor must be at least 1');
  if (!(r.jitter >= 0 && r.jitter < 1)) throw new UsageError('retry jitter must be a fraction in [0, 1)');
  if (!(o.jitterMs >= 0)) throw new UsageError('--jitter must not be negative');
  for (const [flag, v] of [['stalled-unhealthy-after', o.stalledUnhealthyAfterMs], ['hung-after', o.hungAfterMs],
    ['shutdown-timeout', o.shutdownTimeoutMs]] as const) {
    if (!(v >= 0)) throw new UsageError(`--${flag} must not be negative`);
  }
  const listen = o.listen === null ? null : parseListen(o.listen, { allowPublic: o.listenPublic });
  return { schedule, driftSchedule, listen };
}

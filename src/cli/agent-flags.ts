// The flags of `notrack agent`: their parseArgs spec, their help, and the reading of flag text into the agent's typed
// settings (AgentOptions), checked as every settings object is (src/agent/options.ts).
import { UsageError } from '../errors.js';
import { DEFAULT_AGENT_OPTIONS, checkAgentOptions, type AgentOptions } from '../agent/options.js';
import { formatDuration, parseDuration } from '../agent/duration.js';
import { oneOf, type OptionSpec } from './args.js';

const d = DEFAULT_AGENT_OPTIONS;

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

type AgentArgValues = {
  [K in keyof typeof AGENT_ARGS]?: (typeof AGENT_ARGS)[K]['type'] extends 'boolean' ? boolean : string;
};

/** The help lines of the flags in AGENT_ARGS. */
export const AGENT_HELP = `  --schedule CRON|INTERVAL   when to fetch and reconcile (default "${d.schedule}": every minute); a cron
                             expression (6 fields: seconds first) or an interval that divides a minute, hour
                             or day evenly (30s, 5m, 2h)
  --drift-schedule CRON|INTERVAL  when to check the host for drift (default "${d.driftSchedule}")
  --drift-mode enforce|warn  enforce (repair drift; default) or warn (report it only)
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

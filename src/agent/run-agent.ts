// `notrack agent`'s runtime: wires the schedules, the single-flight loop, the record (logs, metrics, status),
// the HTTP endpoints and the signals around a Reconciler, and stops cleanly without touching the dataplane.
import { AgentRecord } from './agent-record.js';
import { serveAgentEndpoints, type AgentServer } from './http.js';
import { formatListen, type ListenAddress } from './listen.js';
import { createLog } from './log.js';
import { AgentMetrics, type BuildLabels } from './metrics.js';
import { ProtectionGuard } from './protection-guard.js';
import { ProtectionMetrics } from './protection-metrics.js';
import { ConfirmationMetrics } from './confirmation-metrics.js';
import { checkAgentOptions, type AgentOptions } from './options.js';
import { ReconcileLoop } from './reconcile-loop.js';
import type { Reconciler } from './reconciler.js';
import { handleSignals } from './signals.js';
import { cronTicker, type Ticker, type TickerTask } from './ticker.js';

/** What the agent takes from its surroundings; every field has the process's own as default. */
interface AgentRuntime {
  /** The schedules' clock (default: node-cron). */
  ticker?: Ticker;
  now?: () => number;
  /** [0, 1), for backoff jitter. */
  random?: () => number;
  /** Receives each log line (default: stdout). */
  write?: (line: string) => void;
  /** Install SIGHUP/SIGTERM/SIGINT handlers (default true). */
  signals?: boolean;
  /** Called with the exit code once a signal has stopped the agent (default process.exit: a reconcile abandoned
   *  after --shutdown-timeout would otherwise keep the process alive). Not called for handle.stop(). */
  exit?: (code: number) => void;
  /** What notrack_build_info says (default: unknown). */
  build?: BuildLabels;
}

export interface AgentHandle {
  /** Where /metrics and the health endpoints listen (the real port when 0 was asked for); null when off. */
  readonly address: ListenAddress | null;
  /** The /status document. */
  status(): Record<string, unknown>;
  /** What SIGHUP does: reconcile as soon as the lock is free. Resolves when that reconcile finished. */
  reconcileNow(): Promise<void>;
  /** What SIGTERM does: stop scheduling, wait (bounded) for a running reconcile, close the server. Resolves with the
   *  exit code (0). Calling it again returns the same promise. */
  stop(reason?: string): Promise<number>;
  /** Resolves with the exit code once the agent has stopped, however it was stopped. */
  readonly done: Promise<number>;
}

export async function runAgent(
  options: AgentOptions,
  reconciler: Reconciler,
  runtime: AgentRuntime = {},
): Promise<AgentHandle> {
  const checked = checkAgentOptions(options);
  const now = runtime.now ?? Date.now;
  const random = runtime.random ?? Math.random;
  const log = createLog({
    format: options.logFormat,
    level: options.logLevel,
    now,
    write:
      runtime.write ??
      ((line) => {
        process.stdout.write(line);
      }),
  });
  const metrics = new AgentMetrics(
    () => reconciler.counters(),
    (e) => {
      log.warn('reading counters failed', { error: (e as Error)?.message ?? String(e) });
    },
    runtime.build,
  );
  const settings = {
    schedule: checked.schedule.text,
    scheduleExpression: checked.schedule.expression,
    driftSchedule: checked.driftSchedule.text,
    driftScheduleExpression: checked.driftSchedule.expression,
    driftMode: options.driftMode,
    jitterMs: options.jitterMs,
    retry: options.retry,
    runOnStart: options.runOnStart,
    stalledUnhealthyAfterMs: options.stalledUnhealthyAfterMs,
    hungAfterMs: options.hungAfterMs,
  };
  const record = new AgentRecord(log, metrics, now, {
    stalledUnhealthyAfterMs: options.stalledUnhealthyAfterMs,
    hungAfterMs: options.hungAfterMs,
    settings,
    protectionMetrics: new ProtectionMetrics(metrics.registry),
    ...(reconciler.confirm
      ? { confirmationMetrics: new ConfirmationMetrics(metrics.registry, reconciler.rolledBackCommit?.() ?? null) }
      : {}),
  });
  const guard = new ProtectionGuard(reconciler, record, log, now, {
    mode: options.driftMode,
    intervalMs: options.protectionIntervalMs ?? 5_000,
    acting: () => true,
  });
  const loop = new ReconcileLoop(
    reconciler,
    record,
    { driftMode: options.driftMode, retry: options.retry },
    { now, random },
    () => guard.observe(),
  );

  // The server first: a bad address or a taken port fails the start before anything runs.
  let server: AgentServer | null = null;
  if (checked.listen) {
    server = await serveAgentEndpoints(
      checked.listen,
      {
        metrics: () => metrics.render(),
        readiness: () => record.readiness(),
        liveness: () => record.liveness(),
        status: () => record.statusDocument(),
      },
      (e) => log.error('metrics and health server error', { error: (e as Error)?.message ?? String(e) }),
    );
  }

  const ticker = runtime.ticker ?? cronTicker(log);
  const tasks: TickerTask[] = [
    ticker.start({
      job: 'reconcile',
      expression: checked.schedule.expression,
      maxRandomDelayMs: options.jitterMs,
      onTick: () => loop.tick('reconcile'),
      onOverlap: () => loop.overlapped('reconcile'),
    }),
    ticker.start({
      job: 'drift',
      expression: checked.driftSchedule.expression,
      maxRandomDelayMs: options.jitterMs,
      onTick: () => loop.tick('drift'),
      onOverlap: () => loop.overlapped('drift'),
    }),
  ];

  let resolveDone!: (code: number) => void;
  const done = new Promise<number>((resolve) => {
    resolveDone = resolve;
  });
  let hurry: () => void = () => {};
  let removeSignals: () => void = () => {};
  let stopping: Promise<number> | null = null;

  const stop = (reason = 'requested'): Promise<number> => {
    stopping ??= (async () => {
      for (const t of tasks) t.stop();
      guard.stop();
      const { running, dropped } = loop.stopScheduling();
      log.info('agent stopping', { reason, running, droppedWaiting: dropped });
      if (running) {
        const since = now();
        log.info('waiting for the running job to finish', { job: running, timeoutMs: options.shutdownTimeoutMs });
        let timer: NodeJS.Timeout | undefined;
        const finished = await Promise.race([
          loop.settled().then(() => true),
          new Promise<boolean>((resolve) => {
            timer = setTimeout(() => resolve(false), options.shutdownTimeoutMs);
            hurry = () => resolve(false);
          }),
        ]);
        clearTimeout(timer);
        if (!finished) {
          log.warn('stopped waiting for the running job', {
            job: running,
            waitedMs: now() - since,
            note: 'changes are switched in atomically per interface, so the host runs either the old or the new generation',
          });
        }
      }
      if (server) await server.close();
      removeSignals();
      log.info('agent stopped', { exitCode: 0, dataplane: 'left in place' });
      resolveDone(0);
      return 0;
    })();
    return stopping;
  };

  if (runtime.signals ?? true) {
    const exit = runtime.exit ?? ((code: number) => process.exit(code));
    removeSignals = handleSignals({
      reconcileNow: () => {
        void loop.request('signal');
      },
      stop: (signal) => {
        void stop(signal).then((code) => exit(code));
      },
      hurry: (signal) => {
        log.warn('second stop signal: not waiting any longer', { signal });
        hurry();
      },
    });
  }

  log.info('agent started', {
    schedule: checked.schedule.text,
    driftSchedule: checked.driftSchedule.text,
    driftMode: options.driftMode,
    jitterMs: options.jitterMs,
    retry: options.retry,
    runOnStart: options.runOnStart,
    listen: server ? formatListen(server.address) : 'off',
    pid: process.pid,
  });
  // Protection first: the last applied state goes back onto every expected interface before any fetch, so a host
  // that boots while Git is unreachable is protected all the same.
  await guard.start();
  if (options.runOnStart) void loop.request('startup');

  return {
    address: server?.address ?? null,
    status: () => record.statusDocument(),
    reconcileNow: () => loop.request('signal'),
    stop,
    done,
  };
}

// The schedules' clock: node-cron tasks with overlap prevention and a random delay, behind a small interface
// (the runtime's tests drive it by hand for determinism; the agent uses node-cron).
import { createTask, type Logger as CronLogger } from 'node-cron';
import type { JobKind } from './agent-state.js';
import type { Log } from './log.js';

export interface TickSpec {
  job: JobKind;
  /** A cron expression node-cron accepts (see schedule.ts). */
  expression: string;
  /** Each tick waits a random 0..maxRandomDelayMs before it runs, so hosts on one schedule do not act in step. */
  maxRandomDelayMs: number;
  /** Runs the job; resolves when it finished (or was skipped). */
  onTick: () => Promise<void>;
  /** A tick came while the previous tick of this job had not finished (its random delay counts): it was dropped. */
  onOverlap: () => void;
}

export interface TickerTask {
  stop(): void;
}

export interface Ticker {
  start(spec: TickSpec): TickerTask;
}

/** node-cron's own messages (overlap, missed ticks) are reported through the agent's log, at debug level, since
 *  the agent logs the same events as structured records itself. */
function cronLogger(log: Log, job: JobKind): CronLogger {
  const text = (m: string | Error): string => (m instanceof Error ? m.message : m);
  return {
    info: (m) => log.debug('node-cron', { job, detail: m }),
    warn: (m) => log.debug('node-cron', { job, detail: m }),
    error: (m, e) => log.error('node-cron error', { job, detail: text(m), error: e?.message }),
    debug: (m) => log.debug('node-cron', { job, detail: text(m) }),
  };
}

export function cronTicker(log: Log): Ticker {
  return {
    start(spec) {
      const task = createTask(spec.expression, () => spec.onTick(), {
        name: `notrack-${spec.job}`,
        noOverlap: true,
        maxRandomDelay: spec.maxRandomDelayMs,
        logger: cronLogger(log, spec.job),
      });
      task.on('execution:overlap', () => spec.onOverlap());
      task.on('execution:missed', (ctx) =>
        log.warn('scheduled tick missed', {
          job: spec.job,
          at: ctx.date.toISOString(),
          why: 'the event loop was blocked past the tick',
        }),
      );
      void task.start();
      return {
        stop: () => {
          void task.destroy();
        },
      };
    },
  };
}

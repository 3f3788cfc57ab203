// A schedule flag to the cron expression node-cron runs: a cron expression as is, or an interval like "30s"/"5m".
//
// Intervals become cron expressions rather than a timer of their own, so that one mechanism (node-cron, with its
// overlap prevention and random delay) runs every schedule. Cron fields restart at each minute, hour and day, so
// only intervals that divide the next larger unit evenly keep a steady pace ("*/7" minutes would run at :56 and
// then :00); other intervals are refused with the ones that work. Cron ticks are aligned to the wall clock on every
// host, which is why the agent adds a random delay (--jitter) before each run.
import { validateDetailed } from 'node-cron';
import { UsageError } from '../errors.js';
import { formatDuration, looksLikeDuration, parseDuration } from './duration.js';

export interface Schedule {
  /** What node-cron runs (5 fields, or 6 with seconds first). */
  expression: string;
  /** The steady period when the schedule was given as an interval; null for a cron expression. */
  periodMs: number | null;
  /** For logs and /status: "every 30s", or "cron " and the expression. */
  text: string;
}

const EVEN_SECONDS = [1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30];
const EVEN_HOURS = [1, 2, 3, 4, 6, 8, 12];
const INTERVALS_THAT_WORK =
  '1s 2s 3s 4s 5s 6s 10s 12s 15s 20s 30s, 1m 2m 3m 4m 5m 6m 10m 12m 15m 20m 30m, 1h 2h 3h 4h 6h 8h 12h, 24h';

/** Reads `value` as a cron expression or an interval; throws UsageError naming `flag` when it is neither. */
export function parseSchedule(value: string, flag: string): Schedule {
  const text = value.trim();
  if (looksLikeDuration(text)) return fromInterval(parseDuration(text, flag), text, flag);
  const check = validateDetailed(text);
  if (!check.valid) {
    const why = check.errors.map((e) => e.message).join('; ');
    throw new UsageError(
      `--${flag} must be a cron expression ("*/1 * * * *", or 6 fields with seconds first) ` +
        `or an interval such as 30s or 5m; "${value}": ${why}`,
    );
  }
  return { expression: text, periodMs: null, text: `cron ${text}` };
}

function fromInterval(ms: number, original: string, flag: string): Schedule {
  const s = ms / 1000;
  const every = (expression: string): Schedule => ({ expression, periodMs: ms, text: `every ${formatDuration(ms)}` });
  if (Number.isInteger(s) && s > 0) {
    if (s < 60 && EVEN_SECONDS.includes(s)) return every(s === 1 ? '* * * * * *' : `*/${s} * * * * *`);
    const m = s / 60;
    if (Number.isInteger(m) && m < 60 && EVEN_SECONDS.includes(m))
      return every(m === 1 ? '0 * * * * *' : `0 */${m} * * * *`);
    const h = s / 3600;
    if (Number.isInteger(h) && EVEN_HOURS.includes(h)) return every(h === 1 ? '0 0 * * * *' : `0 0 */${h} * * *`);
    if (h === 24) return every('0 0 0 * * *');
  }
  throw new UsageError(
    `--${flag} ${original}: an interval must divide a minute, an hour or a day evenly to keep a ` +
      `steady pace (${INTERVALS_THAT_WORK}); write a cron expression for anything else`,
  );
}

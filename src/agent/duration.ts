// Durations as people write them on a command line ("30s", "5m", "1h30m", "250ms") to milliseconds, and back.
import { UsageError } from '../errors.js';

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const DURATION = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+$/;
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/g;

/** Is `text` shaped like a duration (so a schedule flag can tell a duration from a cron expression)? */
export function looksLikeDuration(text: string): boolean {
  return DURATION.test(text.trim());
}

/**
 * Milliseconds in `text`: one or more number+unit parts (ms, s, m, h, d), e.g. "90s", "1m30s"; "0" alone is zero.
 * Throws UsageError naming the flag otherwise: a bare number would leave the unit to a guess.
 */
export function parseDuration(text: string, flag: string): number {
  const t = text.trim();
  if (t === '0') return 0;
  if (!DURATION.test(t)) {
    throw new UsageError(`--${flag} takes a duration such as 500ms, 30s, 5m, 1h or 1m30s, not "${text}"`);
  }
  let ms = 0;
  for (const m of t.matchAll(PART)) ms += Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
  return Math.round(ms);
}

/** A short form for logs and messages: 90000 -> "1m30s", 1500 -> "1.5s", 250 -> "250ms". */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms % 1000 !== 0 && ms < 60_000) return `${Math.round(ms) / 1000}s`;
  let rest = Math.round(ms / 1000);
  const parts: string[] = [];
  for (const [unit, size] of [
    ['d', 86_400],
    ['h', 3_600],
    ['m', 60],
    ['s', 1],
  ] as const) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  return parts.join('');
}

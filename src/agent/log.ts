// The agent's log: one JSON object per line on stdout ({"ts","level","msg", ...fields}), or key=value text for people.
//
// JSON lines go to journald or a container log as they are and are queried by field (status, reason, trigger);
// the text form is the same record, flattened, for a terminal.

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFormat = 'json' | 'text';
export type LogFields = Record<string, unknown>;

export interface Log {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
}

const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };
const RESERVED = new Set(['ts', 'level', 'msg']);

interface LogOptions {
  format: LogFormat;
  /** Lines below this level are dropped. */
  level: LogLevel;
  /** Receives one complete line, newline included. */
  write: (line: string) => void;
  now: () => number;
}

export function createLog(options: LogOptions): Log {
  const emit = (level: LogLevel, msg: string, fields: LogFields = {}): void => {
    if (RANK[level] < RANK[options.level]) return;
    const ts = new Date(options.now()).toISOString();
    const rest = Object.fromEntries(Object.entries(fields).filter(([k, v]) => !RESERVED.has(k) && v !== undefined));
    const line =
      options.format === 'json'
        ? JSON.stringify({ ts, level, msg, ...rest }, jsonValue)
        : textLine(ts, level, msg, rest);
    options.write(`${line}\n`);
  };
  return {
    debug: (msg, fields) => emit('debug', msg, fields),
    info: (msg, fields) => emit('info', msg, fields),
    warn: (msg, fields) => emit('warn', msg, fields),
    error: (msg, fields) => emit('error', msg, fields),
  };
}

/** Kernel counters are bigints, which JSON.stringify refuses; errors would print as {}. */
function jsonValue(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Error) return value.message;
  return value;
}

function textLine(ts: string, level: LogLevel, msg: string, fields: LogFields): string {
  const pairs: string[] = [];
  const add = (key: string, value: unknown): void => {
    if (value === undefined) return;
    if (value !== null && typeof value === 'object' && !Array.isArray(value) && !(value instanceof Error)) {
      for (const [k, v] of Object.entries(value)) add(`${key}.${k}`, v);
      return;
    }
    pairs.push(`${key}=${textValue(value)}`);
  };
  for (const [k, v] of Object.entries(fields)) add(k, v);
  return [ts, level.toUpperCase().padEnd(5), msg, ...pairs].join(' ');
}

function textValue(value: unknown): string {
  if (value === null) return '-';
  if (typeof value === 'string') return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  if (Array.isArray(value)) return JSON.stringify(value, jsonValue);
  return String(value instanceof Error ? value.message : value);
}

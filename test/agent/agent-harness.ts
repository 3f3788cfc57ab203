// Starts the agent for a test with a hand-driven ticker, captured log lines and a loopback port of its own.
import { runAgent, type AgentHandle } from '../../src/agent/run-agent.js';
import { DEFAULT_AGENT_OPTIONS, type AgentOptions } from '../../src/agent/options.js';
import type { JobKind } from '../../src/agent/agent-state.js';
import type { Reconciler } from '../../src/agent/reconciler.js';
import type { Ticker, TickSpec } from '../../src/agent/ticker.js';

/** Ticks when the test says so. Like node-cron without noOverlap: the agent's own lock must cope. */
export class ManualTicker implements Ticker {
  readonly specs = new Map<JobKind, TickSpec>();
  readonly stopped = new Set<JobKind>();
  start(spec: TickSpec) {
    this.specs.set(spec.job, spec);
    return {
      stop: () => {
        this.stopped.add(spec.job);
      },
    };
  }
  fire(job: JobKind): Promise<void> {
    const spec = this.specs.get(job);
    if (!spec) throw new Error(`no ${job} schedule started`);
    if (this.stopped.has(job)) throw new Error(`${job} schedule was stopped`);
    return spec.onTick();
  }
}

export type LogEntry = Record<string, unknown> & { ts: string; level: string; msg: string };

export class LogCapture {
  readonly lines: string[] = [];
  readonly write = (line: string): void => {
    this.lines.push(line);
  };
  entries(): LogEntry[] {
    return this.lines.map((l) => JSON.parse(l) as LogEntry);
  }
  find(pred: (e: LogEntry) => boolean): LogEntry[] {
    return this.entries().filter(pred);
  }
  /** Waits until `count` entries match. */
  async waitFor(pred: (e: LogEntry) => boolean, count = 1, timeoutMs = 3000): Promise<LogEntry[]> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const found = this.find(pred);
      if (found.length >= count) return found;
      if (Date.now() > until)
        throw new Error(`timed out waiting for ${count} log entries; have:\n${this.lines.join('')}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }
}

export const finished =
  (trigger?: string) =>
  (e: LogEntry): boolean =>
    e.msg === 'reconcile finished' && (trigger === undefined || e['trigger'] === trigger);

export interface TestAgent {
  handle: AgentHandle;
  ticker: ManualTicker;
  log: LogCapture;
  url: (path: string) => string;
}

export async function startAgent(
  reconciler: Reconciler,
  options: Partial<AgentOptions> = {},
  runtime: { now?: () => number; random?: () => number } = {},
): Promise<TestAgent> {
  const ticker = new ManualTicker();
  const log = new LogCapture();
  const handle = await runAgent(
    { ...DEFAULT_AGENT_OPTIONS, listen: '127.0.0.1:0', jitterMs: 0, ...options },
    reconciler,
    { ticker, write: log.write, signals: false, ...runtime },
  );
  const url = (path: string): string => `http://127.0.0.1:${handle.address?.port}${path}`;
  return { handle, ticker, log, url };
}

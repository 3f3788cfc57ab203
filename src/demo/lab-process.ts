// A long-running program inside a lab namespace (a notrack agent, a listener): its output as it comes, a wait for
// a line, and a stop that escalates to SIGKILL. Whatever is still running ends with the lab's namespaces.
import type { ChildProcess } from 'node:child_process';

export class LabProcess {
  readonly child: ChildProcess;
  /** What it printed so far, stdout and stderr interleaved as they arrived. */
  output = '';
  private readonly closed: Promise<number | null>;
  private readonly waiters = new Set<() => void>();

  constructor(child: ChildProcess) {
    this.child = child;
    const take = (c: Buffer): void => {
      this.output += c.toString();
      for (const w of this.waiters) w();
    };
    child.stdout?.on('data', take);
    child.stderr?.on('data', take);
    this.closed = new Promise((resolve) =>
      child.on('close', (code) => {
        for (const w of this.waiters) w();
        resolve(code);
      }),
    );
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /**
   * Resolves with the first match of `pattern` in the output after `from` (a length of `output` taken earlier);
   * rejects when the process ends or `timeoutMs` passes first.
   */
  waitFor(pattern: RegExp, opts: { from?: number; timeoutMs?: number } = {}): Promise<RegExpMatchArray> {
    return this.wait(() => this.output.slice(opts.from ?? 0).match(pattern), String(pattern), opts.timeoutMs);
  }

  /**
   * Resolves with the first complete line after `from` that `accept` takes (for JSON logs: parse and look);
   * rejects when the process ends or `timeoutMs` passes first.
   */
  waitForLine<T>(
    accept: (line: string) => T | null | undefined,
    opts: { from?: number; timeoutMs?: number; what?: string } = {},
  ): Promise<T> {
    return this.wait(
      () => {
        const text = this.output.slice(opts.from ?? 0);
        const lines = text.slice(0, text.lastIndexOf('\n') + 1).split('\n');
        for (const line of lines) {
          const found = line === '' ? null : accept(line);
          if (found !== null && found !== undefined) return found;
        }
        return null;
      },
      opts.what ?? 'the awaited line',
      opts.timeoutMs,
    );
  }

  private wait<T>(look: () => T | null, what: string, timeoutMs = 30_000): Promise<T> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const found = look();
        if (found !== null) {
          finish();
          resolve(found);
          return;
        }
        if (!this.running) {
          finish();
          reject(new Error(`the process ended before printing ${what}:\n${this.output.slice(-3000)}`));
        }
      };
      const finish = (): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`${what} did not appear within ${timeoutMs} ms:\n${this.output.slice(-3000)}`));
      }, timeoutMs);
      this.waiters.add(check);
      check();
    });
  }

  /** Sends `signal` (default SIGTERM), then SIGKILL after `graceMs`; resolves with the exit status. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 10_000): Promise<number | null> {
    if (!this.running) return this.closed;
    this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    const code = await this.closed;
    clearTimeout(timer);
    return code;
  }

  /** Resolves with the exit status once the process has ended. */
  exited(): Promise<number | null> {
    return this.closed;
  }
}

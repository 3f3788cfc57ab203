// Keeps the host protected between schedules: observes protection in the kernel on a short period and after every
// link change, and attaches at once to an expected interface that appears or is re-created (rtnetlink watch).
// It runs beside the single-flight loop, never behind it: a slow fetch must not leave a new interface open.
import type { AgentRecord } from './agent-record.js';
import type { Log } from './log.js';
import type { Reconciler } from './reconciler.js';

interface GuardOptions {
  mode: 'enforce' | 'warn';
  /** How often protection is observed without a link event. */
  intervalMs: number;
  /** False while reconciling is suspended: protection is still observed and shown, nothing is attached. */
  acting: () => boolean;
}

export class ProtectionGuard {
  private timer: NodeJS.Timeout | null = null;
  private debounce: NodeJS.Timeout | null = null;
  private stopWatch: () => void = () => {};
  private running: Promise<void> | null = null;
  private again: { trigger: string; since: number } | null = null;
  private stopped = false;

  constructor(
    private readonly reconciler: Reconciler,
    private readonly record: AgentRecord,
    private readonly log: Log,
    private readonly now: () => number,
    private readonly options: GuardOptions,
  ) {}

  /** Starts watching; resolves after the first protect-and-observe pass (the start-up restore of XDP). */
  async start(): Promise<void> {
    if (this.reconciler.watchLinks) {
      this.stopWatch = this.reconciler.watchLinks(
        (what) => this.soon(what),
        (why) => this.log.error('link watch failed; protection is observed on the period only', { error: why }),
      );
    }
    this.timer = setInterval(() => void this.pass('period', this.now(), false), this.options.intervalMs);
    this.timer.unref();
    if (this.reconciler.restore && this.options.acting()) {
      try {
        const r = await this.reconciler.restore(this.options.mode);
        if (r) this.record.restored(r);
      } catch (e) {
        this.log.error('restoring the last applied state failed', { error: (e as Error)?.message ?? String(e) });
      }
    }
    await this.pass('startup', this.now(), true);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.debounce) clearTimeout(this.debounce);
    this.stopWatch();
  }

  /** The end of any job that may have changed the host: observe again. */
  observe(): Promise<void> {
    return this.pass('job', this.now(), false);
  }

  /** A link changed: bursts of rtnetlink messages (create, up, carrier) are gathered for a moment, then acted on. */
  private soon(what: string): void {
    if (this.stopped) return;
    const since = this.now();
    if (this.debounce) return;
    this.debounce = setTimeout(() => {
      this.debounce = null;
      void this.pass(`link ${what}`, since, true);
    }, 50);
  }

  private pass(trigger: string, since: number, act: boolean): Promise<void> {
    if (this.running) {
      if (act) this.again = { trigger, since };
      return this.running;
    }
    this.running = (async () => {
      try {
        if (act && this.options.acting() && this.reconciler.protect) {
          const outcome = await this.reconciler.protect(this.options.mode);
          this.record.protectedInterfaces(trigger, outcome, this.now() - since);
        }
        if (this.reconciler.protection) this.record.protectionObserved(await this.reconciler.protection());
      } catch (e) {
        this.log.error('observing protection failed', { trigger, error: (e as Error)?.message ?? String(e) });
      } finally {
        this.running = null;
      }
      const next = this.again;
      this.again = null;
      if (next && !this.stopped) await this.pass(next.trigger, next.since, true);
    })();
    return this.running;
  }
}

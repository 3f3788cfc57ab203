// One job at a time on the host: reconciles and drift checks share the dataplane, so they take turns in FIFO order.
//
// Jobs are named by kind; callers ask whether a kind is running or waiting before they submit, which is how a
// scheduled tick that overlaps its own kind is skipped while a different kind waits its turn.

interface Waiting<K> {
  key: K;
  run: () => Promise<void>;
  settle: () => void;
}

export class SingleFlight<K extends string> {
  private current: { key: K; since: number; done: Promise<void> } | null = null;
  private readonly waiting: Waiting<K>[] = [];

  constructor(private readonly now: () => number) {}

  running(): { key: K; since: number } | null {
    return this.current ? { key: this.current.key, since: this.current.since } : null;
  }

  isWaiting(key: K): boolean {
    return this.waiting.some((w) => w.key === key);
  }

  /** Runs `run` once nothing else runs; resolves when it finished, or when it was cancelled before it started.
   *  `run` must not throw (a throw is swallowed here, so the queue keeps moving). */
  submit(key: K, run: () => Promise<void>): Promise<void> {
    return new Promise<void>((settle) => {
      this.waiting.push({ key, run, settle });
      this.next();
    });
  }

  /** Drops every job that has not started; their submit() promises resolve. Returns how many were dropped. */
  cancelWaiting(): number {
    const dropped = this.waiting.splice(0);
    for (const w of dropped) w.settle();
    return dropped.length;
  }

  /** Resolves when the running job (if any) has finished. */
  settled(): Promise<void> {
    return this.current?.done ?? Promise.resolve();
  }

  private next(): void {
    if (this.current) return;
    const job = this.waiting.shift();
    if (!job) return;
    // Taken before the job starts: its synchronous first steps must already see the lock held.
    const slot: { key: K; since: number; done: Promise<void> } = {
      key: job.key,
      since: this.now(),
      done: Promise.resolve(),
    };
    this.current = slot;
    slot.done = (async () => {
      try {
        await job.run();
      } catch {
        /* the runner reports its own failures; the lock must still move on */
      }
    })();
    void slot.done.then(() => {
      this.current = null;
      job.settle();
      this.next();
    });
  }
}

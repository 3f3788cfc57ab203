// One job at a time on the host: reconciles and drift checks share the dataplane, so they take turns in FIFO order.
//
// Jobs are named by kind; callers ask whether a kind is running or waiting before they submit, which is how a
// scheduled tick that overlaps its own kind is skipped while a different kind waits its turn.

interface Waiting<K> {
  key: K;
  run: () => Promise<void>;
  settle: () => void;
}

type Slot<K> = { key: K; since: number; done: Promise<void> };

export class SingleFlight<K extends string> {
  private current: Slot<K> | null = null;
  /** The job that stepped out of the lock (outside()) and will take it back. */
  private parked: Slot<K> | null = null;
  /** Hands the lock back to the parked job as soon as the job that ran meanwhile ends. */
  private reclaim: (() => void) | null = null;
  private readonly waiting: Waiting<K>[] = [];

  constructor(private readonly now: () => number) {}

  running(): { key: K; since: number } | null {
    const slot = this.current ?? this.parked;
    return slot ? { key: slot.key, since: slot.since } : null;
  }

  /** Whether a job of `key` runs, holding the lock or stepped out of it. */
  isRunning(key: K): boolean {
    return this.current?.key === key || this.parked?.key === key;
  }

  /**
   * Called by the running job: runs `fn` with the lock released, so waiting jobs of other kinds go ahead, and
   * takes the lock back (before anything else that waits) once `fn` ended and the job let in meanwhile finished.
   * For work that touches nothing the other jobs touch (a network fetch).
   */
  async outside<T>(fn: () => Promise<T>): Promise<T> {
    const slot = this.current;
    if (!slot || this.parked) return fn();
    this.current = null;
    this.parked = slot;
    this.next();
    try {
      return await fn();
    } finally {
      // The job let in meanwhile hands the slot over when it ends (see next()), so nothing can slip in between.
      if (this.current) await new Promise<void>((resolve) => (this.reclaim = resolve));
      else {
        this.current = slot;
        this.parked = null;
      }
    }
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
    return Promise.all([this.current?.done, this.parked?.done]).then(() => {});
  }

  private next(): void {
    if (this.current) return;
    // While a job stepped out, only other kinds go ahead: two of one kind never overlap.
    const i = this.waiting.findIndex((w) => w.key !== this.parked?.key);
    if (i < 0) return;
    const job = this.waiting.splice(i, 1)[0]!;
    // Taken before the job starts: its synchronous first steps must already see the lock held.
    const slot: Slot<K> = {
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
      const reclaim = this.reclaim;
      this.reclaim = null;
      if (reclaim) {
        this.current = this.parked;
        this.parked = null;
        reclaim();
      } else this.next();
    });
  }
}

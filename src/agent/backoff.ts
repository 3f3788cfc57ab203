// How long to wait before retrying a Failed reconcile: exponential growth, capped, with random jitter.
//
// The jitter only shortens a delay (by up to `jitter` of it), so the cap holds and, with factor >= 1 / (1 - jitter),
// every retry still waits longer than the one before. Hosts that failed together (a Git outage) spread out instead
// of returning to the server in step.

export interface RetryPolicy {
  /** Delay before the first retry. */
  initialMs: number;
  /** No delay is longer than this. */
  maxMs: number;
  /** Each retry waits this many times longer than the one before, up to maxMs. */
  factor: number;
  /** Fraction (0..1) of a delay that may be taken off at random. */
  jitter: number;
}

export const DEFAULT_RETRY: RetryPolicy = { initialMs: 10_000, maxMs: 300_000, factor: 2, jitter: 0.2 };

/** The delay before retry number `attempt` (1 for the first retry); `random` returns [0, 1). */
export function retryDelay(policy: RetryPolicy, attempt: number, random: () => number): number {
  const grown = policy.initialMs * policy.factor ** Math.max(0, attempt - 1);
  const base = Math.min(policy.maxMs, grown);
  return Math.max(0, Math.round(base * (1 - policy.jitter * random())));
}

// A scripted, in-memory Reconciler for the agent runtime's tests: outcomes in order, delays, throws, and a record
// of every call with the number of calls in flight (to catch overlaps).
import type {
  Counters,
  DriftOutcome,
  ReconcileOutcome,
  ReconcileReason,
  ReconcileTrigger,
  Reconciler,
} from '../../src/agent/reconciler.js';

/** A scripted outcome; it may wait (`delayMs`, or until the promise `until` settles), throw, or never end (`hang`). */
export type Step<T> = T & { delayMs?: number; until?: Promise<void>; throws?: string; hang?: boolean };

export interface Call {
  method: 'reconcile' | 'checkDrift' | 'counters';
  arg: string | null;
  startedAt: number;
  endedAt: number | null;
}

export function ready(
  commit = 'c0ffee0000000000000000000000000000000001',
  generation = 1,
  changes = 0,
): ReconcileOutcome {
  return {
    status: 'Ready',
    reason: 'ReconciliationSucceeded',
    message: `applied ${commit.slice(0, 7)}`,
    revision: { ref: 'main', commit },
    appliedRevision: { commit, generation },
    changes,
    durationMs: 12,
  };
}

export function failed(
  reason: ReconcileReason = 'FetchFailed',
  applied: { commit: string; generation: number } | null = null,
): ReconcileOutcome {
  return {
    status: 'Failed',
    reason,
    message: 'git.example: connection refused',
    revision: null,
    appliedRevision: applied,
    changes: 0,
    durationMs: 5,
  };
}

export function stalled(
  reason: ReconcileReason = 'ValidationFailed',
  applied: { commit: string; generation: number } | null = null,
): ReconcileOutcome {
  return {
    status: 'Stalled',
    reason,
    message: 'policies/db.yaml:10:7: unknown field "protocl"',
    revision: { ref: 'main', commit: 'bad0000000000000000000000000000000000002' },
    appliedRevision: applied,
    changes: 0,
    durationMs: 7,
  };
}

export function inSync(): DriftOutcome {
  return {
    status: 'InSync',
    message: 'the host matches the applied state',
    drifted: [],
    corrected: false,
    durationMs: 3,
  };
}

export const SAMPLE_COUNTERS: Counters = {
  rules: [
    {
      iface: 'eth0',
      policy: 'edge-deny',
      direction: 'ingress',
      index: 0,
      id: '3f2a1b2c4d5e',
      action: 'Deny',
      packets: 12345n,
      bytes: 5_000_000_123n,
    },
    {
      iface: 'eth0',
      policy: 'db-untracked',
      direction: 'egress',
      index: 2,
      id: '9c8b7a6f5e4d',
      action: 'Allow',
      packets: 7n,
      bytes: 700n,
    },
  ],
  reasons: [
    { iface: 'eth0', kind: 'seen', reason: 'seen', packets: 12400n, bytes: 5_000_010_000n },
    { iface: 'eth0', kind: 'verdict', reason: 'dropped', packets: 12345n, bytes: 5_000_000_123n },
    { iface: 'eth0', kind: 'verdict', reason: 'failsafe', packets: 42n, bytes: 4200n },
    { iface: 'eth0', kind: 'log', reason: 'rate_limited', packets: 3n, bytes: 300n },
    { iface: 'eth0', kind: 'error', reason: 'tail_call_failed', packets: 0n, bytes: 0n },
  ],
  interfaces: [
    { iface: 'eth0', protected: true },
    { iface: 'eth1', protected: false },
  ],
};

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class ScriptedReconciler implements Reconciler {
  readonly calls: Call[] = [];
  /** reconcile() and checkDrift() calls running now, and the most ever at once. */
  inFlight = 0;
  maxInFlight = 0;
  countersError: string | null = null;
  private readonly countersValue: Counters;
  private readonly reconcileSteps: Step<ReconcileOutcome>[];
  private readonly driftSteps: ((mode: 'enforce' | 'warn') => Step<DriftOutcome>)[];

  constructor(
    script: {
      reconcile?: Step<ReconcileOutcome>[];
      drift?: ((mode: 'enforce' | 'warn') => Step<DriftOutcome>)[];
      counters?: Counters;
    } = {},
  ) {
    this.reconcileSteps = script.reconcile ?? [ready()];
    this.driftSteps = script.drift ?? [() => inSync()];
    this.countersValue = script.counters ?? SAMPLE_COUNTERS;
  }

  reconciles(): Call[] {
    return this.calls.filter((c) => c.method === 'reconcile');
  }
  driftChecks(): Call[] {
    return this.calls.filter((c) => c.method === 'checkDrift');
  }

  async reconcile(trigger: ReconcileTrigger): Promise<ReconcileOutcome> {
    const n = this.reconciles().length;
    const step = this.reconcileSteps[Math.min(n, this.reconcileSteps.length - 1)]!;
    return this.play('reconcile', trigger, step);
  }

  async checkDrift(mode: 'enforce' | 'warn'): Promise<DriftOutcome> {
    const n = this.driftChecks().length;
    const step = this.driftSteps[Math.min(n, this.driftSteps.length - 1)]!(mode);
    return this.play('checkDrift', mode, step);
  }

  async counters(): Promise<Counters> {
    this.calls.push({ method: 'counters', arg: null, startedAt: Date.now(), endedAt: Date.now() });
    if (this.countersError) throw new Error(this.countersError);
    return this.countersValue;
  }

  private async play<T>(method: 'reconcile' | 'checkDrift', arg: string, step: Step<T>): Promise<T> {
    const call: Call = { method, arg, startedAt: Date.now(), endedAt: null };
    this.calls.push(call);
    this.inFlight += 1;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      if (step.hang) await new Promise(() => {});
      if (step.delayMs) await sleep(step.delayMs);
      if (step.until) await step.until;
      if (step.throws) throw new Error(step.throws);
      const { delayMs: _d, until: _u, throws: _t, hang: _h, ...outcome } = step;
      return outcome as T;
    } finally {
      this.inFlight -= 1;
      call.endedAt = Date.now();
    }
  }
}

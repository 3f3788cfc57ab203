// Prometheus metrics of the agent, in a registry of its own: reconcile and drift outcomes, and the kernel's
// per-rule and per-verdict counters, read from the host at scrape time.
//
// Kernel counters are absolute and only grow while a program generation runs, so they are exposed as counters
// whose value is set at each scrape (a replaced generation shows as a counter reset, which rate() handles). One
// scrape reads the host once: the three collect callbacks share the read in flight.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { AppliedRevision } from './agent-state.js';
import {
  RECONCILE_REASONS,
  type Counters,
  type DriftOutcome,
  type ReconcileOutcome,
  type ReconcileReason,
} from './reconciler.js';

const RULE_LABELS = ['iface', 'policy', 'direction', 'rule', 'action'] as const;

/** The stage a failure belongs to, for notrack_errors_total: 'FetchFailed' -> 'fetch' (RECONCILE_REASONS). */
function failureStage(reason: ReconcileReason): string {
  return RECONCILE_REASONS[reason].stage ?? 'reconcile';
}

export class AgentMetrics {
  readonly registry = new Registry();
  private readonly reconcileTotal;
  private readonly reconcileDuration;
  private readonly lastAppliedInfo;
  private readonly lastAppliedGeneration;
  private readonly lastSuccess;
  private readonly condition;
  private readonly driftObjects;
  private readonly driftChecks;
  private readonly errors;
  private inflight: Promise<Counters | null> | null = null;

  /** `readCounters` is called at most once per scrape; `onReadError` hears why a read failed. */
  constructor(readCounters: () => Promise<Counters>, onReadError: (e: unknown) => void) {
    const registers = [this.registry];
    const shared = (): Promise<Counters | null> => {
      this.inflight ??= readCounters()
        .then(
          (c) => c,
          (e: unknown) => {
            this.errors.inc({ stage: 'counters' });
            onReadError(e);
            return null;
          },
        )
        .finally(() => {
          this.inflight = null;
        });
      return this.inflight;
    };

    new Counter({
      name: 'notrack_rule_packets_total',
      help: 'Packets matched by each policy rule (kernel counter, read at scrape).',
      labelNames: RULE_LABELS,
      registers,
      async collect() {
        const c = await shared();
        this.reset();
        for (const r of c?.rules ?? []) this.inc(ruleLabels(r), Number(r.packets));
      },
    });
    new Counter({
      name: 'notrack_rule_bytes_total',
      help: 'Bytes matched by each policy rule (kernel counter, read at scrape).',
      labelNames: RULE_LABELS,
      registers,
      async collect() {
        const c = await shared();
        this.reset();
        for (const r of c?.rules ?? []) this.inc(ruleLabels(r), Number(r.bytes));
      },
    });
    new Counter({
      name: 'notrack_packets_total',
      help: 'Packets per interface and verdict reason: accepted, dropped, failsafe, ... (kernel counter).',
      labelNames: ['iface', 'reason'],
      registers,
      async collect() {
        const c = await shared();
        this.reset();
        for (const r of c?.reasons ?? []) this.inc({ iface: r.iface, reason: r.reason }, Number(r.packets));
      },
    });
    this.reconcileTotal = new Counter({
      name: 'notrack_reconcile_total',
      help: 'Reconciles by outcome status and reason.',
      labelNames: ['status', 'reason'],
      registers,
    });
    this.reconcileDuration = new Histogram({
      name: 'notrack_reconcile_duration_seconds',
      help: 'How long reconciles took.',
      registers,
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
    });
    this.lastAppliedInfo = new Gauge({
      name: 'notrack_last_applied_info',
      help: 'The policy commit (and the ref it came from) this host runs; always 1.',
      labelNames: ['commit', 'ref'],
      registers,
    });
    this.lastAppliedGeneration = new Gauge({
      name: 'notrack_last_applied_generation',
      help: 'The dataplane generation this host runs.',
      registers,
    });
    this.lastSuccess = new Gauge({
      name: 'notrack_last_success_timestamp_seconds',
      help: 'When the last Ready reconcile finished (Unix time).',
      registers,
    });
    this.condition = new Gauge({
      name: 'notrack_reconcile_condition',
      help: '1 for the status of the latest reconcile (Ready, Stalled, Failed), 0 for the others.',
      labelNames: ['status'],
      registers,
    });
    this.driftObjects = new Gauge({
      name: 'notrack_drift_objects',
      help: 'Objects found drifted by the latest drift check.',
      registers,
    });
    this.driftChecks = new Counter({
      name: 'notrack_drift_checks_total',
      help: 'Drift checks by outcome status.',
      labelNames: ['status'],
      registers,
    });
    this.errors = new Counter({
      name: 'notrack_errors_total',
      help: 'Failures by stage: fetch, validation, apply, ... from reconcile reasons; drift; counters.',
      labelNames: ['stage'],
      registers,
    });
  }

  reconciled(outcome: ReconcileOutcome, applied: AppliedRevision | null, finishedAtMs: number): void {
    this.reconcileTotal.inc({ status: outcome.status, reason: outcome.reason });
    this.reconcileDuration.observe(outcome.durationMs / 1000);
    for (const s of ['Ready', 'Stalled', 'Failed'] as const)
      this.condition.set({ status: s }, s === outcome.status ? 1 : 0);
    if (outcome.status === 'Ready') this.lastSuccess.set(finishedAtMs / 1000);
    else this.errors.inc({ stage: failureStage(outcome.reason) });
    if (applied) {
      this.lastAppliedInfo.reset();
      this.lastAppliedInfo.set({ commit: applied.commit ?? '', ref: applied.ref ?? '' }, 1);
      this.lastAppliedGeneration.set(applied.generation);
    }
  }

  driftChecked(outcome: DriftOutcome): void {
    this.driftChecks.inc({ status: outcome.status });
    if (outcome.status === 'Failed') this.errors.inc({ stage: 'drift' });
    else this.driftObjects.set(outcome.drifted.length);
  }

  /** The exposition text, reading the host's counters once. */
  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}

function ruleLabels(r: Counters['rules'][number]): Record<(typeof RULE_LABELS)[number], string> {
  return { iface: r.iface, policy: r.policy, direction: r.direction, rule: String(r.index), action: r.action };
}

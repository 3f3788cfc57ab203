// Prometheus metrics of the agent, in a registry of its own: reconcile and drift outcomes, the kernel's per-rule
// and per-verdict counters (read from the host at scrape time), build info and the process's own metrics.
// Each family measures one thing (verdicts, Log events and datapath errors apart), no label carries an aggregate,
// and rules are labelled by a stable id, so that inserting a rule renames no other series.
//
// Kernel counters are absolute and only grow while a program generation runs, so they are exposed as counters
// whose value is set at each scrape (a replaced generation shows as a counter reset, which rate() handles). One
// scrape reads the host once: the three collect callbacks share the read in flight.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { AppliedRevision } from './agent-state.js';
import {
  RECONCILE_REASONS,
  type Counters,
  type DriftOutcome,
  type ReconcileOutcome,
  type ReconcileReason,
} from './reconciler.js';

const RULE_LABELS = ['iface', 'policy', 'direction', 'rule_id', 'action'] as const;

/** What the agent is: `notrack_build_info{version, commit}`. */
export interface BuildLabels {
  version: string;
  commit: string;
}

type DatapathKind = Counters['reasons'][number]['kind'];

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
  private readonly driftDuration;
  private inflight: Promise<Counters | null> | null = null;

  /** `readCounters` is called at most once per scrape; `onReadError` hears why a read failed. */
  constructor(
    readCounters: () => Promise<Counters>,
    onReadError: (e: unknown) => void,
    build: BuildLabels = { version: 'unknown', commit: 'unknown' },
  ) {
    const registers = [this.registry];
    // process_* (CPU, memory, open fds, start time) and nodejs_* (heap, event loop lag, GC) of this process.
    collectDefaultMetrics({ register: this.registry });
    // prom-client names three gauges with a _total suffix, which Prometheus reserves for counters (promtool flags
    // them); nodejs_active_handles and nodejs_active_requests carry the same values without it.
    for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'])
      this.registry.removeSingleMetric(name);
    new Gauge({
      name: 'notrack_build_info',
      help: 'The notrack build this agent runs: version and Git commit; always 1.',
      labelNames: ['version', 'commit'],
      registers,
    }).set({ version: build.version, commit: build.commit }, 1);
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
    const datapath = (name: string, help: string, kind: DatapathKind, label: string | null) =>
      new Counter({
        name,
        help,
        labelNames: label ? ['iface', label] : ['iface'],
        registers,
        async collect() {
          const c = await shared();
          this.reset();
          for (const r of c?.reasons ?? [])
            if (r.kind === kind)
              this.inc(label ? { iface: r.iface, [label]: r.reason } : { iface: r.iface }, Number(r.packets));
        },
      });
    datapath('notrack_xdp_packets_total', 'Packets the XDP program saw, per interface (kernel counter).', 'seen', null);
    datapath(
      'notrack_packets_total',
      'Packets per interface by the one verdict each got: accepted, dropped, failsafe, no_match, ... (kernel counter).',
      'verdict',
      'verdict',
    );
    datapath(
      'notrack_log_events_total',
      'Log rule events per interface: emitted, rate_limited, lost, overflow (kernel counter).',
      'log',
      'event',
    );
    datapath(
      'notrack_datapath_errors_total',
      'Datapath faults per interface: meta_failed, tail_call_failed (kernel counter).',
      'error',
      'error',
    );
    new Gauge({
      name: 'notrack_interface_protected',
      help: "1 when an interface the applied policy names runs notrack's expected program, else 0 (observed in the kernel at scrape).",
      labelNames: ['iface'],
      registers,
      async collect() {
        const c = await shared();
        this.reset();
        for (const i of c?.interfaces ?? []) this.set({ iface: i.iface }, i.protected ? 1 : 0);
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
    this.driftDuration = new Histogram({
      name: 'notrack_drift_check_duration_seconds',
      help: 'How long drift checks took (repairs included in enforce mode).',
      registers,
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
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
    this.driftDuration.observe(outcome.durationMs / 1000);
    if (outcome.status === 'Failed') this.errors.inc({ stage: 'drift' });
    else this.driftObjects.set(outcome.drifted.length);
  }

  /** The exposition text, reading the host's counters once. */
  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}

function ruleLabels(r: Counters['rules'][number]): Record<(typeof RULE_LABELS)[number], string> {
  return { iface: r.iface, policy: r.policy, direction: r.direction, rule_id: r.id, action: r.action };
}

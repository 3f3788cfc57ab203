// One host's reconciler: fetch the policy revision, validate, compile, then apply or check drift, as typed outcomes.
import { performance } from 'node:perf_hooks';
import type { DesiredState } from '../compile/desired-state.js';
import { compileHost } from '../compile/compile-host.js';
import { loadResources } from '../model/load-resources.js';
import { formatDiagnostic } from '../model/diagnostics.js';
import { fetchSource, type SourceOptions, type SourceSnapshot } from '../source/index.js';
import { spawnRunner, type CommandRunner } from '../dataplane/iptables/index.js';
import { observeInterface } from '../dataplane/xdp/index.js';
import { NotrackError } from '../errors.js';
import type {
  Counters,
  DriftOutcome,
  ReconcileOutcome,
  ReconcileReason,
  ReconcileTrigger,
  Reconciler,
} from '../agent/reconciler.js';
import { readAppliedState, readRecord, writeRecord, type AppliedRecord } from './applied-record.js';
import { applyHost, ApplyError, type ApplyHostResult } from './apply-host.js';
import { hostDrift, type DriftItem } from './host-drift.js';
import { hostInterfaces, plannedInterfaces } from './host-dataplane.js';
import { runsRecordedGenerations } from './recorded-generations.js';
import { sourceDigest, sourceUnchanged, writeSourceDigest } from './source-digest.js';

interface HostReconcilerOptions {
  source: SourceOptions;
  host: string;
  bpffs: string;
  stateDir: string;
  runner?: CommandRunner;
  onStep?: (line: string) => void;
}

/** The policy revision this host should run, or why there is none (each reason is a Flux-style condition). */
type DesiredResult =
  | { ok: true; snapshot: SourceSnapshot; state: DesiredState; warnings: string[]; reused?: boolean }
  | {
      ok: false;
      status: 'Stalled' | 'Failed';
      reason: ReconcileReason;
      message: string;
      snapshot: SourceSnapshot | null;
    };

export async function fetchDesired(
  opts: Pick<HostReconcilerOptions, 'source' | 'host'>,
  reuse?: (snapshot: SourceSnapshot) => DesiredState | null,
): Promise<DesiredResult> {
  let snapshot: SourceSnapshot;
  try {
    snapshot = await fetchSource(opts.source);
  } catch (e) {
    return { ok: false, status: 'Failed', reason: 'FetchFailed', message: (e as Error).message, snapshot: null };
  }
  // Content that already compiled to the applied state: no parse, no compile (source-digest.ts).
  const known = reuse?.(snapshot);
  if (known) return { ok: true, snapshot, state: known, warnings: [], reused: true };
  const loaded = loadResources(snapshot.files);
  if (!loaded.valid) {
    const errors = loaded.diagnostics.filter((d) => d.severity === 'error');
    return {
      ok: false,
      status: 'Stalled',
      reason: 'ValidationFailed',
      snapshot,
      message: `${errors.length} validation error${errors.length === 1 ? '' : 's'} at ${snapshotName(snapshot)}; the host keeps its last good state. First: ${formatDiagnostic(errors[0]!)}`,
    };
  }
  if (!loaded.resources.hostEndpoints.some((h) => h.node === opts.host)) {
    return {
      ok: false,
      status: 'Stalled',
      reason: 'HostNotFound',
      snapshot,
      message: `no HostEndpoint in the repository has node "${opts.host}"; nothing is changed (check --host)`,
    };
  }
  try {
    const state = compileHost(loaded.resources, opts.host);
    const warnings = loaded.diagnostics.filter((d) => d.severity === 'warning').map(formatDiagnostic);
    return { ok: true, snapshot, state, warnings };
  } catch (e) {
    return { ok: false, status: 'Stalled', reason: 'CompileFailed', message: (e as Error).message, snapshot };
  }
}

/** How a snapshot is named in messages: its short commit, or the folder it was read from. */
function snapshotName(s: SourceSnapshot): string {
  return s.commit ? s.commit.slice(0, 12) : `the files in ${s.subPath}`;
}

function revisionOf(s: SourceSnapshot | null): ReconcileOutcome['revision'] {
  return s ? { ref: s.ref, commit: s.commit } : null;
}

function appliedOf(record: AppliedRecord | null): ReconcileOutcome['appliedRevision'] {
  if (!record?.desiredHash) return null;
  const gens = Object.values(record.interfaces).map((i) => i.generation);
  return { commit: record.revision.commit, generation: gens.length ? Math.max(...gens) : 0 };
}

function safeRecord(stateDir: string): AppliedRecord | null {
  try {
    return readRecord(stateDir);
  } catch {
    return null;
  }
}

export class HostReconciler implements Reconciler {
  constructor(private readonly opts: HostReconcilerOptions) {}

  private get runner(): CommandRunner {
    return this.opts.runner ?? spawnRunner;
  }

  /** Converges to the configured revision. `repair` also rebuilds what drifted (the `apply` command does). */
  async apply(
    repair: boolean,
  ): Promise<{ outcome: ReconcileOutcome; result: ApplyHostResult | null; warnings: string[] }> {
    const t0 = performance.now();
    const done = (
      o: Omit<ReconcileOutcome, 'durationMs' | 'appliedRevision'>,
      result: ApplyHostResult | null = null,
      warnings: string[] = [],
    ) => ({
      outcome: {
        ...o,
        appliedRevision: appliedOf(safeRecord(this.opts.stateDir)),
        durationMs: Math.round(performance.now() - t0),
      },
      result,
      warnings,
    });
    let digest = '';
    const desired = await fetchDesired(this.opts, (snapshot) => {
      digest = sourceDigest(snapshot, this.opts.host);
      const record = safeRecord(this.opts.stateDir);
      if (!sourceUnchanged(this.opts.stateDir, record, digest, hostInterfaces())) return null;
      // Unchanged content; the host must still carry it: without repair, every interface runs its recorded
      // generation (else compile and converge as usual); with repair, applyHost below checks and repairs.
      if (!repair && !runsRecordedGenerations(record!, this.opts.bpffs)) return null;
      return readAppliedState(this.opts.stateDir);
    });
    if (!desired.ok)
      return done({
        status: desired.status,
        reason: desired.reason,
        message: desired.message,
        revision: revisionOf(desired.snapshot),
        changes: 0,
      });
    const record = safeRecord(this.opts.stateDir);
    if (!repair && record?.desiredHash === desired.state.hash) {
      if (!desired.reused) writeSourceDigest(this.opts.stateDir, digest, desired.state);
      // A new commit that compiles to the same dataplane: nothing to change, but the host now runs that commit.
      if (record.revision.commit !== desired.snapshot.commit) {
        record.revision = { repo: desired.snapshot.repo, ref: desired.snapshot.ref, commit: desired.snapshot.commit };
        writeRecord(this.opts.stateDir, record);
      }
      return done(
        {
          status: 'Ready',
          reason: 'UpToDate',
          // Saying so tells an operator why this reconcile took milliseconds (and what to suspect if it should not).
          message: `already at ${snapshotName(desired.snapshot)}${desired.reused ? ' (policy files unchanged: not compiled again)' : ''}`,
          revision: revisionOf(desired.snapshot),
          changes: 0,
        },
        null,
        desired.warnings,
      );
    }
    try {
      const result = applyHost({
        state: desired.state,
        bpffs: this.opts.bpffs,
        stateDir: this.opts.stateDir,
        repair,
        runner: this.runner,
        revision: { repo: desired.snapshot.repo, ref: desired.snapshot.ref, commit: desired.snapshot.commit },
        ...(this.opts.onStep ? { onStep: this.opts.onStep } : {}),
      });
      writeSourceDigest(this.opts.stateDir, digest, desired.state);
      const missing = result.missingInterfaces.length
        ? ` (interfaces not on this host: ${result.missingInterfaces.join(', ')})`
        : '';
      return done(
        {
          status: 'Ready',
          reason: 'ReconciliationSucceeded',
          revision: revisionOf(desired.snapshot),
          changes: result.changes.length,
          message: `applied ${snapshotName(desired.snapshot)}: ${result.changes.length} change${result.changes.length === 1 ? '' : 's'}${missing}`,
        },
        result,
        desired.warnings,
      );
    } catch (e) {
      const result = e instanceof ApplyError ? e.result : null;
      return done(
        {
          status: 'Failed',
          reason: 'ApplyFailed',
          message: (e as Error).message,
          revision: revisionOf(desired.snapshot),
          changes: result?.changes.length ?? 0,
        },
        result,
        desired.warnings,
      );
    }
  }

  async reconcile(_trigger: ReconcileTrigger): Promise<ReconcileOutcome> {
    return (await this.apply(false)).outcome;
  }

  /** The live host against the last applied state; null when nothing was ever applied here. */
  drift(): DriftItem[] | null {
    const record = readRecord(this.opts.stateDir);
    const applied = readAppliedState(this.opts.stateDir);
    if (!record || !applied) return null;
    return hostDrift({ applied, record, bpffs: this.opts.bpffs, runner: this.runner });
  }

  async checkDrift(mode: 'enforce' | 'warn'): Promise<DriftOutcome> {
    const t0 = performance.now();
    const ms = () => Math.round(performance.now() - t0);
    try {
      const items = this.drift();
      if (items === null)
        return {
          status: 'InSync',
          message: 'nothing applied on this host yet',
          drifted: [],
          corrected: false,
          durationMs: ms(),
        };
      if (!items.length)
        return {
          status: 'InSync',
          message: 'the host matches what notrack applied',
          drifted: [],
          corrected: false,
          durationMs: ms(),
        };
      if (mode === 'warn')
        return {
          status: 'Drifted',
          message: `${items.length} object(s) drifted; warn mode leaves them`,
          drifted: items,
          corrected: false,
          durationMs: ms(),
        };
      // Look again just before repairing: a change by hand still under way when the first look ran (a chain
      // emptied but not yet deleted, a rule added after the program was detached) is then named whole in the
      // report, not mended unseen by the repair.
      const seen = new Set(items.map((d) => `${d.object}\0${d.description}`));
      for (const d of this.drift() ?? []) if (!seen.has(`${d.object}\0${d.description}`)) items.push(d);
      const applied = readAppliedState(this.opts.stateDir)!;
      const record = readRecord(this.opts.stateDir)!;
      applyHost({
        state: applied,
        revision: record.revision,
        bpffs: this.opts.bpffs,
        stateDir: this.opts.stateDir,
        repair: true,
        runner: this.runner,
      });
      const left = this.drift() ?? [];
      return {
        status: 'Drifted',
        drifted: items,
        corrected: left.length === 0,
        durationMs: ms(),
        message: left.length
          ? `${items.length} object(s) drifted; ${left.length} still differ after repair`
          : `${items.length} object(s) drifted and were repaired`,
      };
    } catch (e) {
      return { status: 'Failed', message: (e as Error).message, drifted: [], corrected: false, durationMs: ms() };
    }
  }

  async counters(): Promise<Counters> {
    const out: Counters = { rules: [], reasons: [] };
    const applied = readAppliedState(this.opts.stateDir);
    if (!applied) return out;
    for (const [ifname, iface] of plannedInterfaces(applied, hostInterfaces()).apply) {
      let obs;
      try {
        obs = observeInterface({ ifname, pinDir: this.opts.bpffs });
      } catch {
        continue;
      }
      const active = obs.generations.find((g) => g.number === obs.activeGeneration);
      if (!active) continue;
      for (const [reason, v] of Object.entries(active.counters))
        out.reasons.push({ iface: ifname, reason, packets: v.packets, bytes: v.bytes });
      iface.counters.forEach((ref, i) => {
        const v = active.ruleCounters[i];
        const entry = [...iface.ingress.v4, ...iface.ingress.v6].find((e) => e.counter === i);
        if (v)
          out.rules.push({
            iface: ifname,
            policy: ref.policy,
            direction: ref.direction,
            index: ref.index,
            action: entry?.action ?? 'none',
            packets: v.packets,
            bytes: v.bytes,
          });
      });
    }
    return out;
  }
}

export class NothingAppliedError extends NotrackError {
  constructor(stateDir: string) {
    super(
      'nothing-applied',
      `notrack has not applied anything on this host yet (no record in ${stateDir}); run notrack apply first`,
    );
  }
}

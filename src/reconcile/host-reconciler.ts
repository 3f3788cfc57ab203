// One host's reconciler: fetch the policy revision, validate, compile, then apply or check drift, as typed outcomes.
import { performance } from 'node:perf_hooks';
import type { DesiredState } from '../compile/desired-state.js';
import { fetchSource, type PolicyBlob, type SourceOptions, type SourceSnapshot } from '../source/index.js';
import { DEFAULT_MAX_FILE_BYTES } from '../source/snapshot.js';
import { parseCacheFolder, PersistedParseCache } from './parse-cache.js';
import { spawnRunner, type CommandRunner } from '../dataplane/iptables/index.js';
import { observeInterface } from '../dataplane/xdp/index.js';
import { NotrackError } from '../errors.js';
import { watchLinks } from '../dataplane/link-watch.js';
import { interfaceProtection, observeProtection, protectHost } from './host-protection.js';
import { NothingToRestoreError, restoreHost } from './host-restore.js';
import { removeHost } from './host-remove.js';
import { withHostLock } from './host-lock.js';
import { readSuspension, suspensionText } from './suspension.js';
import type {
  Counters,
  DriftOutcome,
  HostProtection,
  ProtectOutcome,
  RestoreOutcome,
  ReconcileOutcome,
  ReconcileReason,
  ReconcileTrigger,
  Reconciler,
  Unlocked,
} from '../agent/reconciler.js';
import { inspectRecord, readAppliedState, readRecord, writeRecord, type AppliedRecord } from './applied-record.js';
import { existsSync } from 'node:fs';
import { pinnedInterfaces } from '../dataplane/xdp/index.js';
import { applyHost, ApplyError, type ApplyHostResult } from './apply-host.js';
import { hostDrift, type DriftItem } from './host-drift.js';
import { hostInterfaces, plannedInterfaces } from './host-dataplane.js';
import { COUNTER_KINDS } from './counter-kinds.js';
import { ruleIds } from '../compile/rule-id.js';
import { runsRecordedGenerations, runsRecordedView } from './recorded-generations.js';
import { blobDigest, sourceDigest, unchangedView, writeSourceDigest } from './source-digest.js';
import type { CommitProbes } from '../model/resources.js';
import type { ConfirmOutcome } from '../agent/reconciler.js';
import { SwitchConfirmation } from './switch-confirmation.js';
import { clearRolledBack, readRolledBack, rolledBackText } from './rolled-back.js';
import { readTcpSessions } from '../dataplane/tcp-sessions.js';
import { SessionDisruptionError, sessionsCut } from './session-check.js';
import { stageDone } from '../timings.js';

interface HostReconcilerOptions {
  source: SourceOptions;
  host: string;
  bpffs: string;
  stateDir: string;
  runner?: CommandRunner;
  onStep?: (line: string) => void;
  /** How a reconcile treats an interface notrack attached that someone detached by hand (the agent's drift mode). */
  protectMode?: 'enforce' | 'warn';
  /** Apply a head that does not descend from the applied commit (a force-push back); refused by default. */
  allowRewind?: boolean;
  /** How long a change waits for another notrack process that holds the host lock (default 60 s). */
  lockWaitMs?: number;
  /** Confirm every switch to a new commit by probes within this deadline, else roll back; absent: no confirmation. */
  confirmTimeoutMs?: number;
  /** Apply a commit that would cut established TCP sessions on non-failsafe ports (refused by default). */
  allowDisruption?: boolean;
}

/** The policy revision this host should run, or why there is none (each reason is a Flux-style condition). */
type ReadResult =
  | {
      ok: true;
      snapshot: SourceSnapshot;
      state: DesiredState;
      warnings: string[];
      /** NotrackConfiguration `suspend: true` for this host: keep the dataplane, change nothing. */
      suspend: boolean;
      /** NotrackConfiguration `probes` for this host (absent for reused content: the same state, no switch). */
      probes?: CommitProbes;
      /** The applied state, reused: the policy files' content digest produced it (source-digest.ts). */
      reused?: boolean;
    }
  | {
      ok: false;
      status: 'Stalled' | 'Failed';
      reason: ReconcileReason;
      message: string;
      snapshot: SourceSnapshot | null;
      /** HostNotFound with NotrackConfiguration `prune: true`: the host's dataplane is to be removed. */
      prune?: boolean;
    };

/** What fetchDesired found with its `known` hook: a read result, or the fast path's unread one. */
type DesiredResult =
  | ReadResult
  | {
      /**
       * The commit's policy files, by blob id, are those that produced the applied state, and the host was checked
       * to run it (the `known` hook of fetchDesired): nothing was read, parsed or compiled.
       */
      ok: true;
      unread: true;
      snapshot: SourceSnapshot;
      suspend: false;
    };

/** The source failures a person must fix (Stalled), by error code, with the reason each is reported under. */
const STALLED_SOURCE: Partial<Record<string, ReconcileReason>> = {
  'source-ref-not-found': 'RefNotFound',
  'source-dangling-head': 'RefNotFound',
  'source-insecure-http': 'SourceRefused',
  'source-signature-invalid': 'SignatureInvalid',
  'source-too-large': 'SourceTooLarge',
};

type FetchOptions = Pick<HostReconcilerOptions, 'source' | 'host' | 'allowRewind'> & {
  /** Where parsed policy files are kept by blob id (parse-cache.ts); absent: every file read is parsed. */
  parseCacheDir?: string;
};

export async function fetchDesired(
  opts: FetchOptions,
  reuse?: (snapshot: SourceSnapshot) => DesiredState | null,
): Promise<ReadResult>;
export async function fetchDesired(
  opts: FetchOptions,
  reuse: (snapshot: SourceSnapshot) => DesiredState | null,
  known: SourceOptions['skipContent'],
): Promise<DesiredResult>;
export async function fetchDesired(
  opts: FetchOptions,
  reuse?: (snapshot: SourceSnapshot) => DesiredState | null,
  known?: SourceOptions['skipContent'],
): Promise<DesiredResult> {
  stageDone('start, modules and checks');
  let snapshot: SourceSnapshot;
  // A blob with an entry is neither inflated nor parsed; a file over the source's size limit is always read (and
  // refused) as the source says.
  const parseCache = opts.parseCacheDir ? new PersistedParseCache(opts.parseCacheDir) : null;
  const maxFileBytes = opts.source.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
  const knownFile = parseCache
    ? (b: PolicyBlob) => {
        const f = parseCache.known(b);
        return f && f.size <= maxFileBytes ? f : undefined;
      }
    : undefined;
  try {
    snapshot = await fetchSource({
      ...opts.source,
      ...(known ? { skipContent: known } : {}),
      ...(knownFile ? { knownFile } : {}),
    });
    stageDone('fetch');
  } catch (e) {
    const code = (e as { code?: string }).code;
    // A deleted branch or a refused source is Stalled (a person must act), not retried with backoff forever.
    const stalled = code === undefined ? undefined : STALLED_SOURCE[code];
    if (stalled !== undefined)
      return { ok: false, status: 'Stalled', reason: stalled, message: (e as Error).message, snapshot: null };
    return { ok: false, status: 'Failed', reason: 'FetchFailed', message: (e as Error).message, snapshot: null };
  }
  const rewind = provenanceProblem(snapshot);
  if (rewind && !opts.allowRewind)
    return {
      ok: false,
      status: 'Stalled',
      reason: 'Rewind',
      message: `${rewind}; refused (--allow-rewind applies it)`,
      snapshot,
    };
  // A suspended configuration is never recorded as applied content, so known content is never suspended.
  if (snapshot.unread) return { ok: true, unread: true, snapshot, suspend: false };
  // Content that already compiled to the applied state: no parse, no compile (source-digest.ts).
  const reused = reuse?.(snapshot);
  if (reused) return { ok: true, snapshot, state: reused, warnings: [], suspend: false, reused: true };
  // Loaded here, not with this module: an apply that finds nothing changed never needs the parser or the compiler.
  const [{ loadResources }, { resolveConfiguration }, { formatDiagnostic }, { compileHost }, { parseDocuments }] =
    await Promise.all([
      import('../model/load-resources.js'),
      import('../model/configuration.js'),
      import('../model/diagnostics.js'),
      import('../compile/compile-host.js'),
      import('../model/documents.js'),
    ]);
  // Files of a commit are parsed once per blob: the cache's entries, the rest parsed and kept (repositories only).
  stageDone('parser and compiler modules');
  if (parseCache && snapshot.blobs) parseCache.prepare(parseDocuments, snapshot.files, snapshot.blobs);
  stageDone('parse changed files');
  const loaded = loadResources(snapshot.files, undefined, parseCache?.parsed);
  stageDone('load resources (schema, checks, lint)');
  // The new files' entries, each document marked with what its checks found (valid or not: an error is never marked).
  if (parseCache) {
    parseCache.keep(loaded.validKinds);
    stageDone('parse cache entries written');
  }
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
  const config = resolveConfiguration(loaded.resources, opts.host);
  if (!loaded.resources.hostEndpoints.some((h) => h.node === opts.host)) {
    return {
      ok: false,
      status: 'Stalled',
      reason: 'HostNotFound',
      snapshot,
      message: `no HostEndpoint in the repository has node "${opts.host}"; ${config.prune ? 'prune: true removes notrack from this host' : 'nothing is changed (check --host; prune: true in NotrackConfiguration removes it)'}`,
      prune: config.prune,
    };
  }
  try {
    const state = compileHost(loaded.resources, opts.host);
    stageDone('compile the host');
    const warnings = loaded.diagnostics.filter((d) => d.severity === 'warning').map(formatDiagnostic);
    if (rewind) warnings.unshift(`${rewind}; applied anyway (--allow-rewind)`);
    return { ok: true, snapshot, state, warnings, suspend: config.suspend, probes: config.probes };
  } catch (e) {
    return { ok: false, status: 'Stalled', reason: 'CompileFailed', message: (e as Error).message, snapshot };
  }
}

/** Why the fetched commit may not follow the applied one (a rewind, or history notrack could not walk), or null. */
function provenanceProblem(s: SourceSnapshot): string | null {
  if (s.commit === null || s.ancestry === undefined || s.ancestry === 'descends' || s.ancestry === 'same') return null;
  return s.ancestry === 'not'
    ? `${s.commit!.slice(0, 12)} does not descend from the commit this host runs: the branch was rewound (a force-push back)`
    : `${s.commit!.slice(0, 12)} cannot be shown to descend from the commit this host runs (not within the history fetched)`;
}

/** How a snapshot is named in messages: its short commit, or the folder it was read from. */
function snapshotName(s: SourceSnapshot): string {
  return s.commit ? s.commit.slice(0, 12) : `the files in ${s.subPath}`;
}

function revisionOf(s: SourceSnapshot | null): ReconcileOutcome['revision'] {
  return s ? { ref: s.ref, commit: s.commit } : null;
}

function appliedOf(record: AppliedRecord | null): ReconcileOutcome['appliedRevision'] {
  if (!record?.desiredHash && !record?.pending) return null;
  const gens = Object.values(record.interfaces).map((i) => i.generation);
  // While an apply is pending the kernel may run much of the new revision: never name the old one alone.
  const commit = record.pending ? record.pending.revision.commit : record.revision.commit;
  return { commit, generation: gens.length ? Math.max(...gens) : 0 };
}

/** What one apply ends with: the outcome, what applyHost did (if it ran) and the policy's warnings. */
type ApplyOutcome = { outcome: ReconcileOutcome; result: ApplyHostResult | null; warnings: string[] };
/** Ends an apply: stamps the outcome with the applied revision and the time taken. */
type Done = (
  o: Omit<ReconcileOutcome, 'durationMs' | 'appliedRevision'>,
  result?: ApplyHostResult | null,
  warnings?: string[],
) => ApplyOutcome;

function safeRecord(stateDir: string): AppliedRecord | null {
  try {
    return readRecord(stateDir);
  } catch {
    return null;
  }
}

export class HostReconciler implements Reconciler {
  /** The last fetched revision says `suspend: true` for this host: drift is reported, never repaired. */
  private suspendedInGit = false;
  /** Probes before and after each switch, rollback (switch-confirmation.ts). */
  private readonly confirmation: SwitchConfirmation;

  constructor(private readonly opts: HostReconcilerOptions) {
    this.confirmation = new SwitchConfirmation({
      source: opts.source,
      bpffs: opts.bpffs,
      stateDir: opts.stateDir,
      timeoutMs: opts.confirmTimeoutMs,
      runner: () => this.runner,
      locked: (command, fn) => this.locked(command, fn),
      appliedRevision: () => appliedOf(safeRecord(opts.stateDir)),
    });
  }

  private get runner(): CommandRunner {
    return this.opts.runner ?? spawnRunner;
  }

  /**
   * Converges to the configured revision. `repair` also rebuilds what drifted (the `apply` command does). `readAll`
   * turns the unread fast path off (its host check was overtaken by another apply before the lock was taken).
   */
  async apply(repair: boolean, unlocked: Unlocked = (work) => work(), readAll = false): Promise<ApplyOutcome> {
    const t0 = performance.now();
    // The probes before a switch belong to its confirmation, not to the apply's time.
    let probingMs = 0;
    const done: Done = (o, result = null, warnings = []) => ({
      outcome: {
        ...o,
        appliedRevision: appliedOf(safeRecord(this.opts.stateDir)),
        durationMs: Math.round(performance.now() - t0 - probingMs),
      },
      result,
      warnings,
    });
    const suspended = repair ? null : readSuspension(this.opts.stateDir);
    if (suspended)
      return done({
        status: 'Stalled',
        reason: 'Suspended',
        message: suspensionText(suspended),
        revision: null,
        changes: 0,
      });
    const unfinished = this.confirmation.resume();
    if (unfinished) return done(unfinished);
    const appliedCommit = safeRecord(this.opts.stateDir)?.revision.commit ?? undefined;
    let digest = '';
    // The applied state the unread path found the host running (its hash), checked again under the lock.
    let checkedHash: string | null = null;
    const source = appliedCommit ? { ...this.opts.source, ancestor: appliedCommit } : this.opts.source;
    const desired = await unlocked(() =>
      fetchDesired(
        { ...this.opts, source, parseCacheDir: parseCacheFolder(this.opts.stateDir) },
        (snapshot) => {
          digest = sourceDigest(snapshot, this.opts.host);
          const record = safeRecord(this.opts.stateDir);
          if (!unchangedView(this.opts.stateDir, record, digest, hostInterfaces())) return null;
          // Unchanged content; the host must still carry it: without repair, every interface runs its recorded
          // generation (else compile and converge as usual); with repair, applyHost below checks and repairs.
          if (!repair && !runsRecordedGenerations(record!, this.opts.bpffs)) return null;
          return readAppliedState(this.opts.stateDir);
        },
        // The same question asked of the blob ids before any file is read; on a yes the state is not read either,
        // so the host is checked against the applied view: without repair, as above; with repair, everything a
        // drift check compares (any difference takes the path above, which repairs).
        readAll
          ? undefined
          : async ({ subPath, blobs }) => {
              const record = safeRecord(this.opts.stateDir);
              // An apply left half-way is completed by the path above (applyHost finishes what is pending).
              if (record?.pending) return false;
              const view = unchangedView(
                this.opts.stateDir,
                record,
                blobDigest(blobs, this.opts.host, subPath),
                hostInterfaces(),
              );
              if (!view) return false;
              const runs = repair
                ? await runsRecordedView(view, record!, this.opts.bpffs, this.runner)
                : runsRecordedGenerations(record!, this.opts.bpffs);
              if (runs) checkedHash = record!.desiredHash;
              return runs;
            },
      ),
    );
    if (desired.ok) this.suspendedInGit = desired.suspend;
    if (desired.ok && desired.suspend)
      return done({
        status: 'Stalled',
        reason: 'Suspended',
        message: `suspended by NotrackConfiguration (suspend: true) at ${snapshotName(desired.snapshot)}; the host keeps what it runs`,
        revision: revisionOf(desired.snapshot),
        changes: 0,
      });
    const marked = readRolledBack(this.opts.stateDir);
    if (desired.ok && marked && desired.snapshot.commit !== marked.commit) clearRolledBack(this.opts.stateDir);
    // A commit rolled back is not applied again by the agent until the head moves; a person's apply tries it again.
    if (desired.ok && marked && !repair && desired.snapshot.commit === marked.commit)
      return done({
        status: 'Stalled',
        reason: 'RolledBack',
        message: rolledBackText(marked),
        revision: revisionOf(desired.snapshot),
        changes: 0,
      });
    if (desired.ok && 'unread' in desired) {
      const kept = await this.locked('apply', () => this.keepUnchanged(desired.snapshot, checkedHash!, done));
      return kept ?? this.apply(repair, unlocked, true);
    }
    if (!desired.ok && desired.prune) return this.prune(desired, done);
    if (!desired.ok)
      return done({
        status: desired.status,
        reason: desired.reason,
        message: desired.message,
        revision: revisionOf(desired.snapshot),
        changes: 0,
      });
    const tp = performance.now();
    const probed = await this.confirmation.probeBefore(desired.probes, desired.state.hash, unlocked);
    probingMs = performance.now() - tp;
    try {
      const r = await this.locked('apply', () => this.converge(desired, repair, digest, done));
      const { repo, ref, commit } = desired.snapshot;
      return this.confirmation.switched(r, probed, { repo, ref, commit }, desired.state.hash);
    } catch (e) {
      return done({
        status: 'Failed',
        reason: 'ApplyFailed',
        message: (e as Error).message,
        revision: revisionOf(desired.snapshot),
        changes: 0,
      });
    }
  }

  /** The host's HostEndpoints left the repository and its configuration says `prune: true`: take notrack off. */
  private async prune(desired: Extract<DesiredResult, { ok: false }>, done: Done) {
    const revision = revisionOf(desired.snapshot);
    try {
      const removed = await this.locked('prune', () => {
        const pinned = existsSync(this.opts.bpffs) ? pinnedInterfaces(this.opts.bpffs) : [];
        if (!pinned.length && !inspectRecord(this.opts.stateDir).record) return null;
        return removeHost({ bpffs: this.opts.bpffs, stateDir: this.opts.stateDir, runner: this.runner });
      });
      if (!removed)
        return done({
          status: 'Ready',
          reason: 'UpToDate',
          message: `no HostEndpoint names "${this.opts.host}" and nothing of notrack's is on it (prune: true)`,
          revision,
          changes: 0,
        });
      const changes = removed.interfaces.length + removed.chains + removed.ipsets.length;
      return done({
        status: 'Ready',
        reason: 'Pruned',
        message: `no HostEndpoint names "${this.opts.host}" any more: removed notrack from it (prune: true): ${removed.interfaces.length} interface(s), ${removed.chains} chain(s), ${removed.ipsets.length} ipset(s)`,
        revision,
        changes,
      });
    } catch (e) {
      return done({ status: 'Failed', reason: 'ApplyFailed', message: (e as Error).message, revision, changes: 0 });
    }
  }

  /**
   * The unread path, under the host lock: the record still names the state the host was checked to run, and now the
   * new commit too. Null when another apply changed the record meanwhile (the caller then reads everything).
   */
  private keepUnchanged(snapshot: SourceSnapshot, checkedHash: string, done: Done): ApplyOutcome | null {
    const record = safeRecord(this.opts.stateDir);
    if (!record || record.pending || record.desiredHash !== checkedHash) return null;
    if (record.revision.commit !== snapshot.commit) {
      record.revision = { repo: snapshot.repo, ref: snapshot.ref, commit: snapshot.commit };
      writeRecord(this.opts.stateDir, record);
    }
    return done({
      status: 'Ready',
      reason: 'UpToDate',
      // Saying so tells an operator why this reconcile took milliseconds (and what to suspect if it should not).
      message: `already at ${snapshotName(snapshot)} (policy files unchanged: not read, not compiled again)`,
      revision: revisionOf(snapshot),
      changes: 0,
    });
  }

  /** Runs host work under the host lock (one writer per host, across processes). */
  private locked<T>(command: string, fn: () => T | Promise<T>): Promise<T> {
    return withHostLock(this.opts.stateDir, { waitMs: this.opts.lockWaitMs ?? 60_000, command }, fn);
  }

  private converge(desired: Extract<ReadResult, { ok: true }>, repair: boolean, digest: string, done: Done) {
    const record = safeRecord(this.opts.stateDir);
    if (!repair && record?.desiredHash === desired.state.hash && !record.pending) {
      // The same policy is no proof the host runs it: an interface that appeared or was re-created since the last
      // apply has nothing of notrack on it. Attach there (XDP only: the rest is drift, the drift check's job).
      const attached = protectHost({
        applied: desired.state,
        bpffs: this.opts.bpffs,
        stateDir: this.opts.stateDir,
        runner: this.runner,
        mode: this.opts.protectMode ?? 'enforce',
      }).attached;
      if (!desired.reused) writeSourceDigest(this.opts.stateDir, digest, desired.state);
      // A new commit that compiles to the same dataplane: nothing to change, but the host now runs that commit.
      const current = safeRecord(this.opts.stateDir) ?? record;
      if (current.revision.commit !== desired.snapshot.commit) {
        current.revision = { repo: desired.snapshot.repo, ref: desired.snapshot.ref, commit: desired.snapshot.commit };
        writeRecord(this.opts.stateDir, current);
      }
      const also = attached.length ? `; attached to ${attached.map((a) => a.iface).join(', ')}` : '';
      return done(
        {
          status: 'Ready',
          reason: attached.length ? 'ReconciliationSucceeded' : 'UpToDate',
          // Saying so tells an operator why this reconcile took milliseconds (and what to suspect if it should not).
          message: `already at ${snapshotName(desired.snapshot)}${desired.reused ? ' (policy files unchanged: not compiled again)' : ''}${also}`,
          revision: revisionOf(desired.snapshot),
          changes: attached.length,
        },
        null,
        desired.warnings,
      );
    }
    // The applied state (0.4 s to read for a 1M-prefix set) is read only when something needs its contents: a live
    // session the new state denies, or a rollback (the confirmation keeps the file, not its decoded contents).
    let current: DesiredState | null | undefined;
    const running = (): DesiredState | null =>
      current === undefined ? (current = record?.desiredHash ? readAppliedState(this.opts.stateDir) : null) : current;
    this.confirmation.rememberPrevious(record, running, desired.state.hash);
    if (!this.opts.allowDisruption && record?.desiredHash !== desired.state.hash) {
      const cut = sessionsCut(running, desired.state, readTcpSessions(this.runner));
      stageDone('session check');
      if (cut.length)
        return done({
          status: 'Stalled',
          reason: 'DisruptionRefused',
          message: new SessionDisruptionError(cut, snapshotName(desired.snapshot)).message,
          revision: revisionOf(desired.snapshot),
          changes: 0,
        });
    }
    try {
      const result = applyHost({
        state: desired.state,
        bpffs: this.opts.bpffs,
        stateDir: this.opts.stateDir,
        repair,
        runner: this.runner,
        revision: { repo: desired.snapshot.repo, ref: desired.snapshot.ref, commit: desired.snapshot.commit },
        ...(desired.reused ? { stateKept: true } : {}),
        ...(this.opts.onStep ? { onStep: this.opts.onStep } : {}),
      });
      writeSourceDigest(this.opts.stateDir, digest, desired.state);
      stageDone('source digest');
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

  /** Probes the switch the last apply made; rolls it back when a probe it broke stays broken. */
  confirm(): Promise<ConfirmOutcome | null> {
    return this.confirmation.confirm();
  }

  rolledBackCommit(): string | null {
    return readRolledBack(this.opts.stateDir)?.commit ?? null;
  }

  async reconcile(_trigger: ReconcileTrigger, unlocked?: Unlocked): Promise<ReconcileOutcome> {
    return (await this.apply(false, unlocked)).outcome;
  }

  /** The live host against the last applied state; null when nothing was ever applied here. */
  drift(): DriftItem[] | null {
    const { record, problem } = inspectRecord(this.opts.stateDir);
    const applied = readAppliedState(this.opts.stateDir);
    // A record that cannot be trusted is never read as "in sync": what runs here is vouched for by nothing.
    const unvouched = (why: string): DriftItem[] => [
      { object: 'notrack record', description: `${why}; notrack apply rebuilds it from the host` },
    ];
    if (problem) return unvouched(problem);
    if (!record || !applied) {
      const pinned = existsSync(this.opts.bpffs) ? pinnedInterfaces(this.opts.bpffs) : [];
      return pinned.length ? unvouched(`missing while notrack has pins for ${pinned.join(', ')}`) : null;
    }
    return hostDrift({ applied, record, bpffs: this.opts.bpffs, runner: this.runner });
  }

  async checkDrift(requested: 'enforce' | 'warn'): Promise<DriftOutcome> {
    // Suspended: drift is still reported, never repaired.
    const mode = readSuspension(this.opts.stateDir) || this.suspendedInGit ? 'warn' : requested;
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
      await this.locked('drift repair', () => {
        // Look again just before repairing: a change by hand still under way when the first look ran (a chain
        // emptied but not yet deleted, a rule added after the program was detached) is then named whole in the
        // report, not mended unseen by the repair.
        const seen = new Set(items.map((d) => `${d.object}\0${d.description}`));
        for (const d of this.drift() ?? []) if (!seen.has(`${d.object}\0${d.description}`)) items.push(d);
        const applied = readAppliedState(this.opts.stateDir);
        const record = readRecord(this.opts.stateDir);
        if (!applied || !record) throw new NothingAppliedError(this.opts.stateDir);
        applyHost({
          state: applied,
          revision: record.pending?.revision ?? record.revision,
          bpffs: this.opts.bpffs,
          stateDir: this.opts.stateDir,
          repair: true,
          runner: this.runner,
        });
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

  async protection(): Promise<HostProtection> {
    const applied = readAppliedState(this.opts.stateDir);
    if (!applied) return { checked: true, interfaces: [], unprotected: [] };
    return observeProtection({ applied, record: safeRecord(this.opts.stateDir), bpffs: this.opts.bpffs });
  }

  async protect(mode: 'enforce' | 'warn'): Promise<ProtectOutcome> {
    const t0 = performance.now();
    const applied = readAppliedState(this.opts.stateDir);
    if (!applied || readSuspension(this.opts.stateDir))
      return { attached: [], failed: [], leftInWarnMode: [], durationMs: 0 };
    const r = await this.locked('protect', () =>
      protectHost({ applied, bpffs: this.opts.bpffs, stateDir: this.opts.stateDir, runner: this.runner, mode }),
    );
    return { ...r, durationMs: Math.round(performance.now() - t0) };
  }

  async restore(mode: 'enforce' | 'warn'): Promise<RestoreOutcome | null> {
    const t0 = performance.now();
    if (readSuspension(this.opts.stateDir)) return null;
    if (mode === 'warn') {
      const p = await this.protect('warn');
      const commit = safeRecord(this.opts.stateDir)?.revision.commit ?? null;
      return {
        commit,
        changes: p.attached.map((a) => ({
          object: `XDP on ${a.iface}`,
          action: `attached generation ${a.generation}`,
        })),
        failed: p.failed.map((f) => ({ object: `XDP on ${f.iface}`, message: f.message })),
        durationMs: p.durationMs,
      };
    }
    // An interface re-created while the agent was down keeps its pinned generation: attaching that takes
    // milliseconds, where the full restore below (observe and converge everything) takes seconds under load.
    const first = await this.protect('enforce');
    const attachedFirst = first.attached.map((a) => ({
      object: `XDP on ${a.iface}`,
      action: `attached generation ${a.generation}`,
    }));
    try {
      const r = await this.locked('restore', () =>
        restoreHost({ bpffs: this.opts.bpffs, stateDir: this.opts.stateDir, runner: this.runner, repair: false }),
      );
      return {
        commit: r.revision.commit,
        changes: [...attachedFirst, ...r.changes],
        failed: [],
        durationMs: Math.round(performance.now() - t0),
      };
    } catch (e) {
      if (e instanceof NothingToRestoreError) return null;
      const result = e instanceof ApplyError ? e.result : null;
      return {
        commit: result?.record.revision.commit ?? null,
        changes: [...attachedFirst, ...(result?.changes ?? [])],
        failed: result?.failed.map((f) => ({ object: f.object, message: f.error.message })) ?? [
          { object: 'restore', message: (e as Error).message },
        ],
        durationMs: Math.round(performance.now() - t0),
      };
    }
  }

  watchLinks(onChange: (what: string) => void, onFailure: (why: string) => void): () => void {
    const w = watchLinks({
      onEvent: (e) => onChange(`${e.deleted ? 'deleted' : 'changed'} ${e.ifname}`),
      onFailure,
    });
    return () => w.stop();
  }

  async counters(): Promise<Counters> {
    const out: Counters = { rules: [], reasons: [], interfaces: [] };
    const applied = readAppliedState(this.opts.stateDir);
    if (!applied) return out;
    const place = { applied, record: safeRecord(this.opts.stateDir), bpffs: this.opts.bpffs };
    for (const [ifname, iface] of plannedInterfaces(applied, hostInterfaces()).apply) {
      let obs;
      try {
        obs = observeInterface({ ifname, pinDir: this.opts.bpffs, expected: true });
      } catch {
        out.interfaces!.push({ iface: ifname, protected: false });
        continue;
      }
      // Judged as /healthz and the link watch judge it (host-protection.ts), from this scrape's observation.
      const p = interfaceProtection(ifname, iface, obs, place);
      if (p.present) out.interfaces!.push({ iface: ifname, protected: p.protected });
      const active = obs.generations.find((g) => g.number === obs.activeGeneration);
      if (!active) continue;
      for (const [name, v] of Object.entries(active.counters)) {
        const { kind, name: reason } = COUNTER_KINDS[name as keyof typeof COUNTER_KINDS];
        out.reasons.push({ iface: ifname, kind, reason, packets: v.packets, bytes: v.bytes });
      }
      const ids = ruleIds(iface);
      iface.counters.forEach((ref, i) => {
        const v = active.ruleCounters[i];
        const entry = [...iface.ingress.v4, ...iface.ingress.v6].find((e) => e.counter === i);
        if (v)
          out.rules.push({
            iface: ifname,
            policy: ref.policy,
            direction: ref.direction,
            index: ref.index,
            id: ids[i]!,
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

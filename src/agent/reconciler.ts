// The contract between the agent runtime and the reconciler it drives: types only, so the two are built apart.
//
// The runtime (schedules, retries, signals, logs, metrics, health) knows nothing of Git, policies or the kernel; the
// reconciler (fetch, validate, compile, observe, diff, apply, record) knows nothing of timing. What crosses this
// line is data: a trigger goes in, a typed outcome with a reason comes out, and logs, metrics, /status and
// /healthz all render from those outcomes.
//
// What the runtime promises the reconciler:
// - It never runs reconcile() and checkDrift() at the same time, nor two of either (a single-flight lock): the
//   reconciler needs no lock of its own against the agent. The one exception is the work reconcile() passes to
//   `unlocked` (its fetch): a drift check may run meanwhile, so a slow Git server never holds drift checks back.
//   What runs there must touch nothing of the host.
// - counters() may run at any moment, also while reconcile() or checkDrift() runs (it backs a metrics scrape,
//   which must not wait for a long apply); it must only read.
// - On shutdown it waits (bounded) for a running call to return, then stops calling. It calls nothing that
//   removes or detaches the dataplane, ever: the host keeps running the last applied state after the agent exits.
//
// What the runtime expects of the reconciler:
// - reconcile() and checkDrift() report failures as outcomes rather than throwing. A throw is still survived: it
//   becomes a Failed outcome with reason 'ReconcilerError' (and, for drift, status 'Failed').
// - In every failure the host keeps its last good state; that is the reconciler's job, not the runtime's.
// - appliedRevision is filled whenever the reconciler knows what the host runs (also in Stalled and Failed
//   outcomes, from its state record): health treats "the host has a last good state" as appliedRevision !== null.

/**
 * Every reason a reconcile can end with (as Flux names each condition reason), with the status it comes with and
 * the stage it names in `notrack_errors_total{stage}` (null for the reasons of a Ready outcome). Logs, metrics,
 * /status and /healthz render from this table; none of them parses a reason.
 */
export const RECONCILE_REASONS = {
  ReconciliationSucceeded: { status: 'Ready', stage: null },
  UpToDate: { status: 'Ready', stage: null },
  /** The host's HostEndpoints left the repository and `prune: true` took notrack off it. */
  Pruned: { status: 'Ready', stage: null },
  FetchFailed: { status: 'Failed', stage: 'fetch' },
  /** The ref is gone from the repository (a deleted branch): retrying fast cannot bring it back. */
  RefNotFound: { status: 'Stalled', stage: 'fetch' },
  /** The head does not descend from the applied commit (a force-push back): refused unless --allow-rewind. */
  Rewind: { status: 'Stalled', stage: 'provenance' },
  /** --verify-signatures: a commit between the applied one and the head is unsigned or signed by an unknown key. */
  SignatureInvalid: { status: 'Stalled', stage: 'provenance' },
  /** A person suspended notrack on this host (notrack suspend): nothing is changed until resume. */
  Suspended: { status: 'Stalled', stage: 'suspended' },
  /** The source is refused as configured (a token over plain http). */
  SourceRefused: { status: 'Stalled', stage: 'fetch' },
  /** The commit brings an object or a pack over the memory bounds (--max-object-bytes, --max-pack-bytes). */
  SourceTooLarge: { status: 'Stalled', stage: 'fetch' },
  ValidationFailed: { status: 'Stalled', stage: 'validation' },
  HostNotFound: { status: 'Stalled', stage: 'host-not-found' },
  CompileFailed: { status: 'Stalled', stage: 'compile' },
  /** A probe that passed before the switch failed after it: the previous state was put back and the commit is
   *  marked bad, never retried until the head moves. */
  RolledBack: { status: 'Stalled', stage: 'confirmation' },
  /** The commit would cut established TCP sessions on non-failsafe ports: refused unless --allow-disruption. */
  DisruptionRefused: { status: 'Stalled', stage: 'disruption' },
  ApplyFailed: { status: 'Failed', stage: 'apply' },
  /** The reconciler threw instead of returning an outcome (the runtime's own reason). */
  ReconcilerError: { status: 'Failed', stage: 'reconciler' },
} as const satisfies Record<string, { status: 'Ready' | 'Stalled' | 'Failed'; stage: string | null }>;

export type ReconcileReason = keyof typeof RECONCILE_REASONS;

/** Why a reconcile runs: the schedule ticked, the agent started, a person asked (SIGHUP), or a Failed run is retried. */
export type ReconcileTrigger = 'schedule' | 'startup' | 'signal' | 'retry';

export interface ReconcileOutcome {
  /** Flux-style condition: Ready (converged), Stalled (needs a person: e.g. invalid policy at head; the host keeps
   *  the last good state), Failed (transient: fetch failed, apply error; retried with backoff). */
  status: 'Ready' | 'Stalled' | 'Failed';
  /** A stable PascalCase word from RECONCILE_REASONS, e.g. 'ReconciliationSucceeded', 'ValidationFailed'. */
  reason: ReconcileReason;
  message: string;
  /** What was looked at (the fetched ref and commit), or null when nothing could be fetched. */
  revision: { ref: string | null; commit: string | null } | null;
  /** What the host runs now, or null when notrack has never applied anything on it. */
  appliedRevision: { commit: string | null; generation: number } | null;
  /** Objects changed by this run. */
  changes: number;
  durationMs: number;
  /** The run switched the host to a new revision whose probes are still to be confirmed (Reconciler.confirm). */
  confirming?: boolean;
}

/** How one probe fared before and after a switch. */
export interface ProbeResult {
  /** What was probed, e.g. 'git remote https://git.example.com/policy.git', 'tcp 10.0.0.1:443', 'local port 22'. */
  probe: string;
  /** Passed before the switch (a probe that was already failing never counts against the commit). */
  before: boolean;
  /** Passed within the deadline after the switch (null: not checked, it had failed before). */
  after: boolean | null;
  /** Why the last attempt failed, in plain words (null when it passed). */
  error: string | null;
}

/** The end of a switch's confirmation: the probes passed, or the host was rolled back to what it ran before. */
export interface ConfirmOutcome {
  status: 'Confirmed' | 'RolledBack' | 'RollbackFailed';
  /** The commit the switch brought in (the one marked bad after a rollback). */
  commit: string | null;
  message: string;
  probes: ProbeResult[];
  durationMs: number;
  /** After a rollback: the reconcile outcome it ends in (Stalled, reason RolledBack; Failed when it could not). */
  outcome?: ReconcileOutcome;
}

export interface DriftOutcome {
  status: 'InSync' | 'Drifted' | 'Failed';
  message: string;
  /** In plain words, e.g. { object: 'XDP program on eth0', description: 'detached' }. */
  drifted: { object: string; description: string }[];
  /** True when mode is enforce and the drift was repaired. */
  corrected: boolean;
  durationMs: number;
}

/** Per-rule and per-verdict packet counters, read from the host for metrics. Values are the kernel's absolute
 *  counts (they only grow, except when a program generation is replaced). */
export interface Counters {
  rules: {
    iface: string;
    policy: string;
    direction: string;
    /** Position in the policy's rule list (for people; it moves when rules are inserted). */
    index: number;
    /** Stable id of the rule (a hash of what it matches and does): what metrics label the rule by. */
    id: string;
    action: string;
    packets: bigint;
    bytes: bigint;
  }[];
  /** The datapath's own counters per interface, each of one kind: `seen` (every packet), `verdict` (the one outcome
   *  of each packet: accepted, dropped, failsafe, ...), `log` (Log rule events) or `error` (datapath faults).
   *  `reason` is a stable snake_case name. */
  reasons: {
    iface: string;
    kind: 'seen' | 'verdict' | 'log' | 'error';
    reason: string;
    packets: bigint;
    bytes: bigint;
  }[];
  /** Every interface the applied state expects that is on the host, and whether notrack's program of the expected
   *  content protects it now (observed at the call). Absent when the reconciler cannot tell. */
  interfaces?: { iface: string; protected: boolean }[];
}

/** One interface the applied policy expects notrack on, as observed in the kernel. */
export interface InterfaceProtection {
  name: string;
  /** The interface exists on the host (a missing one cannot be attacked through, and counts as protected). */
  present: boolean;
  protected: boolean;
  /** The generation notrack's XDP link runs there, or null. */
  generation: number | null;
  /** Why it is not protected, in plain words (null when it is). */
  problem: string | null;
}

/** Protection observed from the live kernel: never remembered from the last apply. */
export interface HostProtection {
  checked: boolean;
  interfaces: InterfaceProtection[];
  /** Names of the present interfaces that lack notrack's expected program. */
  unprotected: string[];
}

/** What one protect() call attached. */
export interface ProtectOutcome {
  attached: { iface: string; generation: number }[];
  failed: { iface: string; message: string }[];
  /** Left alone in warn mode (detached by hand on an interface notrack had attached). */
  leftInWarnMode: string[];
  durationMs: number;
}

/** What the start-up restore put back from the state folder (no fetch). */
export interface RestoreOutcome {
  /** Null when nothing was ever applied here. */
  commit: string | null;
  changes: { object: string; action: string }[];
  failed: { object: string; message: string }[];
  durationMs: number;
}

/** Runs network-only work of a reconcile outside the single-flight lock (drift checks may run meanwhile). */
export type Unlocked = <T>(work: () => Promise<T>) => Promise<T>;

export interface Reconciler {
  /** Fetch, validate, compile, observe, diff, apply, record: converge the host to the policy at the configured ref.
   *  Changes the dataplane only when the desired state differs from what was last applied; correcting drift of the
   *  live host against the applied state is checkDrift's job, so that `warn` mode stays a promise. */
  reconcile(trigger: ReconcileTrigger, unlocked?: Unlocked): Promise<ReconcileOutcome>;
  /** Compare the live host with the last applied state; in 'enforce' mode repair what differs, in 'warn' only report. */
  checkDrift(mode: 'enforce' | 'warn'): Promise<DriftOutcome>;
  /** Read the counters; read-only, callable at any time. */
  counters(): Promise<Counters>;
  /** Protection observed from the live host (read-only, callable at any time, like counters()). */
  protection?(): Promise<HostProtection>;
  /** Attach the applied state to expected interfaces that run nothing of notrack's (new, re-created, after boot).
   *  Called outside the single-flight lock, so a slow fetch never delays it: it must change nothing else. */
  protect?(mode: 'enforce' | 'warn'): Promise<ProtectOutcome>;
  /** At start, before any fetch: put the last applied state back from the host's own record (a boot wiped the
   *  dataplane). enforce rebuilds what is missing everywhere; warn only attaches interfaces that run nothing. */
  restore?(mode: 'enforce' | 'warn'): Promise<RestoreOutcome | null>;
  /** After a reconcile whose outcome says `confirming`: probe until the deadline, roll back when a probe that passed
   *  before the switch fails after it. Called in the same single-flight turn as that reconcile. */
  confirm?(): Promise<ConfirmOutcome | null>;
  /** The commit marked rolled back on this host (kept across restarts until the head moves), or null. */
  rolledBackCommit?(): string | null;
  /** Calls `onChange` whenever the host's links change (rtnetlink); returns a function that stops watching. */
  watchLinks?(onChange: (what: string) => void, onFailure: (why: string) => void): () => void;
}

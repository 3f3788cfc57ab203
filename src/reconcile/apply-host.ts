// Converges this host's dataplane to a DesiredState: per interface a new generation beside the running one, switched
// in atomically; iptables one restore per table; ipsets swapped in. Records what it did as it goes.
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { DesiredState } from '../compile/desired-state.js';
import {
  attachInterface,
  checkPinDir,
  detachInterface,
  loadInterfaceGeneration,
  observeInterface,
  pinnedInterfaces,
  removeGeneration,
  setPolicyProgram,
  switchGeneration,
  type InterfaceObservation,
} from '../dataplane/xdp/index.js';
import { loadPolicyProgram } from '../dataplane/policy-program.js';
import { applyIptables, spawnRunner, type CommandRunner } from '../dataplane/iptables/index.js';
import { applyIpsets, pruneIpsets } from '../dataplane/ipset/index.js';
import { NotrackError } from '../errors.js';
import { BpfError } from '../libbpf/index.js';
import {
  readRecord,
  StateWriteError,
  promotePendingState,
  writePendingState,
  writeRecord,
  type AppliedRecord,
  type AppliedRevision,
  type InterfaceRecord,
} from './applied-record.js';
import {
  dataplaneConfig,
  hostInterfaces,
  interfaceFingerprint,
  ipsetsDesired,
  iptablesDesired,
  plannedInterfaces,
} from './host-dataplane.js';
import { interfaceItems } from './host-drift.js';
import { stageDone } from '../timings.js';

export interface ApplyHostOptions {
  state: DesiredState;
  revision: AppliedRevision;
  bpffs: string;
  stateDir: string;
  /** Rebuild interfaces whose running generation is unhealthy even when the policy did not change (drift repair). */
  repair: boolean;
  runner?: CommandRunner;
  /**
   * `state` was read from the applied state file (the source-digest path): when the record names it as applied and
   * nothing is pending, the file is not written again (for a 1M-prefix set that write is most of a no-op apply).
   */
  stateKept?: boolean;
  /** One line per step, for people watching. */
  onStep?: (line: string) => void;
}

/** One thing this apply changed, in plain words. */
interface AppliedChange {
  object: string;
  action: string;
}

export interface ApplyHostResult {
  changes: AppliedChange[];
  /** Interfaces the state names that this host does not have (skipped, reported). */
  missingInterfaces: string[];
  /** Interfaces that could not be converged, with why; they keep what they ran before. */
  failed: { object: string; error: NotrackError | Error }[];
  record: AppliedRecord;
}

export class ApplyError extends NotrackError {
  constructor(
    message: string,
    readonly result: ApplyHostResult,
  ) {
    super('apply-failed', message);
  }
}

/** Findings that mean the running generation must be rebuilt (extra generations are only cleaned up). */
function unhealthy(obs: InterfaceObservation): boolean {
  return obs.findings.some((f) => f.code !== 'extra-generations');
}

/**
 * A record rebuilt from the host when there is none to trust: one entry per pinned interface naming the generation
 * its XDP link runs, with no fingerprint, so every interface is rebuilt and switched (never trusted as it is).
 */
function recordFromHost(host: string, revision: AppliedRevision, bpffs: string): AppliedRecord {
  const interfaces: Record<string, InterfaceRecord> = {};
  for (const ifname of pinnedInterfaces(bpffs)) {
    const obs = observeInterface({ ifname, pinDir: bpffs });
    const running = obs.activeGeneration ?? obs.generations.at(-1)?.number;
    if (running === undefined) continue;
    interfaces[ifname] = {
      generation: running,
      generations: {},
      policyProgramId: null,
      policyMapEntries: {},
      xdpMode: null,
      tcMechanism: null,
      ...(obs.ifindex !== null ? { ifindex: obs.ifindex } : {}),
    };
  }
  return { formatVersion: 1, host, revision, desiredHash: '', appliedAt: '', interfaces };
}

/**
 * Makes the bpffs folder (on a bpffs mount) and checks it. The nearest folder that exists is checked first: a
 * recursive mkdir under /proc or /sys never ends (the kernel answers ENOENT and EEXIST in turn), and a folder that
 * is not on bpffs is refused before anything is made in it.
 */
function preparePinRoot(bpffs: string): void {
  let existing = resolve(bpffs);
  while (!existsSync(existing) && dirname(existing) !== existing) existing = dirname(existing);
  if (existing !== resolve(bpffs)) checkPinDir(existing);
  try {
    mkdirSync(bpffs, { recursive: true });
  } catch {
    /* checkPinDir says why */
  }
  checkPinDir(bpffs);
}

/** Converges one interface (a new generation, switched in or attached); the record is updated as it goes. */
export function convergeInterface(
  ifname: string,
  opts: ApplyHostOptions,
  record: AppliedRecord,
  changes: AppliedChange[],
): void {
  const { state } = opts;
  const iface = plannedInterfaces(state, [ifname]).apply.get(ifname)!;
  const fingerprint = interfaceFingerprint(state, iface);
  stageDone(`${ifname}: fingerprint`);
  // No counters (10,000 rules' per-CPU values) and no `tc` spawn: nothing below reads them, and they change no finding.
  const before = observeInterface({ ifname, pinDir: opts.bpffs, counters: false, clsBpf: false });
  if (before.findings.some((f) => f.code === 'xdp-foreign')) {
    const others = before.xdp.programs.filter((p) => !p.ours);
    const foreign = others.map((p) => `${p.name || 'unnamed'} (id ${p.id})`).join(', ');
    // The binding's code for the same conflict, so that every layer reports it alike.
    throw new BpfError(
      'bpf-xdp-conflict',
      `another XDP program is attached to ${ifname}: ${foreign}; notrack never replaces it (detach it yourself to let notrack in)`,
      {
        op: 'attach XDP',
        errno: 16 /* EBUSY, as the kernel says it */,
        ifname,
        attachedProgramIds: others.map((p) => p.id),
      },
    );
  }
  const prev = record.interfaces[ifname];
  const running = before.activeGeneration;
  const runningFingerprint = running === null ? undefined : prev?.generations[String(running)];
  // Repair also rebuilds what only the record can tell was tampered with (class map entries, the policy program).
  const drifted = (): boolean => unhealthy(before) || interfaceItems(ifname, before, state, record).length > 0;
  // A kill between a switch and the record's update leaves the record naming the old generation (and maybe a
  // second generation pinned): rebuilding is what brings one generation and a record that describes it.
  const settled = prev?.generation === running && before.generations.length === 1;
  if (running !== null && runningFingerprint === fingerprint && settled && !(opts.repair && drifted())) return;
  stageDone(`${ifname}: observe`);

  const gen = loadInterfaceGeneration({
    ifname,
    pinDir: opts.bpffs,
    config: dataplaneConfig(state),
    failsafes: state.failsafes,
    ruleCounters: Math.max(1, iface.counters.length),
  });
  stageDone(`${ifname}: static generation load`);
  try {
    const entry: InterfaceRecord = {
      generation: running ?? gen.number,
      generations: { ...(prev?.generations ?? {}), [String(gen.number)]: fingerprint },
      policyProgramId: prev?.policyProgramId ?? null,
      policyMapEntries: prev?.policyMapEntries ?? {},
      xdpMode: prev?.xdpMode ?? null,
      tcMechanism: prev?.tcMechanism ?? null,
      ...(prev?.ifindex !== undefined ? { ifindex: prev.ifindex } : {}),
    };
    // Recorded before the switch: whichever generation runs after a crash, its fingerprint is known.
    record.interfaces[ifname] = entry;
    writeRecord(opts.stateDir, record);
    const policyPins = join(gen.path, 'policy');
    mkdirSync(policyPins, { recursive: true });
    const policy = loadPolicyProgram({
      state,
      iface,
      pinDir: policyPins,
      staticMaps: { nt_state: gen.maps.state, nt_jump: gen.maps.jump, nt_counters: gen.maps.counters },
    });
    const ms = policy.stats.ms;
    stageDone(
      `${ifname}: policy program (compile ${Math.round(ms.compile)}, fill ${Math.round(ms.fill)}, load ${Math.round(ms.load)})`,
    );
    try {
      setPolicyProgram(gen, policy.parts);
      entry.policyProgramId = policy.program.id;
      entry.policyMapEntries = { ...policy.stats.mapEntries };
      entry.policyMapDigests = { ...policy.stats.mapDigests };
    } finally {
      policy.close();
    }
    const live =
      running !== null && !before.findings.some((f) => f.code === 'xdp-not-attached' || f.code === 'xdp-link-defunct');
    if (live) {
      const sw = switchGeneration({ ifname, pinDir: opts.bpffs, to: gen, removeOld: true });
      entry.tcMechanism = sw.tcMechanism;
      changes.push({ object: `XDP on ${ifname}`, action: `switched from generation ${sw.from} to ${gen.number}` });
    } else {
      // Nothing of ours is live (first apply, or someone detached it): attach clears a half-left TC hook itself.
      const att = attachInterface({ ifname, generation: gen, xdpMode: state.config.xdpMode });
      for (const old of before.generations)
        if (old.number !== gen.number) removeGeneration({ ifname, pinDir: opts.bpffs, generation: old.number });
      entry.xdpMode = att.xdp.mode;
      entry.tcMechanism = att.tc.mechanism;
      entry.ifindex = att.ifindex;
      const why = att.xdp.fallbackReason ? ` (native refused: ${att.xdp.fallbackReason})` : '';
      changes.push({
        object: `XDP on ${ifname}`,
        action: `attached generation ${gen.number} in ${att.xdp.mode} mode with TC via ${att.tc.mechanism}${why}`,
      });
    }
    entry.generation = gen.number;
    entry.generations = { [String(gen.number)]: fingerprint };
    writeRecord(opts.stateDir, record);
    stageDone(`${ifname}: switch`);
  } catch (e) {
    // The new generation never ran: remove it so it cannot be mistaken for anything later.
    try {
      removeGeneration({ ifname, pinDir: opts.bpffs, generation: gen.number });
    } catch {
      /* attached after all, or already gone */
    }
    throw e;
  } finally {
    gen.close();
  }
}

/** Converges the host. Per-interface failures leave that interface as it was and are reported; the rest goes on. */
export function applyHost(opts: ApplyHostOptions): ApplyHostResult {
  const runner = opts.runner ?? spawnRunner;
  const step = opts.onStep ?? (() => {});
  const { state } = opts;
  preparePinRoot(opts.bpffs);
  const record = readRecord(opts.stateDir) ?? recordFromHost(state.host, opts.revision, opts.bpffs);
  const changes: AppliedChange[] = [];
  const failed: ApplyHostResult['failed'] = [];
  const { apply, missing } = plannedInterfaces(state, hostInterfaces());

  // Before the first change: the record names what is being switched in, and its state is kept. If this cannot be
  // written (a full disk), nothing has changed yet and nothing will.
  const kept = opts.stateKept === true && !record.pending && record.desiredHash === state.hash;
  record.pending = { revision: opts.revision, desiredHash: state.hash, since: new Date().toISOString() };
  try {
    if (!kept) writePendingState(opts.stateDir, state);
    writeRecord(opts.stateDir, record);
  } catch (e) {
    throw new StateWriteError(opts.stateDir, e, 'nothing was changed on the host');
  }
  stageDone('pending state written');

  // Sets first: egress rules that name a set need it to exist.
  const ipsets = ipsetsDesired(state);
  const sets = applyIpsets(runner, ipsets);
  stageDone('ipsets');
  for (const name of [...sets.created, ...sets.replaced])
    changes.push({ object: `ipset ${name}`, action: 'filled and swapped in' });

  for (const ifname of apply.keys()) {
    try {
      const n = changes.length;
      convergeInterface(ifname, opts, record, changes);
      if (changes.length > n) step(`${changes.at(-1)!.object}: ${changes.at(-1)!.action}`);
    } catch (e) {
      failed.push({ object: `XDP on ${ifname}`, error: e as Error });
      step(`XDP on ${ifname}: FAILED: ${(e as Error).message}`);
    }
  }
  for (const ifname of pinnedInterfaces(opts.bpffs)) {
    // Wanted but absent (deleted, not yet back): its pins stay, so that the link watch re-attaches the generation
    // in milliseconds when it returns (its dead link pin is cleared then).
    if (apply.has(ifname) || missing.includes(ifname)) continue;
    detachInterface({ ifname, pinDir: opts.bpffs });
    delete record.interfaces[ifname];
    changes.push({ object: `XDP on ${ifname}`, action: 'detached (no endpoint wants it any more)' });
    step(`XDP on ${ifname}: detached`);
  }

  const desired = iptablesDesired(state);
  for (const family of [4, 6] as const) {
    try {
      const r = applyIptables(runner, desired, family);
      if (r.fixed.length) {
        changes.push({
          object: `${family === 4 ? 'iptables' : 'ip6tables'} chains`,
          action: `${r.fixed.length} difference${r.fixed.length === 1 ? '' : 's'} fixed`,
        });
        step(`${family === 4 ? 'iptables' : 'ip6tables'}: ${r.fixed.length} change(s) applied`);
      }
    } catch (e) {
      failed.push({ object: family === 4 ? 'iptables' : 'ip6tables', error: e as Error });
    }
  }
  stageDone('iptables');
  if (!failed.length) {
    const pruned = pruneIpsets(runner, ipsets);
    for (const name of pruned.destroyed) changes.push({ object: `ipset ${name}`, action: 'destroyed' });
  }

  record.host = state.host;
  if (!failed.length) {
    record.revision = opts.revision;
    record.desiredHash = state.hash;
    record.appliedAt = new Date().toISOString();
    try {
      if (!kept) promotePendingState(opts.stateDir);
      delete record.pending;
    } catch (e) {
      throw new StateWriteError(
        opts.stateDir,
        e,
        `the host runs ${opts.revision.commit?.slice(0, 12) ?? 'the new policy'}; the record says it is pending`,
      );
    }
  }
  // A part that failed leaves `pending` set: the record says the host is between two revisions, which it is.
  try {
    writeRecord(opts.stateDir, record);
  } catch (e) {
    throw new StateWriteError(opts.stateDir, e, 'the record still names the revision as pending');
  }
  stageDone('promote and record');
  const result: ApplyHostResult = { changes, missingInterfaces: missing, failed, record };
  if (failed.length) {
    throw new ApplyError(
      `${failed.length} part${failed.length === 1 ? '' : 's'} could not be applied: ` +
        failed.map((f) => `${f.object}: ${f.error.message}`).join('; '),
      result,
    );
  }
  return result;
}

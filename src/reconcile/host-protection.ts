// Protection, observed from the live kernel: does every interface the applied policy names, and this host has,
// run notrack's program of the expected content? And the narrow repair that keeps it so: attach where nothing of
// notrack's runs (an interface that appeared, was re-created, or a boot without restore).
import type { DesiredState, InterfaceState } from '../compile/desired-state.js';
import {
  attachInterface,
  observeInterface,
  openGeneration,
  removeGeneration,
  type InterfaceObservation,
} from '../dataplane/xdp/index.js';
import type { CommandRunner } from '../dataplane/iptables/index.js';
import type { HostProtection, InterfaceProtection } from '../agent/reconciler.js';
import { readRecord, writeRecord, type AppliedRecord } from './applied-record.js';
import { convergeInterface } from './apply-host.js';
import { hostInterfaces, interfaceFingerprint, plannedInterfaces } from './host-dataplane.js';

export interface ProtectionPlace {
  applied: DesiredState;
  record: AppliedRecord | null;
  bpffs: string;
}

/** Whether notrack's program of the expected content protects one expected interface, from its observation. */
export function interfaceProtection(
  name: string,
  iface: InterfaceState,
  obs: InterfaceObservation,
  place: ProtectionPlace,
): InterfaceProtection {
  const active = obs.activeGeneration;
  let problem: string | null = null;
  if (obs.ifindex === null) problem = 'gone from the host';
  else if (obs.findings.some((f) => f.code === 'xdp-foreign'))
    problem = "another XDP program is attached: notrack's is not";
  else if (active === null) problem = "up without notrack's XDP program";
  else {
    const want = interfaceFingerprint(place.applied, iface);
    const have = place.record?.interfaces[name]?.generations[String(active)];
    if (have !== want) problem = `runs generation ${active}, not the one built from the applied policy`;
  }
  return { name, present: obs.ifindex !== null, protected: problem === null, generation: active, problem };
}

/** Every expected interface of the applied state, present or not, and whether notrack's program protects it. */
export function observeProtection(place: ProtectionPlace): HostProtection {
  const { apply, missing } = plannedInterfaces(place.applied, hostInterfaces());
  const interfaces: InterfaceProtection[] = [];
  for (const [name, iface] of apply)
    interfaces.push(
      interfaceProtection(name, iface, observeInterface({ ifname: name, pinDir: place.bpffs, expected: true }), place),
    );
  for (const name of missing)
    interfaces.push({ name, present: false, protected: true, generation: null, problem: null });
  return {
    checked: true,
    interfaces: interfaces.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
    unprotected: interfaces.filter((i) => !i.protected).map((i) => i.name),
  };
}

interface ProtectOptions {
  applied: DesiredState;
  bpffs: string;
  stateDir: string;
  runner: CommandRunner;
  /** warn: an interface whose own attachment (same ifindex) was removed is a person's doing and stays as it is. */
  mode: 'enforce' | 'warn';
}

/** What protectHost attached, and what it could not. */
export interface ProtectResult {
  attached: { iface: string; generation: number }[];
  failed: { iface: string; message: string }[];
  /** Left to the drift check: detached on the same interface notrack had attached (a change made on the host). */
  leftInWarnMode: string[];
}

/**
 * Attaches the applied state to every expected interface that runs nothing of notrack's. It never replaces a
 * running generation (that is a reconcile's or a drift repair's job) and never touches iptables or ipsets.
 */
export function protectHost(opts: ProtectOptions): ProtectResult {
  const result: ProtectResult = { attached: [], failed: [], leftInWarnMode: [] };
  const record = readRecord(opts.stateDir);
  if (!record) return result;
  const { apply } = plannedInterfaces(opts.applied, hostInterfaces());
  for (const ifname of apply.keys()) {
    const obs = observeInterface({ ifname, pinDir: opts.bpffs, expected: true });
    if (obs.ifindex === null || obs.activeGeneration !== null) continue;
    if (obs.findings.some((f) => f.code === 'xdp-foreign')) {
      result.failed.push({ iface: ifname, message: 'another XDP program is attached; notrack never replaces it' });
      continue;
    }
    // The same interface that notrack attached, detached since: a change made on the host, so drift, which the
    // drift check repairs (enforce) or reports (warn). Only a new or re-created interface is attached here.
    const known = record.interfaces[ifname]?.ifindex;
    if (known === obs.ifindex) {
      result.leftInWarnMode.push(ifname);
      continue;
    }
    try {
      const reused = attachPinned(ifname, obs, opts, record);
      if (reused !== null) {
        writeRecord(opts.stateDir, record);
        result.attached.push({ iface: ifname, generation: reused });
        continue;
      }
      const changes: { object: string; action: string }[] = [];
      convergeInterface(
        ifname,
        {
          state: opts.applied,
          revision: record.revision,
          bpffs: opts.bpffs,
          stateDir: opts.stateDir,
          repair: false,
          runner: opts.runner,
        },
        record,
        changes,
      );
      writeRecord(opts.stateDir, record);
      result.attached.push({ iface: ifname, generation: record.interfaces[ifname]!.generation });
    } catch (e) {
      result.failed.push({ iface: ifname, message: (e as Error).message });
    }
  }
  return result;
}

/**
 * A re-created interface keeps its pins (its old link is defunct): when a complete pinned generation was built from
 * exactly the applied policy, attaching it takes milliseconds, where loading a new one takes a verifier run.
 * Returns the generation attached, or null when none can be reused.
 */
function attachPinned(
  ifname: string,
  obs: InterfaceObservation,
  opts: ProtectOptions,
  record: AppliedRecord,
): number | null {
  const iface = plannedInterfaces(opts.applied, [ifname]).apply.get(ifname);
  const entry = record.interfaces[ifname];
  if (!iface || !entry) return null;
  const want = interfaceFingerprint(opts.applied, iface);
  const usable = obs.generations.find(
    (g) => g.complete && g.epiloguesIntact && g.policy.program !== null && entry.generations[String(g.number)] === want,
  );
  if (!usable) return null;
  const gen = openGeneration({ ifname, pinDir: opts.bpffs, generation: usable.number });
  try {
    const att = attachInterface({ ifname, generation: gen, xdpMode: opts.applied.config.xdpMode });
    for (const other of obs.generations)
      if (other.number !== usable.number) removeGeneration({ ifname, pinDir: opts.bpffs, generation: other.number });
    Object.assign(entry, {
      generation: usable.number,
      generations: { [String(usable.number)]: want },
      xdpMode: att.xdp.mode,
      tcMechanism: att.tc.mechanism,
      ifindex: att.ifindex,
    });
    return usable.number;
  } finally {
    gen.close();
  }
}

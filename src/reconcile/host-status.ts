// What this host runs, read from notrack's record and the kernel: the applied revision, each interface's observation
// (generation, XDP mode, TC hook, counters by outcome) and the packets and bytes of every rule. Reads only.
import { observeInterface, type InterfaceObservation } from '../dataplane/xdp/index.js';
import { readAppliedState, readRecord, type AppliedRecord } from './applied-record.js';
import { hostInterfaces, plannedInterfaces } from './host-dataplane.js';
import { NothingAppliedError } from './host-reconciler.js';
import { readRolledBack, type RolledBackCommit } from './rolled-back.js';

/** One rule's counters on one interface. */
interface RuleRow {
  iface: string;
  policy: string;
  rule: string;
  action: string;
  packets: bigint;
  bytes: bigint;
}

export interface HostStatus {
  record: AppliedRecord;
  interfaces: { name: string; obs: InterfaceObservation }[];
  rules: RuleRow[];
  /** The commit marked rolled back here, refused until the head moves (null when none). */
  rolledBack: RolledBackCommit | null;
}

/** The status of the host whose record is in `stateDir` and whose pins are under `bpffs`; NothingAppliedError when none. */
export function hostStatus(place: { stateDir: string; bpffs: string }): HostStatus {
  const record = readRecord(place.stateDir);
  const applied = readAppliedState(place.stateDir);
  if (!record || !applied) throw new NothingAppliedError(place.stateDir);

  const interfaces: { name: string; obs: InterfaceObservation }[] = [];
  const rules: RuleRow[] = [];
  for (const [name, iface] of plannedInterfaces(applied, hostInterfaces()).apply) {
    const obs = observeInterface({ ifname: name, pinDir: place.bpffs });
    interfaces.push({ name, obs });
    const active = obs.generations.find((g) => g.number === obs.activeGeneration);
    iface.counters.forEach((ref, i) => {
      const v = active?.ruleCounters[i];
      const action = [...iface.ingress.v4, ...iface.ingress.v6].find((e) => e.counter === i)?.action ?? '-';
      rules.push({
        iface: name,
        policy: ref.policy,
        rule: `${ref.direction}[${ref.index}]`,
        action,
        packets: v?.packets ?? 0n,
        bytes: v?.bytes ?? 0n,
      });
    });
  }
  return { record, interfaces, rules, rolledBack: readRolledBack(place.stateDir) };
}

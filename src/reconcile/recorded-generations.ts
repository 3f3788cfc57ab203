// Whether the live host still carries what the record says notrack applied: each recorded interface attached to
// its recorded generation, with nothing unhealthy about it; or, for a repair, nothing a drift check would report.
// The fast paths of an unchanged policy rely on it.
import { observeInterface } from '../dataplane/xdp/index.js';
import type { CommandRunner } from '../dataplane/iptables/index.js';
import type { AppliedRecord } from './applied-record.js';
import type { RecordedView } from './applied-view.js';
import { hostInterfaces, plannedInterfaceNames } from './host-dataplane.js';
import { viewDriftAsync } from './host-drift.js';

export function runsRecordedGenerations(record: AppliedRecord, bpffs: string): boolean {
  for (const [ifname, rec] of Object.entries(record.interfaces)) {
    let obs;
    try {
      obs = observeInterface({ ifname, pinDir: bpffs, counters: false, clsBpf: false });
    } catch {
      return false;
    }
    if (obs.activeGeneration !== rec.generation) return false;
    if (obs.findings.some((f) => f.code !== 'extra-generations')) return false;
  }
  return true;
}

/**
 * Whether the host shows nothing a drift check against the applied view would report, and every planned interface
 * runs a generation built from the view's fingerprint: what a repair would find nothing to do on.
 */
export async function runsRecordedView(
  view: RecordedView,
  record: AppliedRecord,
  bpffs: string,
  runner: CommandRunner,
): Promise<boolean> {
  const { apply } = plannedInterfaceNames(view.interfaces, hostInterfaces());
  for (const ifname of apply) {
    const rec = record.interfaces[ifname];
    const wanted = view.fingerprints[ifname] ?? view.fingerprints['*'];
    if (!rec || wanted === undefined || rec.generations[String(rec.generation)] !== wanted) return false;
  }
  return (await viewDriftAsync({ view, record, bpffs, runner })).length === 0;
}

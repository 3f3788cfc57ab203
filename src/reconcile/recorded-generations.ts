// Whether the live host still carries what the record says notrack applied: each recorded interface attached to
// its recorded generation, with nothing unhealthy about it. The fast path of an unchanged policy relies on it.
import { observeInterface } from '../dataplane/xdp/index.js';
import type { AppliedRecord } from './applied-record.js';

export function runsRecordedGenerations(record: AppliedRecord, bpffs: string): boolean {
  for (const [ifname, rec] of Object.entries(record.interfaces)) {
    let obs;
    try {
      obs = observeInterface({ ifname, pinDir: bpffs });
    } catch {
      return false;
    }
    if (obs.activeGeneration !== rec.generation) return false;
    if (obs.findings.some((f) => f.code !== 'extra-generations')) return false;
  }
  return true;
}

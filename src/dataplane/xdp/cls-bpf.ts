// notrack's cls_bpf filter, the TC fallback on kernels without tcx: its fixed slot, finding it, replacing its program.
import { interfaceIndex } from '../../libbpf/index.js';
import { PROGRAMS } from '../../abi/notrack.js';
import { runProgram } from '../command-runner.js';
import { clsBpfFilters, type ClsBpfFilter } from '../tc-filters.js';
import { XdpDataplaneError } from './errors.js';

/**
 * The filter slot notrack uses on clsact ingress. Priority 1 runs it before other filters, so the mark is set
 * whatever they decide (it returns TC_ACT_UNSPEC: the next filter still runs); the handle ("NT") keeps it apart
 * from filters others put at priority 1 (libbpf's default handle is 1).
 */
export const NOTRACK_CLS_BPF = { handle: 0x4e54, priority: 1 } as const;

/**
 * notrack's filter on clsact ingress of an interface of the current namespace: the one in notrack's slot running
 * nt_tc_ingress, or any running one of `ownedIds`. Undefined when there is none.
 */
export function findNotrackClsBpf(ifindex: number, ownedIds: Iterable<number> = []): ClsBpfFilter | undefined {
  const owned = new Set(ownedIds);
  return clsBpfFilters(ifindex, 'ingress').find(
    (f) =>
      owned.has(f.progId) ||
      (f.handle === NOTRACK_CLS_BPF.handle &&
        f.priority === NOTRACK_CLS_BPF.priority &&
        f.progName === PROGRAMS.tcIngress),
  );
}

/**
 * Swaps the program of notrack's cls_bpf filter in one netlink request (`tc filter replace`, RTM_NEWTFILTER
 * without NLM_F_EXCL), so every packet runs either the old or the new program. `programPin` is the new program's
 * bpffs pin. Acts in the calling thread's network namespace.
 */
export function replaceClsBpfProgram(ifname: string, programPin: string): void {
  interfaceIndex(ifname);
  const argv = [
    'filter',
    'replace',
    'dev',
    ifname,
    'ingress',
    'protocol',
    'all',
    'pref',
    String(NOTRACK_CLS_BPF.priority),
    'handle',
    `0x${NOTRACK_CLS_BPF.handle.toString(16)}`,
    'bpf',
    'direct-action',
    'object-pinned',
    programPin,
  ];
  const r = runProgram(['tc', ...argv], { timeoutMs: 10_000 });
  if (r.error || r.status !== 0) {
    throw new XdpDataplaneError(
      'xdp-switch-failed',
      `tc ${argv.join(' ')} failed (${r.error ? r.error.message : `exit ${r.status}`}): ${(r.stderr ?? '').trim() || 'no error output'}`,
      { ifname },
    );
  }
}

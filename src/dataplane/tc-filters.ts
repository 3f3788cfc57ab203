// What only the tc program can tell about an interface (netlink has no libbpf wrapper for a full filter dump): its
// cls_bpf filters, whether its clsact qdisc is still in use; and TC detaching that removes a qdisc notrack made.
import {
  BpfError,
  destroyClsact,
  errnoName,
  interfaceName,
  tcxQuery,
  xdpQuery,
  type TcAttachment,
  type TcDirection,
  type TcxState,
  type XdpState,
} from '../libbpf/index.js';
import { runProgram } from './command-runner.js';

/** tc answers in well under a second; a hung tc must not hang a reconcile. */
const TC_TIMEOUT_MS = 10_000;

const ENOENT = 2;
const ENODEV = 19;
const EINVAL = 22;

export interface ClsBpfFilter {
  direction: TcDirection;
  /** tc's preference (libbpf calls it priority). */
  priority: number;
  handle: number;
  progId: number;
  progName: string;
  directAction: boolean;
}

interface TcJsonFilter {
  kind?: string;
  pref?: number;
  options?: { handle?: string; 'direct-action'?: boolean; prog?: { id?: number; name?: string } };
}

/** A failed tc call, in the binding's terms (code and errno), as the kernel calls around it report theirs. */
function tcFailure(
  code: 'bpf-not-found' | 'bpf-not-supported' | 'bpf-syscall',
  op: string,
  subject: string,
  errno: number,
  hint: string,
): BpfError {
  return new BpfError(code, `${op} (${subject}) failed with ${errnoName(errno)}: ${hint}`, { op, errno });
}

function nameOf(ifindex: number): string {
  const ifname = interfaceName(ifindex);
  if (ifname === undefined) {
    throw tcFailure(
      'bpf-not-found',
      'if_indextoname',
      `ifindex ${ifindex}`,
      ENODEV,
      'there is no such network interface',
    );
  }
  return ifname;
}

/**
 * Every cls_bpf filter on one side of an interface, read with `tc -json filter show`. Runs in the calling thread's
 * network namespace. Empty when there is no clsact qdisc.
 */
export function clsBpfFilters(ifindex: number, direction: TcDirection): ClsBpfFilter[] {
  const ifname = nameOf(ifindex);
  const r = runProgram(['tc', '-json', 'filter', 'show', 'dev', ifname, direction], { timeoutMs: TC_TIMEOUT_MS });
  if (r.error)
    throw tcFailure('bpf-not-supported', 'tc filter show', ifname, ENOENT, `could not run tc: ${r.error.message}`);
  if (r.status !== 0) {
    // tc fails when the interface has no clsact qdisc: nothing can be attached then.
    if (/Cannot find|Invalid argument|No such file/i.test(r.stderr)) return [];
    throw tcFailure('bpf-syscall', 'tc filter show', ifname, EINVAL, `tc exited with ${r.status}: ${r.stderr.trim()}`);
  }
  const text = r.stdout.trim();
  if (text === '') return [];
  const list = JSON.parse(text) as TcJsonFilter[];
  const out: ClsBpfFilter[] = [];
  for (const f of list) {
    if (f.kind !== 'bpf' || !f.options || f.options.prog?.id === undefined) continue;
    out.push({
      direction,
      priority: f.pref ?? 0,
      handle: f.options.handle ? parseInt(f.options.handle, 16) : 0,
      progId: f.options.prog.id,
      progName: f.options.prog.name ?? '',
      directAction: f.options['direct-action'] === true,
    });
  }
  return out;
}

/** True when no filter of any kind sits on either side of the interface's clsact qdisc (tc prints nothing). */
function clsactIsEmpty(ifname: string): boolean {
  for (const dir of ['ingress', 'egress']) {
    const r = runProgram(['tc', 'filter', 'show', 'dev', ifname, dir], { timeoutMs: TC_TIMEOUT_MS });
    if (r.status !== 0 || r.stdout.trim() !== '') return false;
  }
  return true;
}

/**
 * Removes a TC attachment, and nothing else: the tcx link or the cls_bpf filter, and the clsact qdisc too when the
 * attachment created it and no filter remains on it. Call it in the namespace the attachment was made in.
 */
export function detachTc(attachment: TcAttachment): void {
  attachment.detach();
  if (attachment.mechanism === 'cls_bpf' && attachment.createdQdisc && clsactIsEmpty(attachment.ifname)) {
    destroyClsact(attachment.ifindex);
  }
}

interface InterfaceAttachments {
  ifindex: number;
  ifname: string;
  xdp: XdpState;
  tcx: { ingress: TcxState; egress: TcxState };
  clsBpf: { ingress: ClsBpfFilter[]; egress: ClsBpfFilter[] };
}

/** Everything BPF attached to an interface of the current namespace: XDP, tcx and cls_bpf. */
export function interfaceAttachments(ifindex: number): InterfaceAttachments {
  return {
    ifindex,
    ifname: nameOf(ifindex),
    xdp: xdpQuery(ifindex),
    tcx: { ingress: tcxQuery(ifindex, 'ingress'), egress: tcxQuery(ifindex, 'egress') },
    clsBpf: { ingress: clsBpfFilters(ifindex, 'ingress'), egress: clsBpfFilters(ifindex, 'egress') },
  };
}

/** The programs attached through tcx or cls_bpf that are not in `owned`. */
export function foreignTcPrograms(att: InterfaceAttachments, owned: Iterable<number> = []): number[] {
  const mine = new Set(owned);
  const ids = [
    ...att.tcx.ingress.programIds,
    ...att.tcx.egress.programIds,
    ...att.clsBpf.ingress.map((f) => f.progId),
    ...att.clsBpf.egress.map((f) => f.progId),
  ];
  return [...new Set(ids)].filter((id) => !mine.has(id));
}

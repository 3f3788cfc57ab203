// Attaching programs to interfaces: XDP through BPF links (native first, generic fallback) and TC through tcx
// links or, where the kernel has no tcx, a clsact qdisc with a cls_bpf filter. Links update atomically.
import { AttachType, BPF_F_REPLACE, TcAttachPoint, XdpFlag } from '../abi/bpf-uapi.js';
import {
  bpfFailure,
  EBUSY,
  EEXIST,
  EINVAL,
  ENOTSUPP,
  EOPNOTSUPP,
  EPERM,
  ERANGE,
  errnoName,
  type BpfError,
} from './errors.js';
import { BpfFd } from './fd.js';
import { check, failure, native, optsStruct, outputMark } from './ffi.js';
import { describeLink, linkInfo, type LinkInfo } from './info.js';
import { OFFSETS } from './struct-offsets.js';
import { interfaceLabel } from './netdev.js';
import { pinObject } from './pins.js';
import { clsBpfQuery, programRef, xdpQuery, type TcDirection, type XdpState } from './query.js';

/** Anything that carries a program fd: a BpfProgram, or a bare BpfFd. */
export type ProgramHandle = BpfFd | { fd: BpfFd };

function progFd(p: ProgramHandle): number {
  return p instanceof BpfFd ? p.fd : p.fd.fd;
}

/** A BPF link: the attachment lives as long as the link fd or a pin of it. Closing the last reference detaches. */
export class BpfLink {
  readonly fd: BpfFd;

  constructor(fd: BpfFd) {
    this.fd = fd;
  }

  static fromFd(fd: BpfFd): BpfLink {
    return new BpfLink(fd);
  }

  info(): LinkInfo {
    return linkInfo(this.fd);
  }

  get id(): number {
    return this.info().id;
  }

  /**
   * Swaps in `program` in one step: packets see either the old or the new program, never neither.
   * With `expected`, the swap happens only if the link still runs that program (else bpf-link-replaced).
   */
  update(program: ProgramHandle, opts: { expected?: ProgramHandle } = {}): void {
    const L = OFFSETS.bpf_link_update_opts;
    const o = optsStruct(L.size);
    if (opts.expected) {
      o.writeUInt32LE(BPF_F_REPLACE, L.flags);
      o.writeUInt32LE(progFd(opts.expected), L.old_prog_fd);
    }
    const mark = outputMark();
    const ret = native.bpf_link_update(this.fd.fd, progFd(program), o);
    if (ret >= 0) return;
    const errno = -ret;
    if (errno === EPERM && opts.expected) {
      throw failure('bpf_link_update', errno, {
        subject: describeLink(this.info()),
        code: 'bpf-link-replaced',
        hint: 'the link no longer runs the expected program: someone else updated it',
        mark,
      });
    }
    const hint =
      errno === EEXIST
        ? 'that program is already attached on this hook (tcx takes a program once per hook)'
        : undefined;
    throw failure('bpf_link_update', errno, { subject: this.describe(), hint, mark });
  }

  /** Detaches the program now (even if the link is pinned elsewhere), then closes this fd. */
  detach(): void {
    if (this.fd.closed) return;
    const mark = outputMark();
    check('bpf_link_detach', native.bpf_link_detach(this.fd.fd), { subject: this.describe(), mark });
    this.fd.close();
  }

  /** Pins the link so the attachment survives this process. */
  pin(path: string): void {
    pinObject(this.fd, path);
  }

  /** Closes this fd; an unpinned link then detaches. */
  close(): void {
    this.fd.close();
  }

  private describe(): string {
    try {
      return describeLink(this.info());
    } catch {
      return 'link';
    }
  }
}

// ---------------------------------------------------------------------------------------------
// XDP

export type XdpMode = 'native' | 'generic';

interface XdpAttachOptions {
  ifindex: number;
  program: ProgramHandle;
  /** `auto` (default) tries native (driver) mode and falls back to generic (skb) mode when the driver cannot. */
  mode?: 'auto' | XdpMode;
}

export interface XdpAttachment {
  link: BpfLink;
  mode: XdpMode;
  ifindex: number;
  ifname: string;
  /** Why native mode was not used, when `auto` fell back to generic. */
  fallbackReason?: string;
}

/** The errnos with which a driver says "no native XDP here" (as opposed to "something is attached"). */
function nativeUnsupported(errno: number): boolean {
  return errno === EOPNOTSUPP || errno === ENOTSUPP || errno === EINVAL || errno === ERANGE;
}

function xdpConflict(ifindex: number, state: XdpState): BpfError {
  const ifname = interfaceLabel(ifindex);
  const progs = state.programIds.map(programRef);
  const list = progs.map((p) => `id ${p.id}${p.name ? ` (${p.name})` : ''}`).join(', ');
  return bpfFailure('bpf_link_create(BPF_XDP)', EBUSY, {
    subject: ifname,
    code: 'bpf-xdp-conflict',
    hint: `another XDP program is attached to ${ifname} in ${state.mode} mode: ${list}; notrack does not replace programs it did not attach`,
    ifname,
    attachedProgramIds: state.programIds,
  });
}

function createXdpLink(program: ProgramHandle, ifindex: number, mode: XdpMode): number {
  const L = OFFSETS.bpf_link_create_opts;
  const o = optsStruct(L.size);
  o.writeUInt32LE(mode === 'native' ? XdpFlag.DRV_MODE : XdpFlag.SKB_MODE, L.flags);
  return native.bpf_link_create(progFd(program), ifindex, AttachType.XDP, o);
}

/**
 * Attaches an XDP program to an interface of the current network namespace through a BPF link, and says which
 * mode it got. An interface that already has any XDP program is a conflict (bpf-xdp-conflict): nothing is replaced.
 */
export function attachXdp(opts: XdpAttachOptions): XdpAttachment {
  const { ifindex, program } = opts;
  const wanted = opts.mode ?? 'auto';
  const before = xdpQuery(ifindex);
  if (before.programIds.length > 0) throw xdpConflict(ifindex, before);
  const ifname = interfaceLabel(ifindex);
  const mark = outputMark();

  const attempt = (mode: XdpMode): number => {
    const ret = createXdpLink(program, ifindex, mode);
    if (ret >= 0) return ret;
    const errno = -ret;
    // Lost a race with another attacher: report it as the conflict it is.
    if (errno === EBUSY || errno === EEXIST) {
      const now = xdpQuery(ifindex);
      if (now.programIds.length > 0) throw xdpConflict(ifindex, now);
    }
    return ret;
  };

  if (wanted === 'native' || wanted === 'auto') {
    const fd = attempt('native');
    if (fd >= 0) return { link: new BpfLink(BpfFd.own(fd, 'link')), mode: 'native', ifindex, ifname };
    const errno = -fd;
    if (wanted === 'native' || !nativeUnsupported(errno)) {
      throw failure('bpf_link_create(BPF_XDP, native)', errno, { subject: ifname, ifname, mark });
    }
    const generic = attempt('generic');
    if (generic < 0) throw failure('bpf_link_create(BPF_XDP, generic)', -generic, { subject: ifname, ifname, mark });
    return {
      link: new BpfLink(BpfFd.own(generic, 'link')),
      mode: 'generic',
      ifindex,
      ifname,
      fallbackReason: `native XDP failed with ${errnoName(errno)}: the driver of ${ifname} has no native XDP for this program`,
    };
  }
  const fd = attempt('generic');
  if (fd < 0) throw failure('bpf_link_create(BPF_XDP, generic)', -fd, { subject: ifname, ifname, mark });
  return { link: new BpfLink(BpfFd.own(fd, 'link')), mode: 'generic', ifindex, ifname };
}

// ---------------------------------------------------------------------------------------------
// TC

export type TcMechanism = 'tcx' | 'cls_bpf';

interface TcAttachOptions {
  ifindex: number;
  /** A SCHED_CLS program (returning TC_ACT_* / TCX_* codes; cls_bpf runs it in direct-action mode). */
  program: ProgramHandle;
  direction?: TcDirection;
  /** `auto` (default): a tcx link where the kernel has tcx (6.6+), else clsact + cls_bpf. */
  mechanism?: 'auto' | TcMechanism;
  /** cls_bpf only: the filter's handle and priority (default 1 and 1). */
  handle?: number;
  priority?: number;
}

const DEFAULT_TC_HANDLE = 1;
const DEFAULT_TC_PRIORITY = 1;

function tcHook(ifindex: number, attachPoint: number): Buffer {
  const H = OFFSETS.bpf_tc_hook;
  const hook = optsStruct(H.size);
  hook.writeInt32LE(ifindex, H.ifindex);
  hook.writeUInt32LE(attachPoint, H.attach_point);
  return hook;
}

/** A TC attachment made by attachTc: which mechanism it used, and how to undo exactly that. */
export class TcAttachment {
  readonly mechanism: TcMechanism;
  readonly ifindex: number;
  readonly ifname: string;
  readonly direction: TcDirection;
  /** The tcx link (tcx only). */
  readonly link: BpfLink | undefined;
  /** The cls_bpf filter's handle and priority (cls_bpf only). */
  readonly handle: number | undefined;
  readonly priority: number | undefined;
  readonly progId: number;
  /** cls_bpf: this attachment created the clsact qdisc, so detaching may remove it when nothing else uses it. */
  readonly createdQdisc: boolean;
  /** Why tcx was not used, when `auto` fell back to cls_bpf. */
  readonly fallbackReason: string | undefined;
  private detached = false;

  constructor(init: {
    mechanism: TcMechanism;
    ifindex: number;
    ifname: string;
    direction: TcDirection;
    link?: BpfLink;
    handle?: number;
    priority?: number;
    progId: number;
    createdQdisc?: boolean;
    fallbackReason?: string;
  }) {
    this.mechanism = init.mechanism;
    this.ifindex = init.ifindex;
    this.ifname = init.ifname;
    this.direction = init.direction;
    this.link = init.link;
    this.handle = init.handle;
    this.priority = init.priority;
    this.progId = init.progId;
    this.createdQdisc = init.createdQdisc ?? false;
    this.fallbackReason = init.fallbackReason;
  }

  /**
   * Removes this attachment, and nothing else: a tcx link is detached, a cls_bpf filter is deleted. The clsact qdisc
   * a cls_bpf attachment created stays: only tc can tell whether other filters use it (src/dataplane/tc-filters.ts
   * removes it with destroyClsact when none do). Call it in the namespace it was made in.
   */
  detach(): void {
    if (this.detached) return;
    if (this.link) {
      this.link.detach();
      this.detached = true;
      return;
    }
    const attachPoint = this.direction === 'ingress' ? TcAttachPoint.INGRESS : TcAttachPoint.EGRESS;
    const T = OFFSETS.bpf_tc_opts;
    const o = optsStruct(T.size);
    o.writeUInt32LE(this.handle ?? DEFAULT_TC_HANDLE, T.handle);
    o.writeUInt32LE(this.priority ?? DEFAULT_TC_PRIORITY, T.priority);
    const mark = outputMark();
    check('bpf_tc_detach', native.bpf_tc_detach(tcHook(this.ifindex, attachPoint), o), {
      subject: `cls_bpf ${this.direction} on ${this.ifname}`,
      mark,
    });
    this.detached = true;
  }
}

/** Removes the clsact qdisc of an interface, with every filter on it (bpf_tc_hook_destroy on both sides). */
export function destroyClsact(ifindex: number): void {
  const mark = outputMark();
  check(
    'bpf_tc_hook_destroy',
    native.bpf_tc_hook_destroy(tcHook(ifindex, TcAttachPoint.INGRESS | TcAttachPoint.EGRESS)),
    { subject: `clsact on ${interfaceLabel(ifindex)}`, mark },
  );
}

function attachTcx(program: ProgramHandle, ifindex: number, direction: TcDirection): number {
  const attachType = direction === 'ingress' ? AttachType.TCX_INGRESS : AttachType.TCX_EGRESS;
  return native.bpf_link_create(progFd(program), ifindex, attachType, null);
}

function attachClsBpf(
  opts: TcAttachOptions,
  direction: TcDirection,
  ifname: string,
  fallbackReason?: string,
): TcAttachment {
  const attachPoint = direction === 'ingress' ? TcAttachPoint.INGRESS : TcAttachPoint.EGRESS;
  const mark = outputMark();
  const created = native.bpf_tc_hook_create(tcHook(opts.ifindex, attachPoint));
  if (created < 0 && -created !== EEXIST)
    check('bpf_tc_hook_create', created, { subject: `clsact on ${ifname}`, ifname, mark });
  const handle = opts.handle ?? DEFAULT_TC_HANDLE;
  const priority = opts.priority ?? DEFAULT_TC_PRIORITY;
  const T = OFFSETS.bpf_tc_opts;
  const o = optsStruct(T.size);
  o.writeInt32LE(progFd(opts.program), T.prog_fd);
  o.writeUInt32LE(handle, T.handle);
  o.writeUInt32LE(priority, T.priority);
  const ret = native.bpf_tc_attach(tcHook(opts.ifindex, attachPoint), o);
  if (ret < 0) {
    const errno = -ret;
    if (created === 0) native.bpf_tc_hook_destroy(tcHook(opts.ifindex, TcAttachPoint.INGRESS | TcAttachPoint.EGRESS));
    if (errno === EEXIST) {
      const takenId = clsBpfQuery({ ifindex: opts.ifindex, direction, handle, priority });
      const taken = takenId === undefined ? undefined : programRef(takenId);
      throw failure('bpf_tc_attach', errno, {
        subject: `cls_bpf ${direction} on ${ifname}`,
        code: 'bpf-tc-conflict',
        hint: `another filter already holds handle ${handle} priority ${priority} on ${ifname}${taken ? ` (program id ${taken.id} ${taken.name})` : ''}`,
        ifname,
        mark,
      });
    }
    throw failure('bpf_tc_attach', errno, { subject: `cls_bpf ${direction} on ${ifname}`, ifname, mark });
  }
  return new TcAttachment({
    mechanism: 'cls_bpf',
    ifindex: opts.ifindex,
    ifname,
    direction,
    handle,
    priority,
    progId: o.readUInt32LE(T.prog_id),
    createdQdisc: created === 0,
    fallbackReason,
  });
}

/**
 * Attaches a TC program to one side of an interface of the current namespace and reports the mechanism used.
 * tcx links sit beside other tcx programs (tcx is multi-program); cls_bpf uses its own handle/priority slot and
 * refuses (bpf-tc-conflict) when another filter holds it.
 */
export function attachTc(opts: TcAttachOptions): TcAttachment {
  const direction = opts.direction ?? 'ingress';
  const wanted = opts.mechanism ?? 'auto';
  const ifname = interfaceLabel(opts.ifindex);
  if (wanted === 'cls_bpf') return attachClsBpf(opts, direction, ifname);
  const mark = outputMark();
  const fd = attachTcx(opts.program, opts.ifindex, direction);
  if (fd >= 0) {
    const link = new BpfLink(BpfFd.own(fd, 'link'));
    return new TcAttachment({
      mechanism: 'tcx',
      ifindex: opts.ifindex,
      ifname,
      direction,
      link,
      progId: link.info().progId,
    });
  }
  const errno = -fd;
  const tcxMissing = errno === EINVAL || errno === EOPNOTSUPP || errno === ENOTSUPP;
  if (wanted === 'tcx' || !tcxMissing) {
    throw failure(`bpf_link_create(BPF_TCX_${direction.toUpperCase()})`, errno, {
      subject: ifname,
      code: tcxMissing ? 'bpf-not-supported' : undefined,
      hint: tcxMissing ? 'this kernel has no tcx links (they need Linux 6.6); use mechanism cls_bpf' : undefined,
      ifname,
      mark,
    });
  }
  return attachClsBpf(opts, direction, ifname, `tcx link failed with ${errnoName(errno)}: kernel without tcx`);
}

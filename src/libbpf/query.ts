// What is attached to an interface: XDP (netlink query), tcx (BPF_PROG_QUERY) and one cls_bpf filter slot
// (bpf_tc_query); a full list of cls_bpf filters needs tc, which src/dataplane/tc-filters.ts runs.
import { AttachType, BpfCmd, TcAttachPoint, XdpAttached } from '../abi/bpf-uapi.js';
import { EINVAL, ENOENT, ENOSPC } from './errors.js';
import { addressOf, bpfSyscall, check, failure, native, optsStruct, outputMark, stableBytes } from './ffi.js';
import { programFdById, programInfo } from './info.js';
import { OFFSETS } from './struct-offsets.js';
import { interfaceLabel } from './netdev.js';

export type XdpAttachMode = 'none' | 'native' | 'generic' | 'offload' | 'multi';
export type TcDirection = 'ingress' | 'egress';

export interface XdpState {
  /** How the program(s) are attached; `multi` means programs in more than one mode (e.g. offload + native). */
  mode: XdpAttachMode;
  /** The attached program when exactly one is (0 otherwise). */
  progId: number;
  nativeProgId: number;
  genericProgId: number;
  offloadProgId: number;
  /** Every attached program id, whatever the mode. */
  programIds: number[];
}

/** The XDP programs attached to an interface of the current network namespace. */
export function xdpQuery(ifindex: number): XdpState {
  const L = OFFSETS.bpf_xdp_query_opts;
  const o = optsStruct(L.size);
  const mark = outputMark();
  check('bpf_xdp_query', native.bpf_xdp_query(ifindex, 0, o), { subject: interfaceLabel(ifindex), mark });
  const attached = o.readUInt8(L.attach_mode);
  const mode: XdpAttachMode =
    attached === XdpAttached.DRV
      ? 'native'
      : attached === XdpAttached.SKB
        ? 'generic'
        : attached === XdpAttached.HW
          ? 'offload'
          : attached === XdpAttached.MULTI
            ? 'multi'
            : 'none';
  const nativeProgId = o.readUInt32LE(L.drv_prog_id);
  const genericProgId = o.readUInt32LE(L.skb_prog_id);
  const offloadProgId = o.readUInt32LE(L.hw_prog_id);
  return {
    mode,
    progId: o.readUInt32LE(L.prog_id),
    nativeProgId,
    genericProgId,
    offloadProgId,
    programIds: [nativeProgId, genericProgId, offloadProgId].filter((id) => id !== 0),
  };
}

export interface TcxState {
  direction: TcDirection;
  /** False when the kernel has no tcx (before 6.6): the other fields are then empty. */
  supported: boolean;
  /** Programs in run order. */
  programIds: number[];
  /** The link of each program (same order); 0 for a program attached without a link. */
  linkIds: number[];
  /** Bumped by the kernel on every change to this hook. */
  revision: bigint;
}

/** The tcx programs and links on one side of an interface (BPF_PROG_QUERY with BPF_TCX_INGRESS/EGRESS). */
export function tcxQuery(ifindex: number, direction: TcDirection): TcxState {
  const attachType = direction === 'ingress' ? AttachType.TCX_INGRESS : AttachType.TCX_EGRESS;
  const L = OFFSETS.bpf_attr_query;
  let room = 0;
  for (let attempt = 0; attempt < 5; attempt++) {
    const attr = stableBytes(L.size);
    attr.writeUInt32LE(ifindex, L['query.target_fd']);
    attr.writeUInt32LE(attachType, L['query.attach_type']);
    const progIds = room > 0 ? stableBytes(room * 4) : null;
    const linkIds = room > 0 ? stableBytes(room * 4) : null;
    if (progIds && linkIds) {
      attr.writeBigUInt64LE(addressOf(progIds), L['query.prog_ids']);
      attr.writeBigUInt64LE(addressOf(linkIds), L['query.link_ids']);
      attr.writeUInt32LE(room, L['query.prog_cnt']);
    }
    const ret = bpfSyscall(BpfCmd.PROG_QUERY, attr);
    const count = attr.readUInt32LE(L['query.prog_cnt']);
    if (ret === -EINVAL && attempt === 0) {
      return { direction, supported: false, programIds: [], linkIds: [], revision: 0n };
    }
    if (ret === -ENOSPC || (ret >= 0 && count > room && count > 0)) {
      room = count + 4; // programs were added between the two calls: ask again with more room
      continue;
    }
    if (ret < 0)
      throw failure('bpf(BPF_PROG_QUERY)', -ret, { subject: `tcx ${direction} on ${interfaceLabel(ifindex)}` });
    const n = Math.min(count, room);
    return {
      direction,
      supported: true,
      programIds: Array.from({ length: n }, (_, i) => progIds!.readUInt32LE(i * 4)),
      linkIds: Array.from({ length: n }, (_, i) => linkIds!.readUInt32LE(i * 4)),
      revision: attr.readBigUInt64LE(L['query.revision']),
    };
  }
  throw failure('bpf(BPF_PROG_QUERY)', ENOSPC, {
    subject: `tcx ${direction} on ${interfaceLabel(ifindex)}`,
    hint: 'the hook kept changing while it was read',
  });
}

/** The program id of the cls_bpf filter at (handle, priority), or undefined when there is none (bpf_tc_query). */
export function clsBpfQuery(opts: {
  ifindex: number;
  direction: TcDirection;
  handle: number;
  priority: number;
}): number | undefined {
  const H = OFFSETS.bpf_tc_hook;
  const hook = optsStruct(H.size);
  hook.writeInt32LE(opts.ifindex, H.ifindex);
  hook.writeUInt32LE(opts.direction === 'ingress' ? TcAttachPoint.INGRESS : TcAttachPoint.EGRESS, H.attach_point);
  const T = OFFSETS.bpf_tc_opts;
  const o = optsStruct(T.size);
  o.writeUInt32LE(opts.handle, T.handle);
  o.writeUInt32LE(opts.priority, T.priority);
  const mark = outputMark();
  const ret = native.bpf_tc_query(hook, o);
  // ENOENT: no such filter; EINVAL: no clsact qdisc on the interface at all.
  if (ret === -ENOENT || ret === -EINVAL) return undefined;
  check('bpf_tc_query', ret, {
    subject: `cls_bpf ${opts.direction} handle ${opts.handle} priority ${opts.priority} on ${interfaceLabel(opts.ifindex)}`,
    mark,
  });
  return o.readUInt32LE(T.prog_id);
}

export interface ProgramRef {
  id: number;
  /** Empty when the program vanished before it could be read. */
  name: string;
  tag: string;
}

/** Name and tag of a program by id, for reports; tolerant of programs that disappear meanwhile. */
export function programRef(id: number): ProgramRef {
  try {
    const fd = programFdById(id);
    try {
      const info = programInfo(fd);
      return { id, name: info.name, tag: info.tag };
    } finally {
      fd.close();
    }
  } catch {
    return { id, name: '', tag: '' };
  }
}

/** The attached XDP program ids that are not in `owned` ("another program is attached"). */
export function foreignXdpPrograms(state: XdpState, owned: Iterable<number> = []): number[] {
  const mine = new Set(owned);
  return state.programIds.filter((id) => !mine.has(id));
}

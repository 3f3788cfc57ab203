// Object info (bpf_obj_get_info_by_fd) for programs, maps and links, and opening objects by their kernel id.
import { attachTypeName, AttachType, linkTypeName, LinkType, mapTypeName, progTypeName } from '../abi/bpf-uapi.js';
import { BpfFd } from './fd.js';
import { addressOf, check, native, outputMark, readCString, stableBytes } from './ffi.js';
import { INFO_BUFFER_SIZE, OFFSETS } from './struct-offsets.js';

export interface ProgramInfo {
  id: number;
  type: number;
  /** `XDP`, `SCHED_CLS` … */
  typeName: string;
  /** The name given at load, at most 15 characters. */
  name: string;
  /** The kernel's 8-byte program tag as 16 hex digits: equal tags mean equal (xlated) instructions. */
  tag: string;
  mapIds: number[];
  /** Bytes of the verifier-rewritten instructions; jited length is 0 when the JIT is off. */
  xlatedLength: number;
  jitedLength: number;
  /** Nanoseconds since boot when the program was loaded. */
  loadTimeNs: bigint;
  createdByUid: number;
  /** Run statistics: 0 unless kernel.bpf_stats_enabled is on (this binding never turns it on). */
  runCount: number;
  runTimeNs: number;
  verifiedInstructions: number;
  btfId: number;
}

export interface MapInfo {
  id: number;
  type: number;
  typeName: string;
  name: string;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
  mapExtra: bigint;
  btfId: number;
}

export interface LinkInfo {
  id: number;
  type: number;
  /** `XDP`, `TCX` … */
  typeName: string;
  progId: number;
  /** For XDP links: the interface (0 once the interface or link is gone). */
  xdp?: { ifindex: number };
  /** For tcx links: the interface and which side. */
  tcx?: { ifindex: number; attachType: number; direction: 'ingress' | 'egress' | 'unknown' };
}

function fdNumber(fd: BpfFd | number): number {
  return typeof fd === 'number' ? fd : fd.fd;
}

/** Calls bpf_obj_get_info_by_fd with `buf` (already holding any input fields) and returns it. */
function getInfo(fd: number, buf: Buffer, what: string): Buffer {
  const lenBuf = stableBytes(4);
  lenBuf.writeUInt32LE(buf.length, 0);
  const mark = outputMark();
  check('bpf_obj_get_info_by_fd', native.bpf_obj_get_info_by_fd(fd, buf, lenBuf), {
    subject: `${what} fd ${fd}`,
    mark,
  });
  return buf;
}

/** What the kernel knows about a loaded program. */
export function programInfo(fd: BpfFd | number): ProgramInfo {
  const n = fdNumber(fd);
  const L = OFFSETS.bpf_prog_info;
  let info = getInfo(n, stableBytes(INFO_BUFFER_SIZE), 'program');
  const nrMapIds = info.readUInt32LE(L.nr_map_ids);
  let mapIds: number[] = [];
  if (nrMapIds > 0) {
    // Second pass: hand the kernel an array for the map ids; every other pointer field stays 0.
    const ids = stableBytes(nrMapIds * 4);
    const again = stableBytes(INFO_BUFFER_SIZE);
    again.writeUInt32LE(nrMapIds, L.nr_map_ids);
    again.writeBigUInt64LE(addressOf(ids), L.map_ids);
    info = getInfo(n, again, 'program');
    const got = Math.min(nrMapIds, info.readUInt32LE(L.nr_map_ids));
    mapIds = Array.from({ length: got }, (_, i) => ids.readUInt32LE(i * 4));
  }
  const type = info.readUInt32LE(L.type);
  return {
    id: info.readUInt32LE(L.id),
    type,
    typeName: progTypeName(type),
    name: readCString(info, L.name, 16),
    tag: info.subarray(L.tag, L.tag + 8).toString('hex'),
    mapIds,
    xlatedLength: info.readUInt32LE(L.xlated_prog_len),
    jitedLength: info.readUInt32LE(L.jited_prog_len),
    loadTimeNs: info.readBigUInt64LE(L.load_time),
    createdByUid: info.readUInt32LE(L.created_by_uid),
    runCount: Number(info.readBigUInt64LE(L.run_cnt)),
    runTimeNs: Number(info.readBigUInt64LE(L.run_time_ns)),
    verifiedInstructions: info.readUInt32LE(L.verified_insns),
    btfId: info.readUInt32LE(L.btf_id),
  };
}

/** What the kernel knows about a map. */
export function mapInfo(fd: BpfFd | number): MapInfo {
  const L = OFFSETS.bpf_map_info;
  const info = getInfo(fdNumber(fd), stableBytes(INFO_BUFFER_SIZE), 'map');
  const type = info.readUInt32LE(L.type);
  return {
    id: info.readUInt32LE(L.id),
    type,
    typeName: mapTypeName(type),
    name: readCString(info, L.name, 16),
    keySize: info.readUInt32LE(L.key_size),
    valueSize: info.readUInt32LE(L.value_size),
    maxEntries: info.readUInt32LE(L.max_entries),
    flags: info.readUInt32LE(L.map_flags),
    mapExtra: info.readBigUInt64LE(L.map_extra),
    btfId: info.readUInt32LE(L.btf_id),
  };
}

/** What the kernel knows about a link, with the XDP or tcx target when it is one of those. */
export function linkInfo(fd: BpfFd | number): LinkInfo {
  const L = OFFSETS.bpf_link_info;
  const info = getInfo(fdNumber(fd), stableBytes(INFO_BUFFER_SIZE), 'link');
  const type = info.readUInt32LE(L.type);
  const out: LinkInfo = {
    id: info.readUInt32LE(L.id),
    type,
    typeName: linkTypeName(type),
    progId: info.readUInt32LE(L.prog_id),
  };
  if (type === LinkType.XDP) out.xdp = { ifindex: info.readUInt32LE(L['xdp.ifindex']) };
  if (type === LinkType.TCX) {
    const attachType = info.readUInt32LE(L['tcx.attach_type']);
    const direction =
      attachType === AttachType.TCX_INGRESS ? 'ingress' : attachType === AttachType.TCX_EGRESS ? 'egress' : 'unknown';
    out.tcx = { ifindex: info.readUInt32LE(L['tcx.ifindex']), attachType, direction };
  }
  return out;
}

/** A readable label for a link's attach point, for messages. */
export function describeLink(info: LinkInfo): string {
  if (info.xdp) return `xdp link ${info.id} on ifindex ${info.xdp.ifindex}`;
  if (info.tcx)
    return `tcx ${info.tcx.direction} link ${info.id} on ifindex ${info.tcx.ifindex} (${attachTypeName(info.tcx.attachType)})`;
  return `${info.typeName} link ${info.id}`;
}

/** An owned fd for the program with kernel id `id` (ENOENT → bpf-not-found). */
export function programFdById(id: number): BpfFd {
  const mark = outputMark();
  return BpfFd.own(
    check('bpf_prog_get_fd_by_id', native.bpf_prog_get_fd_by_id(id), { subject: `program id ${id}`, mark }),
    'prog',
  );
}

/** An owned fd for the map with kernel id `id`. */
export function mapFdById(id: number): BpfFd {
  const mark = outputMark();
  return BpfFd.own(
    check('bpf_map_get_fd_by_id', native.bpf_map_get_fd_by_id(id), { subject: `map id ${id}`, mark }),
    'map',
  );
}

/** An owned fd for the link with kernel id `id`. */
export function linkFdById(id: number): BpfFd {
  const mark = outputMark();
  return BpfFd.own(
    check('bpf_link_get_fd_by_id', native.bpf_link_get_fd_by_id(id), { subject: `link id ${id}`, mark }),
    'link',
  );
}

// The kernel's BPF numbers (uapi linux/bpf.h, if_link.h and libbpf.h) that the binding passes or reads back, and the
// generated programs and the ABI mirror use.

/** enum bpf_map_type (the map types notrack can meet; the rest are reported by number). */
export const MapType = {
  HASH: 1,
  ARRAY: 2,
  PROG_ARRAY: 3,
  PERF_EVENT_ARRAY: 4,
  PERCPU_HASH: 5,
  PERCPU_ARRAY: 6,
  LRU_HASH: 9,
  LRU_PERCPU_HASH: 10,
  LPM_TRIE: 11,
  ARRAY_OF_MAPS: 12,
  HASH_OF_MAPS: 13,
  DEVMAP: 14,
  CPUMAP: 16,
  XSKMAP: 17,
  QUEUE: 22,
  STACK: 23,
  DEVMAP_HASH: 25,
  RINGBUF: 27,
  BLOOM_FILTER: 30,
} as const;
export type MapTypeName = keyof typeof MapType;

/** enum bpf_prog_type (network program types; the rest are reported by number). */
export const ProgType = {
  SOCKET_FILTER: 1,
  SCHED_CLS: 3,
  SCHED_ACT: 4,
  XDP: 6,
  CGROUP_SKB: 8,
  LWT_IN: 10,
  LWT_OUT: 11,
  LWT_XMIT: 12,
  SK_SKB: 14,
  FLOW_DISSECTOR: 22,
  SK_LOOKUP: 30,
} as const;
export type ProgTypeName = keyof typeof ProgType;

/** enum bpf_attach_type values used here. TCX needs kernel 6.6; the 6.1 uapi headers on the build host lack it. */
export const AttachType = {
  CGROUP_INET_INGRESS: 0,
  CGROUP_INET_EGRESS: 1,
  XDP_CPUMAP: 35,
  XDP: 37,
  XDP_DEVMAP: 33,
  TCX_INGRESS: 46,
  TCX_EGRESS: 47,
} as const;

/** enum bpf_link_type. */
export const LinkType = {
  UNSPEC: 0,
  RAW_TRACEPOINT: 1,
  TRACING: 2,
  CGROUP: 3,
  ITER: 4,
  NETNS: 5,
  XDP: 6,
  PERF_EVENT: 7,
  KPROBE_MULTI: 8,
  STRUCT_OPS: 9,
  NETFILTER: 10,
  TCX: 11,
  UPROBE_MULTI: 12,
  NETKIT: 13,
  SOCKMAP: 14,
} as const;

/** Map element update flags. */
export const UpdateFlag = { ANY: 0, NOEXIST: 1, EXIST: 2, LOCK: 4 } as const;
export type UpdateMode = 'any' | 'noexist' | 'exist';

/** Map creation flags (map_flags). */
export const MapFlag = {
  NO_PREALLOC: 1 << 0,
  NO_COMMON_LRU: 1 << 1,
  NUMA_NODE: 1 << 2,
  RDONLY: 1 << 3,
  WRONLY: 1 << 4,
  ZERO_SEED: 1 << 6,
  RDONLY_PROG: 1 << 7,
  WRONLY_PROG: 1 << 8,
  MMAPABLE: 1 << 10,
  INNER_MAP: 1 << 12,
} as const;

/** BPF_PROG_TEST_RUN flags. */
export const TestRunFlag = { RUN_ON_CPU: 1 << 0, XDP_LIVE_FRAMES: 1 << 1 } as const;

/** XDP_FLAGS_* from linux/if_link.h (link_create.flags for BPF_XDP). */
export const XdpFlag = {
  UPDATE_IF_NOEXIST: 1 << 0,
  SKB_MODE: 1 << 1,
  DRV_MODE: 1 << 2,
  HW_MODE: 1 << 3,
  REPLACE: 1 << 4,
} as const;

/** XDP_ATTACHED_* as reported by bpf_xdp_query. */
export const XdpAttached = { NONE: 0, DRV: 1, SKB: 2, HW: 3, MULTI: 4 } as const;

/** BPF_F_REPLACE: link update only if the link still runs old_prog_fd. */
export const BPF_F_REPLACE = 1 << 2;

/** enum bpf_tc_attach_point (libbpf.h). */
export const TcAttachPoint = { INGRESS: 1 << 0, EGRESS: 1 << 1, CUSTOM: 1 << 2 } as const;

/** bpf() commands issued directly where libbpf 1.1 has no wrapper for what 6.x kernels added. */
export const BpfCmd = { PROG_QUERY: 16, LINK_CREATE: 28 } as const;

function invert(table: Record<string, number>): Map<number, string> {
  return new Map(Object.entries(table).map(([k, v]) => [v, k]));
}
const mapTypeNames = invert(MapType);
const progTypeNames = invert(ProgType);
const linkTypeNames = invert(LinkType);
const attachTypeNames = invert(AttachType);

/** `HASH`, `LPM_TRIE` …, or `type<n>` for a type this binding has no name for. */
export function mapTypeName(type: number): string {
  return mapTypeNames.get(type) ?? `type${type}`;
}
export function progTypeName(type: number): string {
  return progTypeNames.get(type) ?? `type${type}`;
}
export function linkTypeName(type: number): string {
  return linkTypeNames.get(type) ?? `type${type}`;
}
export function attachTypeName(type: number): string {
  return attachTypeNames.get(type) ?? `type${type}`;
}

/** The per-CPU map types, whose values user space reads and writes once per possible CPU. */
export function isPerCpuMapType(type: number): boolean {
  return type === MapType.PERCPU_HASH || type === MapType.PERCPU_ARRAY || type === MapType.LRU_PERCPU_HASH;
}

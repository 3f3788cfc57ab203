// The TypeScript mirror of bpf/notrack.h: objects, programs, maps, jump slots, state offsets, flags and counters,
// with the encoders and decoders of every value user space writes to or reads from those maps. Pure: no I/O.
//
// test/kernel/abi-btf.test.ts checks every struct, enum and map spec here against the BTF of build/bpf/*.o.
// Numbers are little-endian, as on every host notrack supports (x86_64, arm64).
import { NotrackError } from '../errors.js';
import { AttachType, MapFlag, MapType, ProgType } from './bpf-uapi.js';
import { formatIp, parseCidr, type IpFamily } from '../net/cidr.js';

/** A value that cannot be encoded into a value of the ABI (bad address, out-of-range number, short buffer). */
class AbiValueError extends NotrackError {
  constructor(code: 'abi-bad-value' | 'abi-short-buffer', message: string) {
    super(code, message);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Objects and programs

/** The compiled objects, relative to the repository root; scripts/build-bpf.mjs makes them. */
export const BPF_OBJECTS = { xdp: 'build/bpf/xdp.o', tc: 'build/bpf/tc.o' } as const;
export type BpfObjectName = keyof typeof BPF_OBJECTS;

/** Program names in the objects (also their kernel names). Only `xdpEntry` and `tcIngress` are attached. */
export const PROGRAMS = {
  xdpEntry: 'nt_xdp_entry',
  accept: 'nt_xdp_accept',
  drop: 'nt_xdp_drop',
  pass: 'nt_xdp_pass',
  tcIngress: 'nt_tc_ingress',
} as const;

/**
 * How the generated policy program must be loaded to be accepted into `nt_jump`: the program array takes only
 * programs with its owner's type and expected attach type (kernel 6.18), and the owners are libbpf's SEC("xdp")
 * programs. No BPF_F_XDP_HAS_FRAGS. Its map fds must come from the same load of xdp.o.
 */
export const POLICY_PROGRAM_LOAD = {
  progType: ProgType.XDP,
  expectedAttachType: AttachType.XDP,
  progFlags: 0,
} as const;

/** The object holding each program. */
export const PROGRAM_OBJECT: Record<keyof typeof PROGRAMS, BpfObjectName> = {
  xdpEntry: 'xdp',
  accept: 'xdp',
  drop: 'xdp',
  pass: 'xdp',
  tcIngress: 'tc',
};

// ---------------------------------------------------------------------------------------------------------------
// Structs (byte offsets and sizes of every member, as in the compiled objects' BTF)

interface AbiMember {
  readonly name: string;
  readonly offset: number;
  readonly size: number;
}
interface AbiStruct {
  readonly name: string;
  readonly size: number;
  readonly members: readonly AbiMember[];
}

function struct(name: string, size: number, members: [string, number, number][]): AbiStruct {
  return { name, size, members: members.map(([n, offset, sz]) => ({ name: n, offset, size: sz })) };
}

/** Every struct of bpf/notrack.h, by its C name. */
export const STRUCTS = {
  nt_packet: struct('nt_packet', 48, [
    ['saddr', 0, 16],
    ['daddr', 16, 16],
    ['sport', 32, 2],
    ['dport', 34, 2],
    ['icmp_type', 36, 1],
    ['icmp_code', 37, 1],
    ['ip_proto', 38, 1],
    ['family', 39, 1],
    ['flags', 40, 4],
    ['l3_off', 44, 2],
    ['l4_off', 46, 2],
  ]),
  nt_state: struct('nt_state', 96, [
    ['pkt', 0, 48],
    ['rule_id', 48, 4],
    ['log_count', 52, 4],
    ['log_rules', 56, 16],
    ['ifindex', 72, 4],
    ['pkt_len', 76, 4],
    ['scratch', 80, 16],
  ]),
  nt_meta: struct('nt_meta', 8, [
    ['magic', 0, 4],
    ['flags', 4, 4],
  ]),
  nt_failsafe_key: struct('nt_failsafe_key', 28, [
    ['prefixlen', 0, 4],
    ['family', 4, 1],
    ['direction', 5, 1],
    ['proto', 6, 1],
    ['pad0', 7, 1],
    ['port', 8, 2],
    ['pad1', 10, 2],
    ['addr', 12, 16],
  ]),
  nt_failsafe_ports: struct('nt_failsafe_ports', 16392, [
    ['filled', 0, 4],
    ['pad', 4, 4],
    ['in', 8, 8192],
    ['out', 8200, 8192],
  ]),
  nt_counter: struct('nt_counter', 16, [
    ['packets', 0, 8],
    ['bytes', 8, 8],
  ]),
  nt_log_event: struct('nt_log_event', 80, [
    ['ts_ns', 0, 8],
    ['pkt', 8, 48],
    ['rule_id', 56, 4],
    ['decided_by', 60, 4],
    ['ifindex', 64, 4],
    ['pkt_len', 68, 4],
    ['verdict', 72, 4],
    ['pad', 76, 4],
  ]),
  nt_log_bucket: struct('nt_log_bucket', 16, [
    ['budget_ns', 0, 8],
    ['last_ns', 8, 8],
  ]),
  nt_config: struct('nt_config', 16, [
    ['accept_mark', 0, 4],
    ['accept_mask', 4, 4],
    ['log_rate', 8, 4],
    ['log_burst', 12, 4],
  ]),
} as const satisfies Record<string, AbiStruct>;

function member(s: AbiStruct, name: string): AbiMember {
  const m = s.members.find((x) => x.name === name);
  if (!m) throw new Error(`abi: ${s.name} has no member ${name}`);
  return m;
}

function absolute(s: AbiStruct, name: string, base = 0): { offset: number; size: number } {
  const m = member(s, name);
  return { offset: base + m.offset, size: m.size };
}

const PKT = STRUCTS.nt_packet;
const STATE = STRUCTS.nt_state;
const PKT_IN_STATE = member(STATE, 'pkt').offset;

/**
 * Where the generated policy program finds each field of the per-packet state (map `nt_state`, key 0), as byte
 * offsets from the start of the map value. See bpf/notrack.h for byte order: addresses as on the wire, ports and
 * everything else in host order; a 16-bit load at `icmpType` reads `(code << 8) | type`.
 */
export const STATE_FIELDS = {
  saddr: absolute(PKT, 'saddr', PKT_IN_STATE),
  daddr: absolute(PKT, 'daddr', PKT_IN_STATE),
  sport: absolute(PKT, 'sport', PKT_IN_STATE),
  dport: absolute(PKT, 'dport', PKT_IN_STATE),
  icmpType: absolute(PKT, 'icmp_type', PKT_IN_STATE),
  icmpCode: absolute(PKT, 'icmp_code', PKT_IN_STATE),
  ipProto: absolute(PKT, 'ip_proto', PKT_IN_STATE),
  family: absolute(PKT, 'family', PKT_IN_STATE),
  flags: absolute(PKT, 'flags', PKT_IN_STATE),
  l3Off: absolute(PKT, 'l3_off', PKT_IN_STATE),
  l4Off: absolute(PKT, 'l4_off', PKT_IN_STATE),
  ruleId: absolute(STATE, 'rule_id'),
  logCount: absolute(STATE, 'log_count'),
  logRules: absolute(STATE, 'log_rules'),
  ifindex: absolute(STATE, 'ifindex'),
  pktLen: absolute(STATE, 'pkt_len'),
  scratch: absolute(STATE, 'scratch'),
} as const;

// ---------------------------------------------------------------------------------------------------------------
// Enums. Each TS object mirrors one C enum; its C names are PREFIX + the key in UPPER_SNAKE (see C_ENUMS).

/** enum nt_packet_flag: bits of the state's `flags`. */
export const PacketFlag = {
  ports: 1 << 0,
  icmp: 1 << 1,
  fragment: 1 << 2,
  laterFragment: 1 << 3,
  ipOptions: 1 << 4,
  extHeaders: 1 << 5,
  vlan: 1 << 6,
} as const;

/** enum nt_limits. */
export const Limits = {
  logMax: 4,
  extHdrMax: 8,
  vlanMax: 2,
  jumpSlots: 32,
  failsafeMax: 1024,
  ruleCountersMax: 16384,
  logRingBytes: 256 * 1024,
} as const;

/** enum nt_rule_id: `rule_id` when no rule decided. */
const RuleId = { none: 0xffffffff } as const;
export const RULE_NONE = RuleId.none;

/**
 * enum nt_jump_slot: slots of the program array `nt_jump`. The loader puts the policy program in `policy`; part
 * k >= 1 of a split policy program goes to `splitFirst + k - 1`. libbpf fills accept, drop and pass.
 */
export const JumpSlot = { policy: 0, accept: 1, drop: 2, pass: 3, splitFirst: 4 } as const;

/** enum nt_verdict: the outcome in a log event (same numbers as the epilogue slots). */
const Verdict = { accept: 1, drop: 2, pass: 3 } as const;
type VerdictName = keyof typeof Verdict;

/** enum nt_meta_const: the XDP metadata the accept epilogue writes and the TC program reads. */
export const Meta = { magic: 0x4e54524b, accepted: 1 << 0 } as const;

/** enum nt_failsafe_direction. */
const FailsafeDirection = { in: 0, out: 1 } as const;
type FailsafeDirectionName = keyof typeof FailsafeDirection;

/** enum nt_failsafe_const: prefix bits of a failsafe key before the address. */
const FailsafeKeyBits = { fixedBits: 64 } as const;

/** enum nt_counter_reason: indexes of `nt_counters`. */
export const Counter = {
  total: 0,
  nonIp: 1,
  malformed: 2,
  unsupported: 3,
  failsafe: 4,
  noPolicy: 5,
  accepted: 6,
  dropped: 7,
  policyPassed: 8,
  noMatch: 9,
  metaFailed: 10,
  logEmitted: 11,
  logRateLimited: 12,
  logLost: 13,
  logOverflow: 14,
  tailCallFailed: 15,
} as const;
export type CounterName = keyof typeof Counter;
const COUNTER_COUNT = 16;

/** enum nt_tc_counter_reason: indexes of `nt_tc_counters`. */
export const TcCounter = { seen: 0, accepted: 1, foreignMeta: 2 } as const;
export type TcCounterName = keyof typeof TcCounter;
const TC_COUNTER_COUNT = 3;

function upperSnake(key: string): string {
  return key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
}

function cEnum(
  prefix: string,
  values: Record<string, number>,
  extra: Record<string, number> = {},
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(values)) out[prefix + upperSnake(k)] = v;
  return { ...out, ...extra };
}

/** Every enum of bpf/notrack.h by its C name, with its C enumerator names and values. */
export const C_ENUMS: Record<string, Record<string, number>> = {
  nt_packet_flag: cEnum('NT_PKT_F_', PacketFlag),
  nt_limits: cEnum('NT_', Limits),
  nt_rule_id: cEnum('NT_RULE_', RuleId),
  nt_jump_slot: cEnum('NT_SLOT_', JumpSlot),
  nt_verdict: cEnum('NT_VERDICT_', Verdict),
  nt_meta_const: cEnum('NT_META_', Meta),
  nt_failsafe_direction: cEnum('NT_FAILSAFE_', FailsafeDirection),
  nt_failsafe_const: cEnum('NT_FAILSAFE_', FailsafeKeyBits),
  nt_counter_reason: cEnum('NT_CNT_', Counter, { NT_CNT__COUNT: COUNTER_COUNT }),
  nt_tc_counter_reason: cEnum('NT_TC_CNT_', TcCounter, { NT_TC_CNT__COUNT: TC_COUNTER_COUNT }),
};

// ---------------------------------------------------------------------------------------------------------------
// Maps

export interface ObjectMapSpec {
  readonly name: string;
  readonly object: BpfObjectName;
  /** enum bpf_map_type */
  readonly type: number;
  readonly keySize: number;
  readonly valueSize: number;
  /** Default capacity compiled into the object (the loader may change ruleCounters and log before load). */
  readonly maxEntries: number;
  readonly flags: number;
}

/** Every map of the objects. Per-CPU maps return `valueSize` bytes per possible CPU on lookup. */
export const MAPS = {
  state: {
    name: 'nt_state',
    object: 'xdp',
    type: MapType.PERCPU_ARRAY,
    keySize: 4,
    valueSize: STATE.size,
    maxEntries: 1,
    flags: 0,
  },
  jump: {
    name: 'nt_jump',
    object: 'xdp',
    type: MapType.PROG_ARRAY,
    keySize: 4,
    valueSize: 4,
    maxEntries: Limits.jumpSlots,
    flags: 0,
  },
  failsafe: {
    name: 'nt_failsafe',
    object: 'xdp',
    type: MapType.LPM_TRIE,
    keySize: STRUCTS.nt_failsafe_key.size,
    valueSize: 4,
    maxEntries: Limits.failsafeMax,
    flags: MapFlag.NO_PREALLOC,
  },
  failsafePorts: {
    name: 'nt_failsafe_ports',
    object: 'xdp',
    type: MapType.ARRAY,
    keySize: 4,
    valueSize: STRUCTS.nt_failsafe_ports.size,
    maxEntries: 1,
    flags: 0,
  },
  counters: {
    name: 'nt_counters',
    object: 'xdp',
    type: MapType.PERCPU_ARRAY,
    keySize: 4,
    valueSize: 16,
    maxEntries: COUNTER_COUNT,
    flags: 0,
  },
  ruleCounters: {
    name: 'nt_rule_counters',
    object: 'xdp',
    type: MapType.PERCPU_ARRAY,
    keySize: 4,
    valueSize: 16,
    maxEntries: Limits.ruleCountersMax,
    flags: 0,
  },
  log: {
    name: 'nt_log',
    object: 'xdp',
    type: MapType.RINGBUF,
    keySize: 0,
    valueSize: 0,
    maxEntries: Limits.logRingBytes,
    flags: 0,
  },
  logBucket: {
    name: 'nt_log_bucket',
    object: 'xdp',
    type: MapType.PERCPU_ARRAY,
    keySize: 4,
    valueSize: STRUCTS.nt_log_bucket.size,
    maxEntries: 1,
    flags: 0,
  },
  tcCounters: {
    name: 'nt_tc_counters',
    object: 'tc',
    type: MapType.PERCPU_ARRAY,
    keySize: 4,
    valueSize: 16,
    maxEntries: TC_COUNTER_COUNT,
    flags: 0,
  },
} as const satisfies Record<string, ObjectMapSpec>;

/**
 * The read-only configuration map in both objects: find it with bpf_object__find_map_by_name(obj, CONFIG_MAP)
 * and give it `encodeConfig(...)` with bpf_map__set_initial_value() before bpf_object__load().
 */
export const CONFIG_MAP = '.rodata.config';

// ---------------------------------------------------------------------------------------------------------------
// Configuration

export interface DataplaneConfig {
  /** Mark bits the TC program sets on accepted packets (only those under acceptMask). */
  acceptMark: number;
  /** Which skb->mark bits notrack owns; 0 disables marking. */
  acceptMask: number;
  /** Log events per second per CPU; 0 disables log events (Log rules still count). */
  logRate: number;
  /** Token bucket size in events; 0 is taken as 1. */
  logBurst: number;
}

function u32(what: string, v: number): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) {
    throw new AbiValueError('abi-bad-value', `${what} must be an integer from 0 to 4294967295, not ${v}`);
  }
  return v;
}

function need(buf: Uint8Array, bytes: number, what: string): Buffer {
  if (buf.length < bytes)
    throw new AbiValueError('abi-short-buffer', `${what} needs ${bytes} bytes, got ${buf.length}`);
  return Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
}

/** The 16 bytes of struct nt_config for the CONFIG_MAP of both objects. */
export function encodeConfig(cfg: DataplaneConfig): Buffer {
  const c = STRUCTS.nt_config;
  const out = Buffer.alloc(c.size);
  out.writeUInt32LE(u32('acceptMark', cfg.acceptMark), member(c, 'accept_mark').offset);
  out.writeUInt32LE(u32('acceptMask', cfg.acceptMask), member(c, 'accept_mask').offset);
  out.writeUInt32LE(u32('logRate', cfg.logRate), member(c, 'log_rate').offset);
  out.writeUInt32LE(u32('logBurst', cfg.logBurst), member(c, 'log_burst').offset);
  return out;
}

export function decodeConfig(buf: Uint8Array): DataplaneConfig {
  const c = STRUCTS.nt_config;
  const b = need(buf, c.size, 'struct nt_config');
  return {
    acceptMark: b.readUInt32LE(member(c, 'accept_mark').offset),
    acceptMask: b.readUInt32LE(member(c, 'accept_mask').offset),
    logRate: b.readUInt32LE(member(c, 'log_rate').offset),
    logBurst: b.readUInt32LE(member(c, 'log_burst').offset),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Addresses as the state stores them

function addressAt(b: Buffer, offset: number, family: number): string {
  if (family === 4) return formatIp(4, b.subarray(offset, offset + 4));
  if (family === 6) return formatIp(6, b.subarray(offset, offset + 16));
  return '';
}

// ---------------------------------------------------------------------------------------------------------------
// Failsafe keys

export interface FailsafeEntry {
  direction: FailsafeDirectionName;
  /** IP protocol number (6 tcp, 17 udp, 132 sctp, 136 udplite). */
  proto: number;
  port: number;
  /**
   * The peer's network: for `in` the sources allowed to reach `port` here, for `out` the servers this host may
   * reach on `port` (their replies come from them). A bare address is a host; omitted means any address of `family`.
   */
  net?: string;
  /** Needed only when `net` is omitted. */
  family?: IpFamily;
}

/** The 28-byte LPM key of struct nt_failsafe_key; host bits of `net` are cleared so equal nets give equal keys. */
export function encodeFailsafeKey(entry: FailsafeEntry): Buffer {
  const k = STRUCTS.nt_failsafe_key;
  let family: IpFamily, addr: Uint8Array, prefix: number;
  if (entry.net !== undefined) {
    const cidr = parseCidr(entry.net);
    if (!cidr)
      throw new AbiValueError('abi-bad-value', `failsafe net is not an address or CIDR: ${JSON.stringify(entry.net)}`);
    if (entry.family !== undefined && entry.family !== cidr.family) {
      throw new AbiValueError('abi-bad-value', `failsafe net ${entry.net} is not IPv${entry.family}`);
    }
    ({ family, addr, prefix } = cidr);
  } else {
    if (entry.family !== 4 && entry.family !== 6) {
      throw new AbiValueError('abi-bad-value', 'a failsafe entry without a net needs family 4 or 6');
    }
    family = entry.family;
    addr = new Uint8Array(family === 4 ? 4 : 16);
    prefix = 0;
  }
  if (!Number.isInteger(entry.proto) || entry.proto < 0 || entry.proto > 255) {
    throw new AbiValueError('abi-bad-value', `failsafe protocol must be 0-255, not ${entry.proto}`);
  }
  if (!Number.isInteger(entry.port) || entry.port < 0 || entry.port > 65535) {
    throw new AbiValueError('abi-bad-value', `failsafe port must be 0-65535, not ${entry.port}`);
  }
  const out = Buffer.alloc(k.size);
  out.writeUInt32LE(FailsafeKeyBits.fixedBits + prefix, member(k, 'prefixlen').offset);
  out.writeUInt8(family, member(k, 'family').offset);
  out.writeUInt8(FailsafeDirection[entry.direction], member(k, 'direction').offset);
  out.writeUInt8(entry.proto, member(k, 'proto').offset);
  out.writeUInt16BE(entry.port, member(k, 'port').offset);
  out.set(addr, member(k, 'addr').offset);
  return out;
}

/**
 * The value of `nt_failsafe_ports` (key 0) for the same entries as written to `nt_failsafe`: the port bits that
 * let nt_xdp_entry skip the trie for ports without failsafes. Write both from one list.
 */
export function encodeFailsafePorts(entries: readonly FailsafeEntry[]): Buffer {
  const s = STRUCTS.nt_failsafe_ports;
  const out = Buffer.alloc(s.size);
  out.writeUInt32LE(1, member(s, 'filled').offset);
  for (const e of entries) {
    if (!Number.isInteger(e.port) || e.port < 0 || e.port > 65535) {
      throw new AbiValueError('abi-bad-value', `failsafe port must be 0-65535, not ${e.port}`);
    }
    const base = member(s, e.direction).offset;
    out[base + (e.port >> 3)]! |= 1 << (e.port & 7);
  }
  return out;
}

/** The value stored with every failsafe key (only presence matters). */
export const FAILSAFE_VALUE: Buffer = Buffer.from([1, 0, 0, 0]);

/** Reads a failsafe key back (e.g. from a map dump) in the form encodeFailsafeKey takes, `net` as a CIDR. */
export function decodeFailsafeKey(buf: Uint8Array): Required<FailsafeEntry> {
  const k = STRUCTS.nt_failsafe_key;
  const b = need(buf, k.size, 'struct nt_failsafe_key');
  const family = b.readUInt8(member(k, 'family').offset);
  if (family !== 4 && family !== 6) throw new AbiValueError('abi-bad-value', `failsafe key with family ${family}`);
  const dir = b.readUInt8(member(k, 'direction').offset);
  const prefix = b.readUInt32LE(member(k, 'prefixlen').offset) - FailsafeKeyBits.fixedBits;
  return {
    direction: dir === FailsafeDirection.out ? 'out' : 'in',
    proto: b.readUInt8(member(k, 'proto').offset),
    port: b.readUInt16BE(member(k, 'port').offset),
    net: `${addressAt(b, member(k, 'addr').offset, family)}/${prefix}`,
    family,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Counters

export interface CounterValue {
  packets: bigint;
  bytes: bigint;
}

/**
 * Sums a per-CPU struct nt_counter lookup result (16 bytes per CPU, as libbpf returns it for per-CPU maps).
 * A plain 16-byte value is one CPU.
 */
export function sumPerCpuCounter(buf: Uint8Array): CounterValue {
  const size = STRUCTS.nt_counter.size;
  if (buf.length === 0 || buf.length % size !== 0) {
    throw new AbiValueError(
      'abi-short-buffer',
      `per-CPU counters must be a multiple of ${size} bytes, got ${buf.length}`,
    );
  }
  const b = need(buf, size, 'struct nt_counter');
  let packets = 0n,
    bytes = 0n;
  for (let off = 0; off < b.length; off += size) {
    packets += b.readBigUInt64LE(off);
    bytes += b.readBigUInt64LE(off + 8);
  }
  return { packets, bytes };
}

// ---------------------------------------------------------------------------------------------------------------
// Packet state and log events

export interface PacketState {
  family: 4 | 6 | 0;
  /** Empty when the frame was not IP. */
  saddr: string;
  daddr: string;
  sport: number;
  dport: number;
  icmpType: number;
  icmpCode: number;
  ipProto: number;
  /** PacketFlag bits. */
  flags: number;
  l3Off: number;
  l4Off: number;
}

/** Reads struct nt_packet at `offset`. */
function decodePacket(buf: Uint8Array, offset = 0): PacketState {
  const b = need(buf, offset + PKT.size, 'struct nt_packet');
  const at = (name: string) => offset + member(PKT, name).offset;
  const family = b.readUInt8(at('family'));
  return {
    family: family === 4 || family === 6 ? family : 0,
    saddr: addressAt(b, at('saddr'), family),
    daddr: addressAt(b, at('daddr'), family),
    sport: b.readUInt16LE(at('sport')),
    dport: b.readUInt16LE(at('dport')),
    icmpType: b.readUInt8(at('icmp_type')),
    icmpCode: b.readUInt8(at('icmp_code')),
    ipProto: b.readUInt8(at('ip_proto')),
    flags: b.readUInt32LE(at('flags')),
    l3Off: b.readUInt16LE(at('l3_off')),
    l4Off: b.readUInt16LE(at('l4_off')),
  };
}

interface PacketVerdictState {
  packet: PacketState;
  /** The deciding rule, or null (RULE_NONE). */
  ruleId: number | null;
  /** Log rules that matched, in order (at most Limits.logMax are recorded). */
  logRules: number[];
  /** How many Log rules matched, recorded or not. */
  logCount: number;
  ifindex: number;
  pktLen: number;
}

/** Reads one CPU's struct nt_state (e.g. after BPF_PROG_TEST_RUN, from the CPU it ran on). */
export function decodeState(buf: Uint8Array): PacketVerdictState {
  const b = need(buf, STATE.size, 'struct nt_state');
  const ruleId = b.readUInt32LE(STATE_FIELDS.ruleId.offset);
  const logCount = b.readUInt32LE(STATE_FIELDS.logCount.offset);
  const logRules: number[] = [];
  for (let i = 0; i < Math.min(logCount, Limits.logMax); i++)
    logRules.push(b.readUInt32LE(STATE_FIELDS.logRules.offset + 4 * i));
  return {
    packet: decodePacket(b, PKT_IN_STATE),
    ruleId: ruleId === RULE_NONE ? null : ruleId,
    logRules,
    logCount,
    ifindex: b.readUInt32LE(STATE_FIELDS.ifindex.offset),
    pktLen: b.readUInt32LE(STATE_FIELDS.pktLen.offset),
  };
}

export interface LogEvent {
  /** CLOCK_MONOTONIC nanoseconds. */
  tsNs: bigint;
  packet: PacketState;
  /** The Log rule that asked for this event. */
  ruleId: number;
  /** The rule that decided the packet, or null when none matched. */
  decidedBy: number | null;
  ifindex: number;
  pktLen: number;
  verdict: VerdictName;
}

/** Reads one ring-buffer record of `nt_log` (struct nt_log_event). */
export function decodeLogEvent(buf: Uint8Array): LogEvent {
  const e = STRUCTS.nt_log_event;
  const b = need(buf, e.size, 'struct nt_log_event');
  const verdictNum = b.readUInt32LE(member(e, 'verdict').offset);
  const verdict = (Object.keys(Verdict) as VerdictName[]).find((k) => Verdict[k] === verdictNum);
  if (!verdict) throw new AbiValueError('abi-bad-value', `log event with unknown verdict ${verdictNum}`);
  const decidedBy = b.readUInt32LE(member(e, 'decided_by').offset);
  return {
    tsNs: b.readBigUInt64LE(member(e, 'ts_ns').offset),
    packet: decodePacket(b, member(e, 'pkt').offset),
    ruleId: b.readUInt32LE(member(e, 'rule_id').offset),
    decidedBy: decidedBy === RULE_NONE ? null : decidedBy,
    ifindex: b.readUInt32LE(member(e, 'ifindex').offset),
    pktLen: b.readUInt32LE(member(e, 'pkt_len').offset),
    verdict,
  };
}

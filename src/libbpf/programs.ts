// BPF programs: load raw instructions (with the verifier log on failure) and run them with BPF_PROG_TEST_RUN.
import { ProgType, type ProgTypeName, progTypeName, TestRunFlag } from '../abi/bpf-uapi.js';
import {
  bpfFailure,
  EACCES,
  EINVAL,
  E2BIG,
  ENOSPC,
  ENOTSUPP,
  EPERM,
  invalidArgument,
  type BpfError,
} from './errors.js';
import { BpfFd } from './fd.js';
import { addressOf, check, libbpfOutputSince, native, optsStruct, outputMark, stableBytes, stableCopy } from './ffi.js';
import { programInfo, type ProgramInfo } from './info.js';
import { INSN_SIZE, OFFSETS } from './struct-offsets.js';
import { pinObject } from './pins.js';

interface ProgramSpec {
  type: number | ProgTypeName;
  /** At most 15 characters of [A-Za-z0-9_.]; shown by bpftool and in program info. */
  name?: string;
  /** Encoded `struct bpf_insn` array, 8 bytes per instruction (16 for BPF_LD_IMM64). */
  insns: Uint8Array;
  license?: string;
  expectedAttachType?: number;
  /** prog_flags, e.g. BPF_F_XDP_HAS_FRAGS (1 << 5). */
  flags?: number;
  /**
   * 0 (default): no log on success; on failure the load is retried with log level 1 so the error always carries
   * the verifier log. 1 or 2: the log is requested from the start and kept on the program.
   */
  logLevel?: number;
  /** Log buffer size for a requested log (default 1 MiB; grown to 16 MiB once if the kernel says ENOSPC). */
  logSize?: number;
}

const DEFAULT_LOG_SIZE = 1 << 20;
const MAX_LOG_SIZE = 16 << 20;
const NAME_RE = /^[A-Za-z0-9_.]{0,15}$/;

function resolveProgType(type: number | ProgTypeName): number {
  if (typeof type === 'number') return type;
  const n = ProgType[type];
  if (n === undefined) throw invalidArgument('loadProgram', `unknown program type ${String(type)}`);
  return n;
}

interface LoadAttempt {
  fd: number;
  log: string;
}

function attemptLoad(type: number, spec: ProgramSpec, insns: Buffer, logLevel: number, logSize: number): LoadAttempt {
  const L = OFFSETS.bpf_prog_load_opts;
  const opts = optsStruct(L.size);
  if (spec.expectedAttachType !== undefined) opts.writeUInt32LE(spec.expectedAttachType, L.expected_attach_type);
  opts.writeUInt32LE((spec.flags ?? 0) >>> 0, L.prog_flags);
  let logBuf: Buffer | null = null;
  if (logLevel > 0) {
    logBuf = stableBytes(logSize);
    opts.writeUInt32LE(logLevel, L.log_level);
    opts.writeUInt32LE(logSize, L.log_size);
    opts.writeBigUInt64LE(addressOf(logBuf), L.log_buf);
  }
  const fd = native.bpf_prog_load(
    type,
    spec.name ?? null,
    spec.license ?? 'GPL',
    insns,
    insns.length / INSN_SIZE,
    opts,
  );
  const log = logBuf === null ? '' : logBuf.subarray(0, Math.max(0, logBuf.indexOf(0))).toString('utf8');
  return { fd, log };
}

/** Loads a program from raw instructions; the BpfProgram owns its fd. Failure: BpfError with errno and the verifier log. */
export function loadProgram(spec: ProgramSpec): BpfProgram {
  const type = resolveProgType(spec.type);
  if (spec.insns.length === 0 || spec.insns.length % INSN_SIZE !== 0) {
    throw invalidArgument(
      'loadProgram',
      `instructions must be a non-empty multiple of ${INSN_SIZE} bytes, got ${spec.insns.length}`,
    );
  }
  if (spec.name !== undefined && !NAME_RE.test(spec.name)) {
    throw invalidArgument(
      'loadProgram',
      `program name ${JSON.stringify(spec.name)} must be at most 15 characters of [A-Za-z0-9_.]`,
    );
  }
  const insns = stableCopy(spec.insns);
  const subject = `${progTypeName(type)} program ${spec.name ?? '(unnamed)'}, ${spec.insns.length / INSN_SIZE} instructions`;
  const requested = spec.logLevel ?? 0;
  let logSize = spec.logSize ?? DEFAULT_LOG_SIZE;
  const mark = outputMark();

  let attempt = attemptLoad(type, spec, insns, requested, logSize);
  if (attempt.fd === -ENOSPC && requested > 0 && logSize < MAX_LOG_SIZE) {
    logSize = MAX_LOG_SIZE;
    attempt = attemptLoad(type, spec, insns, requested, logSize);
  }
  if (attempt.fd >= 0) return new BpfProgram(BpfFd.own(attempt.fd, 'prog'), attempt.log);

  const errno = -attempt.fd;
  let log = attempt.log;
  if (requested === 0 && errno !== EPERM) {
    // Load again with the log on, only to learn why: the first errno stays the one reported.
    let retry = attemptLoad(type, spec, insns, 1, logSize);
    if (retry.fd === -ENOSPC && logSize < MAX_LOG_SIZE) retry = attemptLoad(type, spec, insns, 1, MAX_LOG_SIZE);
    if (retry.fd >= 0) native.close(retry.fd);
    log = retry.log;
  }
  throw loadFailure('bpf_prog_load', errno, subject, log, libbpfOutputSince(mark));
}

/** The error for a failed program load, with the verifier's reason in the message. */
export function loadFailure(op: string, errno: number, subject: string, log: string, libbpfOutput: string[]): BpfError {
  const byVerifier =
    log.trim().length > 0 &&
    errno !== EPERM &&
    (errno === EACCES || errno === EINVAL || errno === E2BIG || errno === ENOSPC || errno === ENOTSUPP);
  return bpfFailure(op, errno, {
    subject,
    code: byVerifier ? 'bpf-verifier' : undefined,
    hint: byVerifier ? `the verifier rejected the program: ${verifierReason(log)}` : undefined,
    verifierLog: log,
    libbpfOutput,
  });
}

/** The verifier's own reason: the last non-statistics line of its log. */
export function verifierReason(log: string): string {
  const lines = log
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
  const reason = [...lines]
    .reverse()
    .find((l) => !/^(processed \d+ insns|verification time|stack depth|-- END|max_states_per_insn)/.test(l));
  return reason ?? 'no reason given';
}

interface TestRunOptions {
  /** Packet bytes (data_in). */
  data?: Uint8Array;
  /** Room for the output packet; default data length + 4096 (programs may grow it). Retried once if too small. */
  dataOutSize?: number;
  /** Context bytes (ctx_in), e.g. a struct xdp_md or __sk_buff. */
  ctx?: Uint8Array;
  /** Room for ctx_out; default the ctx_in size (0 when there is no ctx). */
  ctxOutSize?: number;
  /** Runs the program this many times; duration is the average. Default 1. */
  repeat?: number;
  /** TestRunFlag bits, e.g. XDP_LIVE_FRAMES (then no data or ctx comes back). */
  flags?: number;
  cpu?: number;
  /** For XDP_LIVE_FRAMES: frames per batch (kernel default 64). */
  batchSize?: number;
}

interface TestRunResult {
  /** The program's return value (for XDP the action: 1 drop, 2 pass, 3 tx …). */
  retval: number;
  /** Average nanoseconds per run as the kernel measured it. */
  durationNs: number;
  /** The packet as the program left it (empty with live frames). */
  data: Buffer;
  /** The context as the program left it, when one was passed. */
  ctx: Buffer | undefined;
}

/** BPF_PROG_TEST_RUN: runs the program on a packet in the kernel, nothing attached anywhere. */
export function testRun(prog: BpfFd | { fd: BpfFd }, opts: TestRunOptions = {}): TestRunResult {
  const fd = prog instanceof BpfFd ? prog.fd : prog.fd.fd;
  const live = ((opts.flags ?? 0) & TestRunFlag.XDP_LIVE_FRAMES) !== 0;
  const dataIn = opts.data ? stableCopy(opts.data) : null;
  const ctxIn = opts.ctx ? stableCopy(opts.ctx) : null;
  let dataOutSize = live ? 0 : (opts.dataOutSize ?? (dataIn?.length ?? 0) + 4096);
  const ctxOutSize = live ? 0 : (opts.ctxOutSize ?? ctxIn?.length ?? 0);
  const mark = outputMark();

  for (let attempt = 0; ; attempt++) {
    const L = OFFSETS.bpf_test_run_opts;
    const o = optsStruct(L.size);
    const dataOut = dataOutSize > 0 ? stableBytes(dataOutSize) : null;
    const ctxOut = ctxOutSize > 0 ? stableBytes(ctxOutSize) : null;
    if (dataIn) {
      o.writeBigUInt64LE(addressOf(dataIn), L.data_in);
      o.writeUInt32LE(dataIn.length, L.data_size_in);
    }
    if (dataOut) {
      o.writeBigUInt64LE(addressOf(dataOut), L.data_out);
      o.writeUInt32LE(dataOut.length, L.data_size_out);
    }
    if (ctxIn) {
      o.writeBigUInt64LE(addressOf(ctxIn), L.ctx_in);
      o.writeUInt32LE(ctxIn.length, L.ctx_size_in);
    }
    if (ctxOut) {
      o.writeBigUInt64LE(addressOf(ctxOut), L.ctx_out);
      o.writeUInt32LE(ctxOut.length, L.ctx_size_out);
    }
    o.writeInt32LE(opts.repeat ?? 1, L.repeat);
    o.writeUInt32LE((opts.flags ?? 0) >>> 0, L.flags);
    o.writeUInt32LE(opts.cpu ?? 0, L.cpu);
    o.writeUInt32LE(opts.batchSize ?? 0, L.batch_size);
    const ret = native.bpf_prog_test_run_opts(fd, o);
    const outLen = o.readUInt32LE(L.data_size_out);
    // ENOSPC: the packet grew past our buffer; the kernel reported the size it needed.
    if (ret === -ENOSPC && dataOut && outLen > dataOutSize && attempt === 0) {
      dataOutSize = outLen;
      continue;
    }
    check('bpf_prog_test_run_opts', ret, { subject: `program fd ${fd}`, mark });
    const ctxLen = o.readUInt32LE(L.ctx_size_out);
    return {
      retval: o.readUInt32LE(L.retval),
      durationNs: o.readUInt32LE(L.duration),
      data: dataOut ? Buffer.from(dataOut.subarray(0, Math.min(outLen, dataOut.length))) : Buffer.alloc(0),
      ctx: ctxOut ? Buffer.from(ctxOut.subarray(0, Math.min(ctxLen, ctxOut.length))) : undefined,
    };
  }
}

/** The struct xdp_md fields of a test run (offsets into the packet buffer, and interfaces). */
interface XdpMd {
  data: number;
  dataEnd: number;
  dataMeta: number;
  ingressIfindex: number;
  rxQueueIndex: number;
  egressIfindex: number;
}

interface XdpTestRunOptions {
  packet: Uint8Array;
  /** Metadata already in front of the packet (a multiple of 4 bytes, at most 32), as another XDP program left it. */
  meta?: Uint8Array;
  /** Pretend the packet came in on this interface (it must exist in the current network namespace). */
  ingressIfindex?: number;
  rxQueueIndex?: number;
  repeat?: number;
  /** BPF_F_TEST_XDP_LIVE_FRAMES: really transmit/redirect the frames; nothing comes back. */
  liveFrames?: boolean;
  batchSize?: number;
}

interface XdpTestRunResult {
  /** The XDP action: 0 aborted, 1 drop, 2 pass, 3 tx, 4 redirect. With live frames the kernel reports none (0). */
  action: number;
  durationNs: number;
  /** The packet from data to data_end as the program left it. */
  packet: Buffer;
  /** The metadata area (data_meta to data) the program left, e.g. written with bpf_xdp_adjust_meta. */
  meta: Buffer;
  ctx: XdpMd | undefined;
}

function encodeXdpMd(md: XdpMd): Buffer {
  const L = OFFSETS.xdp_md;
  const b = Buffer.alloc(L.size);
  b.writeUInt32LE(md.data, L.data);
  b.writeUInt32LE(md.dataEnd, L.data_end);
  b.writeUInt32LE(md.dataMeta, L.data_meta);
  b.writeUInt32LE(md.ingressIfindex, L.ingress_ifindex);
  b.writeUInt32LE(md.rxQueueIndex, L.rx_queue_index);
  b.writeUInt32LE(md.egressIfindex, L.egress_ifindex);
  return b;
}

function decodeXdpMd(b: Buffer): XdpMd {
  const L = OFFSETS.xdp_md;
  return {
    data: b.readUInt32LE(L.data),
    dataEnd: b.readUInt32LE(L.data_end),
    dataMeta: b.readUInt32LE(L.data_meta),
    ingressIfindex: b.readUInt32LE(L.ingress_ifindex),
    rxQueueIndex: b.readUInt32LE(L.rx_queue_index),
    egressIfindex: b.readUInt32LE(L.egress_ifindex),
  };
}

/**
 * Test-runs an XDP program the way the kernel wants its context: data_in is metadata then packet, ctx.data is the
 * metadata length, ctx.data_end the total, data_meta 0 and egress_ifindex 0 (net/bpf/test_run.c). The output is
 * split back into metadata and packet using the ctx the kernel returns.
 */
export function testRunXdp(prog: BpfFd | { fd: BpfFd }, opts: XdpTestRunOptions): XdpTestRunResult {
  const meta = opts.meta ?? new Uint8Array(0);
  if (meta.length % 4 !== 0 || meta.length > 32)
    throw invalidArgument('testRunXdp', `metadata must be a multiple of 4 bytes up to 32, got ${meta.length}`);
  if (opts.rxQueueIndex && !opts.ingressIfindex)
    throw invalidArgument('testRunXdp', 'rxQueueIndex needs ingressIfindex');
  const data = Buffer.concat([meta, opts.packet]);
  const ctx = encodeXdpMd({
    data: meta.length,
    dataEnd: data.length,
    dataMeta: 0,
    ingressIfindex: opts.ingressIfindex ?? 0,
    rxQueueIndex: opts.rxQueueIndex ?? 0,
    egressIfindex: 0,
  });
  const r = testRun(prog, {
    data,
    ctx,
    repeat: opts.repeat,
    flags: opts.liveFrames ? TestRunFlag.XDP_LIVE_FRAMES : 0,
    batchSize: opts.batchSize,
  });
  if (opts.liveFrames || !r.ctx || r.ctx.length < OFFSETS.xdp_md.size) {
    return { action: r.retval, durationNs: r.durationNs, packet: r.data, meta: Buffer.alloc(0), ctx: undefined };
  }
  const md = decodeXdpMd(r.ctx);
  // The kernel hands back data_meta..data_end, with ctx.data the metadata length.
  return {
    action: r.retval,
    durationNs: r.durationNs,
    meta: Buffer.from(r.data.subarray(0, md.data)),
    packet: Buffer.from(r.data.subarray(md.data, md.dataEnd)),
    ctx: md,
  };
}

/** A loaded program. Programs from raw instructions own their fd; programs from an ELF object borrow the object's. */
export class BpfProgram {
  readonly fd: BpfFd;
  /** The verifier log when loading asked for one (logLevel > 0), else ''. */
  readonly verifierLog: string;
  private cachedInfo: ProgramInfo | undefined;

  constructor(fd: BpfFd, verifierLog = '') {
    this.fd = fd;
    this.verifierLog = verifierLog;
  }

  /** Wraps an fd (from a pin or an id) as a program. */
  static fromFd(fd: BpfFd): BpfProgram {
    return new BpfProgram(fd);
  }

  /** Kernel info, read fresh. */
  info(): ProgramInfo {
    this.cachedInfo = programInfo(this.fd);
    return this.cachedInfo;
  }

  private stable(): ProgramInfo {
    return this.cachedInfo ?? this.info();
  }

  get id(): number {
    return this.stable().id;
  }

  get name(): string {
    return this.stable().name;
  }

  get type(): number {
    return this.stable().type;
  }

  get tag(): string {
    return this.stable().tag;
  }

  testRun(opts: TestRunOptions = {}): TestRunResult {
    return testRun(this, opts);
  }

  testRunXdp(opts: XdpTestRunOptions): XdpTestRunResult {
    return testRunXdp(this, opts);
  }

  /** Pins the program at a bpffs path. */
  pin(path: string): void {
    pinObject(this.fd, path);
  }

  close(): void {
    this.fd.close();
  }
}

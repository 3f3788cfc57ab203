// BpfError: what a failed libbpf or bpf() call means, with errno, its name and a hint a person can act on.
import { getSystemErrorName } from 'node:util';
import { NotrackError } from '../errors.js';

/**
 * Stable codes. `bpf-syscall` is the catch-all; the others name a cause the caller may handle:
 * - `bpf-permission`: EPERM/EACCES outside the verifier (not root, no CAP_BPF/CAP_NET_ADMIN, lockdown).
 * - `bpf-verifier`: the verifier rejected a program; `verifierLog` holds its log.
 * - `bpf-not-found`: no such pinned path, id, map key or interface.
 * - `bpf-not-supported`: this kernel, driver or map type cannot do it.
 * - `bpf-xdp-conflict`: another XDP program is already attached to the interface.
 * - `bpf-tc-conflict`: another TC program holds the tc hook or filter slot.
 * - `bpf-link-replaced`: a link update found a different program than the one it expected.
 * - `bpf-object`: an ELF object could not be opened or understood.
 * - `bpf-invalid-argument`: the caller passed something this API rejects before calling the kernel.
 */
export type BpfErrorCode =
  | 'bpf-syscall'
  | 'bpf-permission'
  | 'bpf-verifier'
  | 'bpf-not-found'
  | 'bpf-not-supported'
  | 'bpf-xdp-conflict'
  | 'bpf-tc-conflict'
  | 'bpf-link-replaced'
  | 'bpf-object'
  | 'bpf-invalid-argument';

interface BpfErrorDetails {
  /** The libbpf function or bpf() command that failed, e.g. `bpf_map_update_elem`. */
  op: string;
  /** Positive errno; 0 when the error was raised before calling the kernel. */
  errno: number;
  /** The verifier log, when a program load failed. */
  verifierLog?: string;
  /** What libbpf printed while the failing call ran. */
  libbpfOutput?: string[];
  /** The interface name, for attach errors. */
  ifname?: string;
  /** Program ids already attached, for conflicts. */
  attachedProgramIds?: number[];
}

export class BpfError extends NotrackError {
  declare readonly code: BpfErrorCode;
  readonly op: string;
  readonly errno: number;
  /** `EPERM`, `ENOENT` …, `ENOTSUPP` for the kernel-internal 524, `LIBBPF_ERRNO__…` for libbpf's own 4000+ codes. */
  readonly errnoName: string;
  readonly verifierLog: string;
  readonly libbpfOutput: string[];
  readonly ifname: string | undefined;
  readonly attachedProgramIds: number[];

  constructor(code: BpfErrorCode, message: string, details: BpfErrorDetails, options?: { cause?: unknown }) {
    super(code, message, options);
    this.op = details.op;
    this.errno = details.errno;
    this.errnoName = errnoName(details.errno);
    this.verifierLog = details.verifierLog ?? '';
    this.libbpfOutput = details.libbpfOutput ?? [];
    this.ifname = details.ifname;
    this.attachedProgramIds = details.attachedProgramIds ?? [];
  }
}

/** True when `e` is a BpfError, with `code` when one is given: `isBpfError(e, 'bpf-not-found')`. */
export function isBpfError(e: unknown, code?: BpfErrorCode): e is BpfError {
  return e instanceof BpfError && (code === undefined || e.code === code);
}

export const EPERM = 1;
export const ENOENT = 2;
export const E2BIG = 7;
const EBADF = 9;
const EAGAIN = 11;
const ENOMEM = 12;
export const EACCES = 13;
const EFAULT = 14;
export const EBUSY = 16;
export const EEXIST = 17;
export const ENODEV = 19;
export const EINVAL = 22;
export const ENOSPC = 28;
export const ERANGE = 34;
export const EOPNOTSUPP = 95;
/** The kernel's internal "not supported" that leaks to user space from bpf(), e.g. batch ops on a trie. */
export const ENOTSUPP = 524;

const LIBBPF_ERRNO_NAMES = [
  'LIBBPF_ERRNO__LIBELF',
  'LIBBPF_ERRNO__FORMAT',
  'LIBBPF_ERRNO__KVERSION',
  'LIBBPF_ERRNO__ENDIAN',
  'LIBBPF_ERRNO__INTERNAL',
  'LIBBPF_ERRNO__RELOC',
  'LIBBPF_ERRNO__LOAD',
  'LIBBPF_ERRNO__VERIFY',
  'LIBBPF_ERRNO__PROG2BIG',
  'LIBBPF_ERRNO__KVER',
  'LIBBPF_ERRNO__PROGTYPE',
  'LIBBPF_ERRNO__WRNGPID',
  'LIBBPF_ERRNO__INVSEQ',
  'LIBBPF_ERRNO__NLPARSE',
];

/** The symbolic name of a positive errno. */
export function errnoName(errno: number): string {
  if (errno === 0) return 'OK';
  if (errno === ENOTSUPP) return 'ENOTSUPP';
  // libuv calls 95 ENOTSUP; the kernel and its documentation say EOPNOTSUPP.
  if (errno === EOPNOTSUPP) return 'EOPNOTSUPP';
  if (errno >= 4000 && errno < 4000 + LIBBPF_ERRNO_NAMES.length) return LIBBPF_ERRNO_NAMES[errno - 4000]!;
  try {
    const name = getSystemErrorName(-errno);
    return /^E[A-Z0-9]+$/.test(name) ? name : `errno ${errno}`;
  } catch {
    return `errno ${errno}`;
  }
}

/** What an errno usually means for a BPF call, phrased as what to do about it. */
function hintFor(errno: number, ifname: string | undefined): string {
  switch (errno) {
    case EPERM:
    case EACCES:
      return 'needs root or CAP_BPF and CAP_NET_ADMIN (and no kernel lockdown forbidding BPF)';
    case ENOENT:
      return 'no such object: the pinned path, id, key or interface does not exist';
    case E2BIG:
      return 'too big: a size, entry count or program length exceeds what the kernel allows';
    case EBADF:
      return 'the file descriptor is closed or is not a BPF object of the expected kind';
    case ENOMEM:
      return 'the kernel is out of memory for BPF (check the memory cgroup limit)';
    case EFAULT:
      return 'the kernel could not read or write a buffer (a binding bug: please report it)';
    case EBUSY:
      return ifname
        ? `another XDP program is attached to ${ifname}`
        : 'the object is busy (something else is attached)';
    case EEXIST:
      return 'it already exists';
    case ENODEV:
      return ifname ? `there is no interface ${ifname} in this network namespace` : 'no such network interface';
    case EINVAL:
      return 'the kernel rejected the arguments (wrong sizes, flags or types, or a feature this kernel lacks)';
    case ENOSPC:
      return 'no space left: the map is full or an output buffer was too small';
    case ERANGE:
      return 'a value is out of range (for XDP: the MTU is too large for native mode)';
    case EOPNOTSUPP:
    case ENOTSUPP:
      return 'not supported by this kernel, driver or map type';
    case EAGAIN:
      return 'temporarily unavailable, try again';
    default:
      return errno >= 4000 ? 'libbpf could not process the object' : 'the call failed';
  }
}

/** The code that fits a failed call's errno, unless the caller knows better. */
function codeFor(errno: number): BpfErrorCode {
  switch (errno) {
    case EPERM:
    case EACCES:
      return 'bpf-permission';
    case ENOENT:
    case ENODEV:
      return 'bpf-not-found';
    case EOPNOTSUPP:
    case ENOTSUPP:
      return 'bpf-not-supported';
    default:
      return 'bpf-syscall';
  }
}

/**
 * Builds the BpfError for a failed call: `op` names the call, `subject` what it acted on
 * ("map counters", "program xdp_main"), and the message ends with a hint for the errno.
 */
export function bpfFailure(
  op: string,
  errno: number,
  extra: {
    subject?: string;
    code?: BpfErrorCode;
    hint?: string;
    verifierLog?: string;
    libbpfOutput?: string[];
    ifname?: string;
    attachedProgramIds?: number[];
  } = {},
): BpfError {
  const code = extra.code ?? codeFor(errno);
  const on = extra.subject ? ` (${extra.subject})` : '';
  const hint = extra.hint ?? hintFor(errno, extra.ifname);
  let message = `${op}${on} failed with ${errnoName(errno)}: ${hint}`;
  if (extra.verifierLog) message += `\n--- verifier log (last lines) ---\n${lastLines(extra.verifierLog, 20)}`;
  else if (extra.libbpfOutput && extra.libbpfOutput.length > 0)
    message += `\n--- libbpf said ---\n${extra.libbpfOutput.slice(-10).join('\n')}`;
  return new BpfError(code, message, {
    op,
    errno,
    verifierLog: extra.verifierLog,
    libbpfOutput: extra.libbpfOutput,
    ifname: extra.ifname,
    attachedProgramIds: extra.attachedProgramIds,
  });
}

/** An error raised before any kernel call because the arguments cannot work. */
export function invalidArgument(op: string, message: string): BpfError {
  return new BpfError('bpf-invalid-argument', `${op}: ${message}`, { op, errno: 0 });
}

function lastLines(text: string, n: number): string {
  const lines = text.trimEnd().split('\n');
  return lines.slice(-n).join('\n');
}

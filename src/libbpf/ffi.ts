// koffi declarations of libbpf.so.1 and the few libc calls the binding needs, plus libbpf's print capture.
// libbpf 1.x returns negative errno from int functions and NULL + errno from pointer functions.
import koffi, { type LibraryHandle } from 'koffi';
import { endianness } from 'node:os';
import { bpfFailure, BpfError, type BpfErrorCode } from './errors.js';

/** Pointers into our own memory are passed as `void *`: a Buffer, or a bigint address, or null. */
type Ptr = Uint8Array | bigint | null;

/** The raw functions. Every int-returning libbpf call here returns >= 0 or -errno. */
function declare(libbpf: LibraryHandle, libc: LibraryHandle) {
  koffi.proto('int notrack_libbpf_print_fn(int level, void *fmt, void *ap)');
  return {
    // bpf.h: low-level syscall wrappers
    bpf_map_create: libbpf.func(
      'int bpf_map_create(int map_type, const char *map_name, uint32_t key_size, uint32_t value_size, uint32_t max_entries, void *opts)',
    ) as (
      type: number,
      name: string | null,
      keySize: number,
      valueSize: number,
      maxEntries: number,
      opts: Ptr,
    ) => number,
    bpf_map_update_elem: libbpf.func('int bpf_map_update_elem(int fd, void *key, void *value, uint64_t flags)') as (
      fd: number,
      key: Ptr,
      value: Ptr,
      flags: number,
    ) => number,
    bpf_map_lookup_elem: libbpf.func('int bpf_map_lookup_elem(int fd, void *key, void *value)') as (
      fd: number,
      key: Ptr,
      value: Ptr,
    ) => number,
    bpf_map_lookup_elem_flags: libbpf.func(
      'int bpf_map_lookup_elem_flags(int fd, void *key, void *value, uint64_t flags)',
    ) as (fd: number, key: Ptr, value: Ptr, flags: number) => number,
    bpf_map_delete_elem: libbpf.func('int bpf_map_delete_elem(int fd, void *key)') as (fd: number, key: Ptr) => number,
    bpf_map_get_next_key: libbpf.func('int bpf_map_get_next_key(int fd, void *key, void *next_key)') as (
      fd: number,
      key: Ptr,
      next: Ptr,
    ) => number,
    bpf_map_freeze: libbpf.func('int bpf_map_freeze(int fd)') as (fd: number) => number,
    bpf_map_lookup_batch: libbpf.func(
      'int bpf_map_lookup_batch(int fd, void *in_batch, void *out_batch, void *keys, void *values, void *count, void *opts)',
    ) as (fd: number, inBatch: Ptr, outBatch: Ptr, keys: Ptr, values: Ptr, count: Ptr, opts: Ptr) => number,
    bpf_map_update_batch: libbpf.func(
      'int bpf_map_update_batch(int fd, void *keys, void *values, void *count, void *opts)',
    ) as (fd: number, keys: Ptr, values: Ptr, count: Ptr, opts: Ptr) => number,
    bpf_map_delete_batch: libbpf.func('int bpf_map_delete_batch(int fd, void *keys, void *count, void *opts)') as (
      fd: number,
      keys: Ptr,
      count: Ptr,
      opts: Ptr,
    ) => number,
    bpf_prog_load: libbpf.func(
      'int bpf_prog_load(int prog_type, const char *prog_name, const char *license, void *insns, size_t insn_cnt, void *opts)',
    ) as (type: number, name: string | null, license: string, insns: Ptr, insnCnt: number, opts: Ptr) => number,
    bpf_obj_pin: libbpf.func('int bpf_obj_pin(int fd, const char *pathname)') as (fd: number, path: string) => number,
    bpf_obj_get: libbpf.func('int bpf_obj_get(const char *pathname)') as (path: string) => number,
    bpf_link_create: libbpf.func('int bpf_link_create(int prog_fd, int target_fd, int attach_type, void *opts)') as (
      progFd: number,
      targetFd: number,
      attachType: number,
      opts: Ptr,
    ) => number,
    bpf_link_detach: libbpf.func('int bpf_link_detach(int link_fd)') as (linkFd: number) => number,
    bpf_link_update: libbpf.func('int bpf_link_update(int link_fd, int new_prog_fd, void *opts)') as (
      linkFd: number,
      newProgFd: number,
      opts: Ptr,
    ) => number,
    bpf_prog_get_fd_by_id: libbpf.func('int bpf_prog_get_fd_by_id(uint32_t id)') as (id: number) => number,
    bpf_map_get_fd_by_id: libbpf.func('int bpf_map_get_fd_by_id(uint32_t id)') as (id: number) => number,
    bpf_link_get_fd_by_id: libbpf.func('int bpf_link_get_fd_by_id(uint32_t id)') as (id: number) => number,
    bpf_obj_get_info_by_fd: libbpf.func('int bpf_obj_get_info_by_fd(int bpf_fd, void *info, void *info_len)') as (
      fd: number,
      info: Ptr,
      infoLen: Ptr,
    ) => number,
    bpf_prog_test_run_opts: libbpf.func('int bpf_prog_test_run_opts(int prog_fd, void *opts)') as (
      progFd: number,
      opts: Ptr,
    ) => number,
    // libbpf.h: objects, XDP and TC
    bpf_object__open_file: libbpf.func('void *bpf_object__open_file(const char *path, void *opts)') as (
      path: string,
      opts: Ptr,
    ) => bigint | null,
    bpf_object__load: libbpf.func('int bpf_object__load(void *obj)') as (obj: bigint) => number,
    bpf_object__close: libbpf.func('void bpf_object__close(void *obj)') as (obj: bigint) => void,
    bpf_object__name: libbpf.func('const char *bpf_object__name(void *obj)') as (obj: bigint) => string,
    bpf_object__next_program: libbpf.func('void *bpf_object__next_program(void *obj, void *prog)') as (
      obj: bigint,
      prev: bigint | null,
    ) => bigint | null,
    bpf_object__next_map: libbpf.func('void *bpf_object__next_map(void *obj, void *map)') as (
      obj: bigint,
      prev: bigint | null,
    ) => bigint | null,
    bpf_program__name: libbpf.func('const char *bpf_program__name(void *prog)') as (prog: bigint) => string,
    bpf_program__section_name: libbpf.func('const char *bpf_program__section_name(void *prog)') as (
      prog: bigint,
    ) => string,
    bpf_program__fd: libbpf.func('int bpf_program__fd(void *prog)') as (prog: bigint) => number,
    bpf_program__type: libbpf.func('int bpf_program__type(void *prog)') as (prog: bigint) => number,
    bpf_program__set_type: libbpf.func('int bpf_program__set_type(void *prog, int type)') as (
      prog: bigint,
      type: number,
    ) => number,
    bpf_program__expected_attach_type: libbpf.func('int bpf_program__expected_attach_type(void *prog)') as (
      prog: bigint,
    ) => number,
    bpf_program__set_expected_attach_type: libbpf.func(
      'int bpf_program__set_expected_attach_type(void *prog, int type)',
    ) as (prog: bigint, type: number) => number,
    bpf_program__set_autoload: libbpf.func('int bpf_program__set_autoload(void *prog, bool autoload)') as (
      prog: bigint,
      autoload: boolean,
    ) => number,
    bpf_program__set_log_level: libbpf.func('int bpf_program__set_log_level(void *prog, uint32_t level)') as (
      prog: bigint,
      level: number,
    ) => number,
    bpf_program__set_log_buf: libbpf.func('int bpf_program__set_log_buf(void *prog, void *buf, size_t size)') as (
      prog: bigint,
      buf: Ptr,
      size: number,
    ) => number,
    bpf_program__insn_cnt: libbpf.func('size_t bpf_program__insn_cnt(void *prog)') as (prog: bigint) => number,
    bpf_map__name: libbpf.func('const char *bpf_map__name(void *map)') as (map: bigint) => string,
    bpf_map__fd: libbpf.func('int bpf_map__fd(void *map)') as (map: bigint) => number,
    bpf_map__type: libbpf.func('int bpf_map__type(void *map)') as (map: bigint) => number,
    bpf_map__key_size: libbpf.func('uint32_t bpf_map__key_size(void *map)') as (map: bigint) => number,
    bpf_map__value_size: libbpf.func('uint32_t bpf_map__value_size(void *map)') as (map: bigint) => number,
    bpf_map__max_entries: libbpf.func('uint32_t bpf_map__max_entries(void *map)') as (map: bigint) => number,
    bpf_map__set_max_entries: libbpf.func('int bpf_map__set_max_entries(void *map, uint32_t max_entries)') as (
      map: bigint,
      n: number,
    ) => number,
    bpf_map__reuse_fd: libbpf.func('int bpf_map__reuse_fd(void *map, int fd)') as (map: bigint, fd: number) => number,
    bpf_map__set_pin_path: libbpf.func('int bpf_map__set_pin_path(void *map, const char *path)') as (
      map: bigint,
      path: string | null,
    ) => number,
    bpf_map__pin_path: libbpf.func('const char *bpf_map__pin_path(void *map)') as (map: bigint) => string | null,
    bpf_map__set_initial_value: libbpf.func('int bpf_map__set_initial_value(void *map, void *data, size_t size)') as (
      map: bigint,
      data: Ptr,
      size: number,
    ) => number,
    bpf_map__initial_value: libbpf.func('void *bpf_map__initial_value(void *map, _Out_ size_t *psize)') as (
      map: bigint,
      size: number[],
    ) => bigint | null,
    bpf_map__is_internal: libbpf.func('bool bpf_map__is_internal(void *map)') as (map: bigint) => boolean,
    bpf_map__set_inner_map_fd: libbpf.func('int bpf_map__set_inner_map_fd(void *map, int fd)') as (
      map: bigint,
      fd: number,
    ) => number,
    bpf_xdp_query: libbpf.func('int bpf_xdp_query(int ifindex, int flags, void *opts)') as (
      ifindex: number,
      flags: number,
      opts: Ptr,
    ) => number,
    bpf_tc_hook_create: libbpf.func('int bpf_tc_hook_create(void *hook)') as (hook: Ptr) => number,
    bpf_tc_hook_destroy: libbpf.func('int bpf_tc_hook_destroy(void *hook)') as (hook: Ptr) => number,
    bpf_tc_attach: libbpf.func('int bpf_tc_attach(void *hook, void *opts)') as (hook: Ptr, opts: Ptr) => number,
    bpf_tc_detach: libbpf.func('int bpf_tc_detach(void *hook, void *opts)') as (hook: Ptr, opts: Ptr) => number,
    bpf_tc_query: libbpf.func('int bpf_tc_query(void *hook, void *opts)') as (hook: Ptr, opts: Ptr) => number,
    libbpf_num_possible_cpus: libbpf.func('int libbpf_num_possible_cpus(void)') as () => number,
    libbpf_set_print: libbpf.func('void *libbpf_set_print(notrack_libbpf_print_fn *fn)') as (
      fn: bigint | null,
    ) => bigint | null,
    // libc
    close: libc.func('int close(int fd)') as (fd: number) => number,
    fcntl_int: libc.func('int fcntl(int fd, int cmd, ...)') as (fd: number, cmd: number, ...rest: unknown[]) => number,
    syscall: libc.func('long syscall(long number, ...)') as (nr: number, ...rest: unknown[]) => number | bigint,
    if_nametoindex: libc.func('uint32_t if_nametoindex(const char *ifname)') as (name: string) => number,
    mmap: libc.func('void *mmap(void *addr, size_t length, int prot, int flags, int fd, intptr_t offset)') as (
      addr: null,
      length: number,
      prot: number,
      flags: number,
      fd: number,
      offset: number,
    ) => bigint | null,
    munmap: libc.func('int munmap(void *addr, size_t length)') as (addr: bigint, length: number) => number,
    if_indextoname: libc.func('char *if_indextoname(uint32_t ifindex, void *ifname)') as (
      ifindex: number,
      buf: Ptr,
    ) => bigint | null,
    vsnprintf: libc.func('int vsnprintf(void *buf, size_t size, void *fmt, void *ap)') as (
      buf: Ptr,
      size: number,
      fmt: bigint,
      ap: bigint,
    ) => number,
  };
}

type NativeTable = ReturnType<typeof declare>;
let loaded: NativeTable | undefined;

/**
 * Loads libbpf on first use, not at import: commands that never touch the kernel (validate, plan) must run on
 * machines without libbpf. A missing library becomes a bpf-not-supported error that says what to install.
 */
function load(): NativeTable {
  if (loaded) return loaded;
  const unsupported = (why: string, cause?: unknown) =>
    new BpfError('bpf-not-supported', why, { op: 'load libbpf', errno: 0 }, { cause });
  if (endianness() !== 'LE')
    throw unsupported('the libbpf binding writes structs little-endian and supports little-endian hosts only');
  if (process.arch !== 'x64' && process.arch !== 'arm64')
    throw unsupported(`the libbpf binding assumes an LP64 layout (x64 or arm64), not ${process.arch}`);
  let libbpf: LibraryHandle;
  let libc: LibraryHandle;
  try {
    libbpf = koffi.load('libbpf.so.1');
    libc = koffi.load('libc.so.6');
  } catch (e) {
    throw unsupported(
      `libbpf.so.1 could not be loaded (${(e as Error).message}): install libbpf 1.x (Debian/Ubuntu: libbpf1)`,
      e,
    );
  }
  loaded = declare(libbpf, libc);
  libbpfHandle = libbpf;
  installPrintCapture(loaded);
  return loaded;
}

let libbpfHandle: LibraryHandle | undefined;

/** libbpf itself, for the few functions declared apart (they need callback types of their own). */
export function libbpfLibrary(): LibraryHandle {
  load();
  return libbpfHandle!;
}

/** The native functions, loaded on first access. */
export const native: NativeTable = new Proxy({} as NativeTable, {
  get: (_target, name) => load()[name as keyof NativeTable],
});

/** errno as left by the last native call (koffi saves it right after the call returns). */
export function lastErrno(): number {
  return koffi.errno();
}

/**
 * Memory whose address may be written into a struct: it lives outside the V8 heap (an explicit ArrayBuffer),
 * so it never moves while libbpf or the kernel holds the pointer. Zero-filled.
 */
export function stableBytes(size: number): Buffer {
  return Buffer.from(new ArrayBuffer(Math.max(size, 1)), 0, size);
}

/** A stable copy of caller bytes, for pointers embedded in structs. */
export function stableCopy(data: Uint8Array): Buffer {
  const out = stableBytes(data.length);
  out.set(data);
  return out;
}

/** The address of a stable buffer, for a pointer field. */
export function addressOf(buf: Buffer): bigint {
  return koffi.address(buf) as bigint;
}

/** A NUL-terminated C string in stable memory. */
export function cString(text: string): Buffer {
  const bytes = Buffer.from(text, 'utf8');
  const out = stableBytes(bytes.length + 1);
  out.set(bytes);
  return out;
}

/** Reads a NUL-terminated string from a fixed-size char array inside a buffer. */
export function readCString(buf: Uint8Array, offset: number, maxLength: number): string {
  const slice = buf.subarray(offset, offset + maxLength);
  const end = slice.indexOf(0);
  return Buffer.from(slice.subarray(0, end < 0 ? slice.length : end)).toString('utf8');
}

/** A zeroed option struct with its leading `size_t sz` set, as every libbpf opts struct wants. */
export function optsStruct(size: number): Buffer {
  const buf = stableBytes(size);
  buf.writeBigUInt64LE(BigInt(size), 0);
  return buf;
}

/** Copies native memory at `ptr` into a new Buffer. */
export function copyFromPointer(ptr: bigint, length: number): Buffer {
  if (length === 0) return Buffer.alloc(0);
  return Buffer.from(new Uint8Array(koffi.view(ptr, length)).slice());
}

// ---------------------------------------------------------------------------------------------
// libbpf's own messages: captured into a ring so errors can carry what libbpf said while failing.

const OUTPUT_KEEP = 400;
const printed: { seq: number; level: number; text: string }[] = [];
let printSeq = 0;
const printBuffer = stableBytes(8192);
const echoLevel = process.env['NOTRACK_LIBBPF_DEBUG'] ? 2 : -1;

function capture(lib: NativeTable, level: number, fmt: bigint, ap: bigint): number {
  try {
    const n = lib.vsnprintf(printBuffer, printBuffer.length, fmt, ap);
    const text = printBuffer.subarray(0, Math.max(0, Math.min(n, printBuffer.length - 1))).toString('utf8');
    for (const line of text.split('\n')) {
      if (line.length === 0) continue;
      printSeq += 1;
      printed.push({ seq: printSeq, level, text: line });
      if (printed.length > OUTPUT_KEEP) printed.shift();
      if (level <= echoLevel) process.stderr.write(`${line}\n`);
    }
  } catch {
    // A print callback must never throw into C.
  }
  return 0;
}

/** Routes libbpf's printing to `capture` for the life of the process (the callback stays registered). */
function installPrintCapture(lib: NativeTable): void {
  const callback = koffi.register(
    (level: number, fmt: bigint, ap: bigint) => capture(lib, level, fmt, ap),
    'notrack_libbpf_print_fn *',
  );
  lib.libbpf_set_print(callback as bigint);
}

/** A mark in libbpf's output; pass it to `libbpfOutputSince` to get what was printed after it. */
export function outputMark(): number {
  return printSeq;
}

/** Lines libbpf printed (warnings and info; debug lines too) since `mark`. */
export function libbpfOutputSince(mark: number): string[] {
  return printed.filter((p) => p.seq > mark).map((p) => p.text);
}

// ---------------------------------------------------------------------------------------------

/** The details a failing call may add to its error. */
interface FailureContext {
  subject?: string;
  code?: BpfErrorCode;
  hint?: string;
  ifname?: string;
  mark?: number;
}

/** Throws a BpfError when an int-returning libbpf call returned a negative errno; returns the value otherwise. */
export function check(op: string, ret: number, ctx: FailureContext = {}): number {
  if (ret >= 0) return ret;
  throw failure(op, -ret, ctx);
}

/** The BpfError for `op` failing with positive errno `errno`. */
export function failure(op: string, errno: number, ctx: FailureContext = {}): BpfError {
  return bpfFailure(op, errno, {
    subject: ctx.subject,
    code: ctx.code,
    hint: ctx.hint,
    ifname: ctx.ifname,
    libbpfOutput: ctx.mark === undefined ? [] : libbpfOutputSince(ctx.mark),
  });
}

/** F_DUPFD_CLOEXEC: duplicates keep close-on-exec so spawned tools never inherit BPF fds. */
const F_DUPFD_CLOEXEC = 1030;

/** dup(2) with close-on-exec, at or above 3. */
export function dupCloexec(fd: number): number {
  const out = native.fcntl_int(fd, F_DUPFD_CLOEXEC, 'int', 3);
  if (out < 0) throw failure('fcntl(F_DUPFD_CLOEXEC)', lastErrno(), { subject: `fd ${fd}` });
  return out;
}

const PROT_READ = 1;
const PROT_WRITE = 2;
const MAP_SHARED = 1;
/** mmap's MAP_FAILED, (void *)-1, as koffi returns a pointer. */
const MAP_FAILED = 0xffff_ffff_ffff_ffffn;

/**
 * Maps `length` bytes of `fd` (a map created with BPF_F_MMAPABLE) shared and writable, hands them to `use`, and
 * unmaps them whatever happens: the view must not be kept, it points at memory that is gone once `use` returns.
 */
export function withSharedMapping(fd: number, length: number, subject: string, use: (bytes: Uint8Array) => void): void {
  const ptr = native.mmap(null, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (ptr === null || ptr === MAP_FAILED) throw failure('mmap', lastErrno(), { subject });
  try {
    use(new Uint8Array(koffi.view(ptr, length)));
  } finally {
    if (native.munmap(ptr, length) !== 0) throw failure('munmap', lastErrno(), { subject });
  }
}

/** bpf(2)'s syscall number on the two LP64 architectures this binding supports. */
const NR_BPF = process.arch === 'arm64' ? 280 : 321;

/** Raw bpf(2), for commands libbpf 1.1 does not wrap with the fields newer kernels have. Returns >= 0 or -errno. */
export function bpfSyscall(cmd: number, attr: Buffer): number {
  const ret = Number(native.syscall(NR_BPF, 'int', cmd, 'void *', attr, 'uint32_t', attr.length));
  return ret < 0 ? -lastErrno() : ret;
}

let possibleCpus: number | undefined;
/** Number of possible CPUs, the stride count of per-CPU map values. */
export function numPossibleCpus(): number {
  if (possibleCpus === undefined) possibleCpus = check('libbpf_num_possible_cpus', native.libbpf_num_possible_cpus());
  return possibleCpus;
}

// BPF maps: create, element operations, iteration, batch operations (with a one-by-one fallback), per-CPU values.
import { isPerCpuMapType, MapFlag, MapType, type MapTypeName, UpdateFlag, type UpdateMode } from '../abi/bpf-uapi.js';
import { BpfError, E2BIG, EEXIST, EINVAL, ENOENT, ENOSPC, ENOTSUPP, EOPNOTSUPP, invalidArgument } from './errors.js';
import { BpfFd } from './fd.js';
import { check, failure, native, numPossibleCpus, optsStruct, outputMark, withSharedMapping } from './ffi.js';
import { mapInfo, type MapInfo } from './info.js';
import { OFFSETS } from './struct-offsets.js';
import { pinObject } from './pins.js';

/** A key as bytes, or a number for maps whose key is a u32 (arrays, prog arrays): encoded in host order. */
type MapKey = Uint8Array | number;

interface MapSpec {
  type: number | MapTypeName;
  /** Shown by bpftool and in map info; the kernel keeps 15 characters of [A-Za-z0-9_.]. */
  name?: string;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  /** map_flags, e.g. MapFlag.NO_PREALLOC (required for LPM_TRIE). */
  flags?: number;
  /** For ARRAY_OF_MAPS / HASH_OF_MAPS: a map of the kind the slots will hold. */
  innerMap?: BpfMap | BpfFd;
  mapExtra?: bigint;
}

interface MapEntry {
  key: Buffer;
  value: Buffer;
}

interface PerCpuMapEntry {
  key: Buffer;
  /** One value per possible CPU, each `valueSize` bytes. */
  values: Buffer[];
}

/** How a batch operation went: `batched` is false when the map type has no batch support and it went one by one. */
interface BatchResult {
  count: number;
  batched: boolean;
}

/** A u32 in host byte order (BPF maps use the host's order). */
export function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0, 0);
  return b;
}

/** A u64 in host byte order. */
export function u64(n: bigint | number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n), 0);
  return b;
}

/** Reads a host-order u32. */
export function readU32(buf: Uint8Array, offset = 0): number {
  return Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength).readUInt32LE(offset);
}

/** Reads a host-order u64. */
export function readU64(buf: Uint8Array, offset = 0): bigint {
  return Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength).readBigUInt64LE(offset);
}

function roundUp8(n: number): number {
  return Math.ceil(n / 8) * 8;
}

function resolveMapType(type: number | MapTypeName): number {
  if (typeof type === 'number') return type;
  const n = MapType[type];
  if (n === undefined) throw invalidArgument('createMap', `unknown map type ${String(type)}`);
  return n;
}

/** Creates a map; the returned BpfMap owns its fd. */
export function createMap(spec: MapSpec): BpfMap {
  const type = resolveMapType(spec.type);
  if (type === MapType.LPM_TRIE && ((spec.flags ?? 0) & MapFlag.NO_PREALLOC) === 0) {
    throw invalidArgument('createMap', 'an LPM_TRIE map needs flags: MapFlag.NO_PREALLOC');
  }
  const L = OFFSETS.bpf_map_create_opts;
  const opts = optsStruct(L.size);
  opts.writeUInt32LE((spec.flags ?? 0) >>> 0, L.map_flags);
  if (spec.innerMap) {
    const inner = spec.innerMap instanceof BpfMap ? spec.innerMap.fd : spec.innerMap;
    opts.writeUInt32LE(inner.fd, L.inner_map_fd);
  }
  if (spec.mapExtra !== undefined) opts.writeBigUInt64LE(spec.mapExtra, L.map_extra);
  const mark = outputMark();
  const fd = check(
    'bpf_map_create',
    native.bpf_map_create(type, spec.name ?? null, spec.keySize, spec.valueSize, spec.maxEntries, opts),
    {
      subject: `map ${spec.name ?? '(unnamed)'} type ${typeof spec.type === 'number' ? spec.type : spec.type}`,
      mark,
    },
  );
  return BpfMap.fromFd(BpfFd.own(fd, 'map'));
}

/** Reopens a map from an fd (its sizes come from the kernel). The BpfMap takes the fd as given (owned or borrowed). */
export class BpfMap {
  readonly fd: BpfFd;
  readonly id: number;
  readonly name: string;
  readonly type: number;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly flags: number;

  private constructor(fd: BpfFd, info: MapInfo) {
    this.fd = fd;
    this.id = info.id;
    this.name = info.name;
    this.type = info.type;
    this.keySize = info.keySize;
    this.valueSize = info.valueSize;
    this.maxEntries = info.maxEntries;
    this.flags = info.flags;
  }

  static fromFd(fd: BpfFd): BpfMap {
    return new BpfMap(fd, mapInfo(fd));
  }

  get perCpu(): boolean {
    return isPerCpuMapType(this.type);
  }

  /** Bytes of one element's value as user space passes it: per-CPU maps hold round_up(valueSize, 8) per possible CPU. */
  get rawValueSize(): number {
    return this.perCpu ? roundUp8(this.valueSize) * numPossibleCpus() : this.valueSize;
  }

  info(): MapInfo {
    return mapInfo(this.fd);
  }

  /** Pins the map at a bpffs path. */
  pin(path: string): void {
    pinObject(this.fd, path);
  }

  close(): void {
    this.fd.close();
  }

  private label(): string {
    return `map ${this.name || '(unnamed)'} id ${this.id}`;
  }

  private keyBytes(key: MapKey, op: string): Uint8Array {
    if (typeof key === 'number') {
      if (this.keySize !== 4)
        throw invalidArgument(op, `${this.label()} has ${this.keySize}-byte keys, a number key needs 4`);
      return u32(key);
    }
    if (key.length !== this.keySize)
      throw invalidArgument(op, `${this.label()} wants ${this.keySize}-byte keys, got ${key.length}`);
    return key;
  }

  private checkValue(value: Uint8Array, op: string): void {
    if (value.length !== this.rawValueSize) {
      const what = this.perCpu
        ? `${this.rawValueSize} bytes (${numPossibleCpus()} CPUs x ${roundUp8(this.valueSize)})`
        : `${this.valueSize} bytes`;
      throw invalidArgument(op, `${this.label()} wants values of ${what}, got ${value.length}`);
    }
  }

  private notPerCpu(op: string): void {
    if (this.perCpu) throw invalidArgument(op, `${this.label()} is per-CPU: use ${op}PerCpu()`);
  }

  private rawLookup(key: MapKey): Buffer | undefined {
    const k = this.keyBytes(key, 'lookup');
    const out = Buffer.alloc(this.rawValueSize);
    const mark = outputMark();
    const ret = native.bpf_map_lookup_elem(this.fd.fd, k, out);
    if (ret === -ENOENT) return undefined;
    check('bpf_map_lookup_elem', ret, { subject: this.label(), mark });
    return out;
  }

  /** The value under `key`, or undefined when there is none. */
  lookup(key: MapKey): Buffer | undefined {
    this.notPerCpu('lookup');
    return this.rawLookup(key);
  }

  /** Per-CPU maps: one value per possible CPU, or undefined when the key is absent. */
  lookupPerCpu(key: MapKey): Buffer[] | undefined {
    const raw = this.rawLookup(key);
    return raw === undefined ? undefined : this.splitPerCpu(raw);
  }

  private rawUpdate(key: MapKey, value: Uint8Array, mode: UpdateMode): void {
    const k = this.keyBytes(key, 'update');
    this.checkValue(value, 'update');
    const mark = outputMark();
    const ret = native.bpf_map_update_elem(this.fd.fd, k, value, updateFlag(mode));
    if (ret < 0) throw updateFailure(-ret, mode, this.label(), mark);
  }

  /** Sets `key` to `value`. `noexist` fails with EEXIST if present, `exist` with ENOENT if absent. */
  update(key: MapKey, value: Uint8Array, mode: UpdateMode = 'any'): void {
    this.notPerCpu('update');
    this.rawUpdate(key, value, mode);
  }

  /** Per-CPU maps: one value per possible CPU, or a single value written to every CPU. */
  updatePerCpu(key: MapKey, values: Uint8Array[] | Uint8Array, mode: UpdateMode = 'any'): void {
    this.rawUpdate(key, this.joinPerCpu(values, 'updatePerCpu'), mode);
  }

  /** Removes `key`; false when it was not there. Arrays cannot delete (EINVAL). */
  delete(key: MapKey): boolean {
    const k = this.keyBytes(key, 'delete');
    const mark = outputMark();
    const ret = native.bpf_map_delete_elem(this.fd.fd, k);
    if (ret === -ENOENT) return false;
    check('bpf_map_delete_elem', ret, { subject: this.label(), mark });
    return true;
  }

  /** Every key, in the kernel's iteration order (get_next_key from the start). */
  keys(): Buffer[] {
    const out: Buffer[] = [];
    let prev: Buffer | null = null;
    const mark = outputMark();
    // A hash map restarts from its first key when the previous one vanished; the cap stops a map that keeps changing.
    for (let guard = 0; guard <= this.maxEntries + 1; guard++) {
      const next = Buffer.alloc(this.keySize);
      const ret = native.bpf_map_get_next_key(this.fd.fd, prev, next);
      if (ret === -ENOENT) return out;
      check('bpf_map_get_next_key', ret, { subject: this.label(), mark });
      out.push(next);
      prev = next;
    }
    return out;
  }

  /** Every key with its value (one lookup per key; see lookupBatch for the batched form). */
  entries(): MapEntry[] {
    this.notPerCpu('entries');
    const out: MapEntry[] = [];
    for (const key of this.keys()) {
      const value = this.rawLookup(key);
      if (value !== undefined) out.push({ key, value });
    }
    return out;
  }

  /** Makes the map read-only for user space (programs can still write). */
  freeze(): void {
    const mark = outputMark();
    check('bpf_map_freeze', native.bpf_map_freeze(this.fd.fd), { subject: this.label(), mark });
  }

  private splitPerCpu(raw: Buffer): Buffer[] {
    const stride = roundUp8(this.valueSize);
    return Array.from({ length: numPossibleCpus() }, (_, cpu) =>
      Buffer.from(raw.subarray(cpu * stride, cpu * stride + this.valueSize)),
    );
  }

  private joinPerCpu(values: Uint8Array[] | Uint8Array, op: string): Buffer {
    if (!this.perCpu) throw invalidArgument(op, `${this.label()} is not a per-CPU map`);
    const cpus = numPossibleCpus();
    const stride = roundUp8(this.valueSize);
    const list = values instanceof Uint8Array ? Array.from({ length: cpus }, () => values) : values;
    if (list.length !== cpus)
      throw invalidArgument(op, `${this.label()} needs ${cpus} per-CPU values, got ${list.length}`);
    const raw = Buffer.alloc(stride * cpus);
    list.forEach((v, cpu) => {
      if (v.length !== this.valueSize)
        throw invalidArgument(op, `${this.label()} wants ${this.valueSize}-byte values, got ${v.length}`);
      raw.set(v, cpu * stride);
    });
    return raw;
  }

  /**
   * Every entry, read in batches of `chunk` (BPF_MAP_LOOKUP_BATCH). Map types without batch support
   * (LPM_TRIE, PROG_ARRAY …) are read key by key instead; `batched` says which happened.
   */
  lookupBatch(opts: { chunk?: number } = {}): { entries: MapEntry[]; batched: boolean } {
    this.notPerCpu('lookupBatch');
    const { raw, batched } = this.rawLookupBatch(opts.chunk ?? 256);
    return { entries: raw, batched };
  }

  /** lookupBatch for per-CPU maps. */
  lookupBatchPerCpu(opts: { chunk?: number } = {}): { entries: PerCpuMapEntry[]; batched: boolean } {
    if (!this.perCpu) throw invalidArgument('lookupBatchPerCpu', `${this.label()} is not a per-CPU map`);
    const { raw, batched } = this.rawLookupBatch(opts.chunk ?? 256);
    return { entries: raw.map((e) => ({ key: e.key, values: this.splitPerCpu(e.value) })), batched };
  }

  private rawLookupBatch(initialChunk: number): { raw: MapEntry[]; batched: boolean } {
    let chunk = Math.max(1, Math.min(initialChunk, Math.max(this.maxEntries, 1)));
    const valueLen = this.rawValueSize;
    // The batch cursor is opaque: a bucket number for hashes, a key for arrays. Key size (at least 8) holds either.
    const tokenLen = Math.max(this.keySize, 8);
    let inBatch: Buffer | null = null;
    const outBatch = Buffer.alloc(tokenLen);
    const countBuf = Buffer.alloc(4);
    const opts = optsStruct(OFFSETS.bpf_map_batch_opts.size);
    const out: MapEntry[] = [];
    const mark = outputMark();
    for (;;) {
      const keys = Buffer.alloc(chunk * this.keySize);
      const values = Buffer.alloc(chunk * valueLen);
      countBuf.writeUInt32LE(chunk, 0);
      const ret = native.bpf_map_lookup_batch(this.fd.fd, inBatch, outBatch, keys, values, countBuf, opts);
      const got = countBuf.readUInt32LE(0);
      if (ret < 0 && -ret !== ENOENT) {
        if (inBatch === null && out.length === 0 && batchUnsupported(-ret))
          return { raw: this.entriesOneByOne(), batched: false };
        // A hash bucket larger than the chunk cannot be returned in part: grow the chunk and retry.
        if (-ret === ENOSPC && got === 0) {
          chunk *= 2;
          continue;
        }
        check('bpf_map_lookup_batch', ret, { subject: this.label(), mark });
      }
      for (let i = 0; i < got; i++) {
        out.push({
          key: Buffer.from(keys.subarray(i * this.keySize, (i + 1) * this.keySize)),
          value: Buffer.from(values.subarray(i * valueLen, (i + 1) * valueLen)),
        });
      }
      if (ret < 0) return { raw: out, batched: true }; // ENOENT: the walk reached the end
      inBatch = Buffer.from(outBatch);
    }
  }

  /**
   * Every value of an ARRAY map in key order, handed to `visit` in runs of whole values (`first` is the key of the
   * run's first value), read with BPF_MAP_LOOKUP_BATCH into one reused buffer of at most `chunkBytes`: no object per
   * entry, so reading a 65,536-slot table costs one copy, not 131,072 small Buffers. The buffer is overwritten by
   * the next run: copy what you keep. The default run is small on purpose: a buffer that stays in the CPU's cache
   * and is faulted in once reads 15 MB of class tables in 3-6 ms of CPU where 4 MiB runs took 23-26 ms (a fresh
   * 4 MiB buffer per map, faulted in and zeroed, and copied through a cache it does not fit).
   */
  arrayValues(visit: (values: Buffer, first: number) => void, opts: { chunkBytes?: number } = {}): void {
    if (this.type !== MapType.ARRAY) throw invalidArgument('arrayValues', `${this.label()} is not an ARRAY map`);
    const chunk = Math.max(1, Math.min(this.maxEntries, Math.floor((opts.chunkBytes ?? 256 << 10) / this.valueSize)));
    const keys = Buffer.alloc(chunk * 4);
    const values = Buffer.alloc(chunk * this.valueSize);
    const outBatch = Buffer.alloc(8);
    const countBuf = Buffer.alloc(4);
    const batchOpts = optsStruct(OFFSETS.bpf_map_batch_opts.size);
    const mark = outputMark();
    let inBatch: Buffer | null = null;
    let next = 0;
    while (next < this.maxEntries) {
      countBuf.writeUInt32LE(chunk, 0);
      const ret = native.bpf_map_lookup_batch(this.fd.fd, inBatch, outBatch, keys, values, countBuf, batchOpts);
      if (ret < 0 && -ret !== ENOENT) check('bpf_map_lookup_batch', ret, { subject: this.label(), mark });
      const got = countBuf.readUInt32LE(0);
      // An array walks its keys in order; anything else would make the runs lie about which slot is which.
      if (got > 0 && (keys.readUInt32LE(0) !== next || keys.readUInt32LE((got - 1) * 4) !== next + got - 1))
        throw new BpfError('bpf-syscall', `${this.label()}: a batch read did not return keys from ${next} in order`, {
          op: 'bpf_map_lookup_batch',
          errno: 0,
        });
      if (got > 0) visit(values.subarray(0, got * this.valueSize), next);
      next += got;
      if (ret < 0 || got === 0) break; // ENOENT: the walk reached the end
      inBatch = Buffer.from(outBatch);
    }
    if (next !== this.maxEntries)
      throw new BpfError(
        'bpf-syscall',
        `${this.label()}: a batch read ended after ${next} of ${this.maxEntries} slots`,
        {
          op: 'bpf_map_lookup_batch',
          errno: 0,
        },
      );
  }

  /**
   * Writes the values of keys 0..n-1 of an ARRAY map created with MapFlag.MMAPABLE, `values` holding n whole values
   * back to back, through one shared mapping of the map's value area: one copy of the bytes, where a batch update
   * copies each value into a batch buffer and the kernel copies it again, element by element. The kernel lays the
   * elements out every round_up(valueSize, 8) bytes; values of another size are spread to that stride. Not atomic
   * for a reader: meant for a map no program reads yet (a new generation before its switch).
   */
  writeArray(values: Uint8Array): void {
    if (this.type !== MapType.ARRAY || (this.flags & MapFlag.MMAPABLE) === 0)
      throw invalidArgument('writeArray', `${this.label()} is not an ARRAY map created with MapFlag.MMAPABLE`);
    if (values.length % this.valueSize !== 0 || values.length / this.valueSize > this.maxEntries)
      throw invalidArgument(
        'writeArray',
        `${this.label()} holds at most ${this.maxEntries} values of ${this.valueSize} bytes, got ${values.length} bytes`,
      );
    const count = values.length / this.valueSize;
    if (count === 0) return;
    const stride = roundUp8(this.valueSize);
    withSharedMapping(this.fd.fd, count * stride, this.label(), (area) => {
      if (stride === this.valueSize) area.set(values);
      else
        for (let i = 0; i < count; i++)
          area.set(values.subarray(i * this.valueSize, (i + 1) * this.valueSize), i * stride);
    });
  }

  private entriesOneByOne(): MapEntry[] {
    const out: MapEntry[] = [];
    for (const key of this.keys()) {
      const value = this.rawLookup(key);
      if (value !== undefined) out.push({ key, value });
    }
    return out;
  }

  /**
   * Writes many entries in one BPF_MAP_UPDATE_BATCH, or one by one where the map type has no batch support.
   * All entries use `mode`; on failure the error names the first entry that was not written.
   */
  updateBatch(entries: { key: MapKey; value: Uint8Array }[], mode: UpdateMode = 'any'): BatchResult {
    this.notPerCpu('updateBatch');
    return this.rawUpdateBatch(
      entries.map((e) => ({ key: this.keyBytes(e.key, 'updateBatch'), value: e.value })),
      mode,
    );
  }

  /** updateBatch for per-CPU maps. */
  updateBatchPerCpu(
    entries: { key: MapKey; values: Uint8Array[] | Uint8Array }[],
    mode: UpdateMode = 'any',
  ): BatchResult {
    return this.rawUpdateBatch(
      entries.map((e) => ({
        key: this.keyBytes(e.key, 'updateBatch'),
        value: this.joinPerCpu(e.values, 'updateBatchPerCpu'),
      })),
      mode,
    );
  }

  private rawUpdateBatch(entries: { key: Uint8Array; value: Uint8Array }[], mode: UpdateMode): BatchResult {
    if (entries.length === 0) return { count: 0, batched: true };
    const valueLen = this.rawValueSize;
    const keys = Buffer.alloc(entries.length * this.keySize);
    const values = Buffer.alloc(entries.length * valueLen);
    entries.forEach((e, i) => {
      this.checkValue(e.value, 'updateBatch');
      keys.set(e.key, i * this.keySize);
      values.set(e.value, i * valueLen);
    });
    const L = OFFSETS.bpf_map_batch_opts;
    const opts = optsStruct(L.size);
    opts.writeBigUInt64LE(BigInt(updateFlag(mode)), L.elem_flags);
    const countBuf = Buffer.alloc(4);
    countBuf.writeUInt32LE(entries.length, 0);
    const mark = outputMark();
    const ret = native.bpf_map_update_batch(this.fd.fd, keys, values, countBuf, opts);
    if (ret >= 0) return { count: entries.length, batched: true };
    const done = countBuf.readUInt32LE(0);
    if (done === 0 && batchUnsupported(-ret)) {
      entries.forEach((e) => this.rawUpdate(e.key, e.value, mode));
      return { count: entries.length, batched: false };
    }
    throw updateFailure(-ret, mode, `${this.label()}, batch entry ${done} of ${entries.length}`, mark);
  }

  /** Deletes many keys; keys that are not there are skipped. Returns how many were deleted. */
  deleteBatch(keys: MapKey[]): BatchResult {
    let pending = keys.map((k) => this.keyBytes(k, 'deleteBatch'));
    let deleted = 0;
    const opts = optsStruct(OFFSETS.bpf_map_batch_opts.size);
    const mark = outputMark();
    while (pending.length > 0) {
      const buf = Buffer.alloc(pending.length * this.keySize);
      pending.forEach((k, i) => buf.set(k, i * this.keySize));
      const countBuf = Buffer.alloc(4);
      countBuf.writeUInt32LE(pending.length, 0);
      const ret = native.bpf_map_delete_batch(this.fd.fd, buf, countBuf, opts);
      if (ret >= 0) return { count: deleted + pending.length, batched: true };
      const done = countBuf.readUInt32LE(0);
      if (deleted === 0 && done === 0 && batchUnsupported(-ret)) {
        const count = keys.reduce<number>((n, k) => n + (this.delete(k) ? 1 : 0), 0);
        return { count, batched: false };
      }
      if (-ret !== ENOENT) check('bpf_map_delete_batch', ret, { subject: this.label(), mark });
      // The key at `done` was absent: count what went before it and carry on after it.
      deleted += done;
      pending = pending.slice(done + 1);
    }
    return { count: deleted, batched: true };
  }
}

function updateFlag(mode: UpdateMode): number {
  return mode === 'noexist' ? UpdateFlag.NOEXIST : mode === 'exist' ? UpdateFlag.EXIST : UpdateFlag.ANY;
}

function batchUnsupported(errno: number): boolean {
  return errno === ENOTSUPP || errno === EOPNOTSUPP || errno === EINVAL;
}

function updateFailure(errno: number, mode: UpdateMode, subject: string, mark: number): BpfError {
  if (errno === EEXIST && mode === 'noexist')
    return failure('bpf_map_update_elem', errno, {
      subject,
      hint: 'the key already exists (update mode noexist)',
      mark,
    });
  if (errno === ENOENT && mode === 'exist')
    return failure('bpf_map_update_elem', errno, { subject, hint: 'the key does not exist (update mode exist)', mark });
  // A full hash map answers E2BIG to a new key.
  if (errno === E2BIG)
    return failure('bpf_map_update_elem', errno, { subject, hint: 'the map is full (max entries reached)', mark });
  return failure('bpf_map_update_elem', errno, { subject, mark });
}

// ---------------------------------------------------------------------------------------------
// Program arrays: the tail-call table notrack switches generations in.

function progFd(prog: BpfFd | { fd: BpfFd }): number {
  return prog instanceof BpfFd ? prog.fd : prog.fd.fd;
}

function requireProgArray(map: BpfMap, op: string): void {
  if (map.type !== MapType.PROG_ARRAY)
    throw invalidArgument(op, `map ${map.name} is not a PROG_ARRAY (type ${map.type})`);
}

/** Points slot `index` of a prog array at a program: one atomic update, the next tail call goes there. */
export function setProgramSlot(map: BpfMap, index: number, prog: BpfFd | { fd: BpfFd }): void {
  requireProgArray(map, 'setProgramSlot');
  const value = u32(progFd(prog));
  const mark = outputMark();
  const ret = native.bpf_map_update_elem(map.fd.fd, u32(index), value, UpdateFlag.ANY);
  if (ret < 0) throw failure('bpf_map_update_elem', -ret, { subject: `prog array ${map.name} slot ${index}`, mark });
}

/** Empties slot `index`; false when it was already empty. */
export function clearProgramSlot(map: BpfMap, index: number): boolean {
  requireProgArray(map, 'clearProgramSlot');
  return map.delete(index);
}

/** The id of the program in slot `index` (user space reads ids, not fds), or undefined when empty. */
export function programSlotId(map: BpfMap, index: number): number | undefined {
  requireProgArray(map, 'programSlotId');
  const v = map.lookup(index);
  return v === undefined ? undefined : v.readUInt32LE(0);
}

// ELF objects (clang -target bpf): open, adjust maps and programs before load, load, and reach what was loaded.
import { ProgType, type ProgTypeName, progTypeName, mapTypeName } from '../abi/bpf-uapi.js';
import { bpfFailure, ENOENT, invalidArgument } from './errors.js';
import { BpfFd } from './fd.js';
import {
  addressOf,
  check,
  cString,
  copyFromPointer,
  lastErrno,
  libbpfOutputSince,
  native,
  optsStruct,
  outputMark,
  stableBytes,
} from './ffi.js';
import { OFFSETS } from './struct-offsets.js';
import { BpfMap } from './maps.js';
import { BpfProgram, loadFailure } from './programs.js';

interface OpenObjectOptions {
  /** Overrides the object name libbpf derives from the file name (it prefixes internal maps such as `.rodata`). */
  objectName?: string;
  /** Where maps declared with `pinning = LIBBPF_PIN_BY_NAME` are pinned and reused (libbpf default /sys/fs/bpf). */
  pinRoot?: string;
  /** Verifier log buffer per program, used only when a load fails (default 4 MiB). */
  logSize?: number;
}

const DEFAULT_OBJECT_LOG_SIZE = 4 << 20;

/** An opened ELF object. Its programs and maps belong to it: closing the object closes their fds. */
export class BpfObject {
  private ptr: bigint | null;
  readonly path: string;
  readonly name: string;
  private isLoaded = false;
  private readonly logSize: number;
  // Strings whose addresses libbpf keeps in the open options must outlive the object.
  private readonly keepAlive: Buffer[];

  private constructor(ptr: bigint, path: string, logSize: number, keepAlive: Buffer[]) {
    this.ptr = ptr;
    this.path = path;
    this.name = native.bpf_object__name(ptr);
    this.logSize = logSize;
    this.keepAlive = keepAlive;
  }

  /** Opens (parses) an ELF object; nothing is loaded into the kernel yet. */
  static open(path: string, opts: OpenObjectOptions = {}): BpfObject {
    const L = OFFSETS.bpf_object_open_opts;
    const o = optsStruct(L.size);
    const keep: Buffer[] = [];
    if (opts.objectName !== undefined) {
      const s = cString(opts.objectName);
      keep.push(s);
      o.writeBigUInt64LE(addressOf(s), L.object_name);
    }
    if (opts.pinRoot !== undefined) {
      const s = cString(opts.pinRoot);
      keep.push(s);
      o.writeBigUInt64LE(addressOf(s), L.pin_root_path);
    }
    const mark = outputMark();
    const ptr = native.bpf_object__open_file(path, o);
    if (ptr === null || ptr === 0n) {
      const errno = lastErrno();
      throw bpfFailure('bpf_object__open_file', errno, {
        subject: path,
        code: errno === ENOENT ? 'bpf-not-found' : 'bpf-object',
        hint:
          errno === ENOENT
            ? 'the object file does not exist'
            : 'libbpf could not parse the ELF object (was it built with clang -target bpf -g?)',
        libbpfOutput: libbpfOutputSince(mark),
      });
    }
    return new BpfObject(ptr, path, opts.logSize ?? DEFAULT_OBJECT_LOG_SIZE, keep);
  }

  private handle(): bigint {
    if (this.ptr === null) throw invalidArgument('BpfObject', `object ${this.path} is closed`);
    return this.ptr;
  }

  get loaded(): boolean {
    return this.isLoaded;
  }

  /** The programs in the object, in ELF order. */
  programs(): ObjectProgram[] {
    const obj = this.handle();
    const out: ObjectProgram[] = [];
    for (
      let p = native.bpf_object__next_program(obj, null);
      p !== null && p !== 0n;
      p = native.bpf_object__next_program(obj, p)
    ) {
      out.push(new ObjectProgram(this, p));
    }
    return out;
  }

  /** The program named `name` (the C function name). */
  program(name: string): ObjectProgram {
    const found = this.programs().find((p) => p.name === name);
    if (!found)
      throw bpfFailure('bpf_object__find_program_by_name', ENOENT, {
        subject: `${name} in ${this.path}`,
        code: 'bpf-not-found',
        hint: `no program named ${name}; the object has: ${
          this.programs()
            .map((p) => p.name)
            .join(', ') || 'none'
        }`,
      });
    return found;
  }

  /** The maps in the object, including internal ones (`<obj>.rodata`, `.bss`, `.data`). */
  maps(): ObjectMap[] {
    const obj = this.handle();
    const out: ObjectMap[] = [];
    for (
      let m = native.bpf_object__next_map(obj, null);
      m !== null && m !== 0n;
      m = native.bpf_object__next_map(obj, m)
    ) {
      out.push(new ObjectMap(this, m));
    }
    return out;
  }

  /** The map named `name`. */
  map(name: string): ObjectMap {
    const found = this.maps().find((m) => m.name === name);
    if (!found)
      throw bpfFailure('bpf_object__find_map_by_name', ENOENT, {
        subject: `${name} in ${this.path}`,
        code: 'bpf-not-found',
        hint: `no map named ${name}; the object has: ${
          this.maps()
            .map((m) => m.name)
            .join(', ') || 'none'
        }`,
      });
    return found;
  }

  /** The `.rodata` map (the program's `const volatile` globals), if it has one. */
  rodata(): ObjectMap | undefined {
    return this.maps().find((m) => m.internal && m.name.endsWith('.rodata'));
  }

  /**
   * Loads maps and programs into the kernel. When the verifier rejects a program, the BpfError names that program
   * and carries its verifier log.
   */
  load(): void {
    const obj = this.handle();
    if (this.isLoaded) throw invalidArgument('bpf_object__load', `object ${this.path} is already loaded`);
    // One log buffer per program: libbpf asks for a log only after a failed load, so a non-empty buffer marks the culprit.
    const logs = new Map<string, Buffer>();
    for (const p of this.programs()) {
      const buf = stableBytes(this.logSize);
      logs.set(p.name, buf);
      check('bpf_program__set_log_buf', native.bpf_program__set_log_buf(p.pointer(), buf, buf.length), {
        subject: p.name,
      });
    }
    const mark = outputMark();
    const ret = native.bpf_object__load(obj);
    const output = libbpfOutputSince(mark);
    for (const p of this.programs()) native.bpf_program__set_log_buf(p.pointer(), null, 0);
    if (ret >= 0) {
      this.isLoaded = true;
      return;
    }
    const errno = -ret;
    for (const [name, buf] of logs) {
      const end = buf.indexOf(0);
      if (end > 0) {
        const log = buf.subarray(0, end).toString('utf8');
        throw loadFailure('bpf_object__load', errno, `program ${name} in ${this.path}`, log, output);
      }
    }
    throw bpfFailure('bpf_object__load', errno, { subject: this.path, libbpfOutput: output });
  }

  /** Unloads: closes every program and map fd the object holds (pinned objects and links stay). Idempotent. */
  close(): void {
    if (this.ptr === null) return;
    native.bpf_object__close(this.ptr);
    this.ptr = null;
    this.keepAlive.length = 0;
  }

  /** @internal the live libbpf pointer, for the program and map views. */
  pointerFor(): bigint {
    return this.handle();
  }
}

/** A program of an ELF object: adjustable before load, a BpfProgram (borrowing the object's fd) after. */
class ObjectProgram {
  private readonly obj: BpfObject;
  private readonly ptr: bigint;
  readonly name: string;
  readonly sectionName: string;

  constructor(obj: BpfObject, ptr: bigint) {
    this.obj = obj;
    this.ptr = ptr;
    this.name = native.bpf_program__name(ptr);
    this.sectionName = native.bpf_program__section_name(ptr);
  }

  /** @internal */
  pointer(): bigint {
    this.obj.pointerFor();
    return this.ptr;
  }

  get type(): number {
    return native.bpf_program__type(this.pointer());
  }

  get typeName(): string {
    return progTypeName(this.type);
  }

  get expectedAttachType(): number {
    return native.bpf_program__expected_attach_type(this.pointer());
  }

  get instructionCount(): number {
    return Number(native.bpf_program__insn_cnt(this.pointer()));
  }

  /** Overrides the type libbpf guessed from the section name. Before load only. */
  setType(type: number | ProgTypeName): void {
    const t = typeof type === 'number' ? type : ProgType[type];
    check('bpf_program__set_type', native.bpf_program__set_type(this.pointer(), t), {
      subject: this.name,
      hint: 'program type can only change before load',
    });
  }

  setExpectedAttachType(type: number): void {
    check('bpf_program__set_expected_attach_type', native.bpf_program__set_expected_attach_type(this.pointer(), type), {
      subject: this.name,
      hint: 'attach type can only change before load',
    });
  }

  /** Skips (false) or includes (true) this program when the object loads. */
  setAutoload(autoload: boolean): void {
    check('bpf_program__set_autoload', native.bpf_program__set_autoload(this.pointer(), autoload), {
      subject: this.name,
    });
  }

  /** The loaded program; its fd belongs to the object (dup() it to keep it past the object). */
  program(): BpfProgram {
    const fd = native.bpf_program__fd(this.pointer());
    if (fd < 0)
      throw invalidArgument(
        'ObjectProgram.program',
        `program ${this.name} is not loaded (load the object first, and check autoload)`,
      );
    return new BpfProgram(BpfFd.borrow(fd, 'prog'));
  }
}

/** A map of an ELF object: pin path, reuse, size and initial value before load; a BpfMap after. */
class ObjectMap {
  private readonly obj: BpfObject;
  private readonly ptr: bigint;
  readonly name: string;
  readonly internal: boolean;

  constructor(obj: BpfObject, ptr: bigint) {
    this.obj = obj;
    this.ptr = ptr;
    this.name = native.bpf_map__name(ptr);
    this.internal = native.bpf_map__is_internal(ptr);
  }

  private pointer(): bigint {
    this.obj.pointerFor();
    return this.ptr;
  }

  get type(): number {
    return native.bpf_map__type(this.pointer());
  }

  get typeName(): string {
    return mapTypeName(this.type);
  }

  get keySize(): number {
    return native.bpf_map__key_size(this.pointer());
  }

  get valueSize(): number {
    return native.bpf_map__value_size(this.pointer());
  }

  get maxEntries(): number {
    return native.bpf_map__max_entries(this.pointer());
  }

  setMaxEntries(n: number): void {
    check('bpf_map__set_max_entries', native.bpf_map__set_max_entries(this.pointer(), n), {
      subject: this.name,
      hint: 'max entries can only change before load',
    });
  }

  /** Where load pins this map (or reuses what is pinned there already). Before load only. */
  setPinPath(path: string): void {
    check('bpf_map__set_pin_path', native.bpf_map__set_pin_path(this.pointer(), path), { subject: this.name });
  }

  get pinPath(): string | null {
    return native.bpf_map__pin_path(this.pointer());
  }

  /** Use an existing map (e.g. from getPinned) instead of creating one; libbpf dups the fd, the caller keeps `fd`. */
  reuseFd(fd: BpfFd | BpfMap): void {
    const raw = fd instanceof BpfMap ? fd.fd.fd : fd.fd;
    check('bpf_map__reuse_fd', native.bpf_map__reuse_fd(this.pointer(), raw), {
      subject: this.name,
      hint: 'the map to reuse must match in type, sizes and flags',
    });
  }

  /** Sets the inner map template of a map-of-maps. */
  setInnerMap(fd: BpfFd | BpfMap): void {
    const raw = fd instanceof BpfMap ? fd.fd.fd : fd.fd;
    check('bpf_map__set_inner_map_fd', native.bpf_map__set_inner_map_fd(this.pointer(), raw), { subject: this.name });
  }

  /** A copy of the bytes an internal map (.rodata/.data) starts with. */
  initialValue(): Buffer {
    const size = [0];
    const p = native.bpf_map__initial_value(this.pointer(), size);
    if (p === null || p === 0n)
      throw invalidArgument(
        'ObjectMap.initialValue',
        `map ${this.name} has no initial value (only .rodata/.data/.bss do)`,
      );
    return copyFromPointer(p, size[0]!);
  }

  /** Replaces the initial bytes; for .rodata this sets `const volatile` globals before load. Size must match. */
  setInitialValue(bytes: Uint8Array): void {
    if (bytes.length !== this.valueSize)
      throw invalidArgument(
        'ObjectMap.setInitialValue',
        `map ${this.name} holds ${this.valueSize} bytes, got ${bytes.length}`,
      );
    check('bpf_map__set_initial_value', native.bpf_map__set_initial_value(this.pointer(), bytes, bytes.length), {
      subject: this.name,
      hint: 'initial values can only change before load',
    });
  }

  /** The loaded map; its fd belongs to the object (dup() it to keep it past the object). */
  map(): BpfMap {
    const fd = native.bpf_map__fd(this.pointer());
    if (fd < 0) throw invalidArgument('ObjectMap.map', `map ${this.name} is not created yet (load the object first)`);
    return BpfMap.fromFd(BpfFd.borrow(fd, 'map'));
  }
}

// The program builder: emits instructions in order, lets jumps name labels defined before or after them, and
// resolves labels, map references and the size limit in one final pass (`assemble`).

import { AsmError } from './errors.js';
import { HELPER_IDS, isHelperName, type HelperName } from './helper-ids.js';
import {
  INSN_SIZE,
  LD_IMM64,
  PSEUDO_MAP_FD,
  alu,
  atomic,
  call,
  encodeInsnInto,
  endian,
  exit,
  fitsS16,
  fitsS32,
  gotol,
  ja,
  jmp,
  ldImm64,
  ldx,
  neg,
  st,
  stx,
  type AluOp,
  type AtomicOp,
  type ByteOrder,
  type JmpOp,
  type MemSize,
  type RawInsn,
} from './insn.js';
import { requireWritable, type Reg, type WritableReg } from './regs.js';

/**
 * The most instructions the kernel loads in one program (BPF_COMPLEXITY_LIMIT_INSNS, for a loader with CAP_BPF);
 * nothing larger assembles. The verifier may still give up on a smaller program whose paths it cannot bound.
 */
export const MAX_PROGRAM_INSNS = 1_000_000;

/** Where the loader must put a map's fd: the imm of the LD_IMM64 at `insnIndex` (its first slot). */
export interface MapRelocation {
  readonly insnIndex: number;
  readonly mapName: string;
}

/** A label and the instruction slot it names. */
export interface LabelPosition {
  readonly name: string;
  readonly insnIndex: number;
}

/** A comment a generator attached to the instruction slot that follows it, for listings. */
export interface InsnComment {
  readonly insnIndex: number;
  readonly text: string;
}

export interface AssembleOptions {
  /** Map name to fd. When given, every map the program loads must be in it, and its fd is written into the bytes. */
  readonly maps?: Readonly<Record<string, number>>;
  /** Refuse programs with more instruction slots than this (default and ceiling: MAX_PROGRAM_INSNS). */
  readonly maxInsns?: number;
}

/** A finished program: the bytes for BPF_PROG_LOAD and what a loader and a listing need besides. */
export interface AssembledProgram {
  readonly bytes: Uint8Array;
  /** Instruction slots (LD_IMM64 counts two), as the kernel counts them. */
  readonly insnCount: number;
  /** Every map load, in program order; the fd is 0 there unless `maps` resolved it. */
  readonly relocations: readonly MapRelocation[];
  readonly labels: readonly LabelPosition[];
  readonly comments: readonly InsnComment[];
}

/** A map load whose fd waits for the loader. */
interface PendingMap {
  readonly index: number;
  readonly name: string;
}

/**
 * Builds one eBPF program. Emitting methods check their operands at once (the error points at the generator line
 * that is wrong); labels and maps are checked in `assemble`.
 *
 *     const p = new ProgramBuilder();
 *     const miss = p.newLabel('rule_1_miss');
 *     p.ldx('u16', R_T, R_STATE, OFF_DPORT);
 *     p.jmp('jne', R_T, 22, miss);
 *     ...
 *     p.label(miss);
 *     const { bytes, relocations } = p.assemble();
 */
export class ProgramBuilder {
  // Instructions are encoded as they are emitted (8 bytes each, however large the program); jumps and map loads
  // are written with a zero field and patched in `assemble`.
  #buffer = new Uint8Array(INSN_SIZE * 256);
  #view = new DataView(this.#buffer.buffer);
  // Jumps waiting for their label, as parallel arrays (a program may hold hundreds of thousands); gotol's offset
  // goes in imm rather than off.
  readonly #jumpSlots: number[] = [];
  readonly #jumpLabels: string[] = [];
  readonly #longJumps = new Set<number>();
  readonly #maps: PendingMap[] = [];
  readonly #labels = new Map<string, number>();
  readonly #reserved = new Set<string>();
  readonly #comments: InsnComment[] = [];
  #slots = 0;
  #fresh = 0;

  /** Instruction slots emitted so far (LD_IMM64 counts two): what the kernel's size limit counts. */
  get insnCount(): number {
    return this.#slots;
  }

  /** Defines `name` at the next instruction. Each label is defined once; jumps may precede the definition. */
  label(name: string): this {
    if (typeof name !== 'string' || name === '') {
      throw new AsmError('asm-operand', `a label name must be a non-empty string, got ${JSON.stringify(name)}`);
    }
    const earlier = this.#labels.get(name);
    if (earlier !== undefined) {
      throw new AsmError(
        'asm-label-duplicate',
        `label '${name}' is defined twice (at instruction ${earlier} and at instruction ${this.#slots})`,
      );
    }
    this.#labels.set(name, this.#slots);
    return this;
  }

  /** A label name starting with `hint` that no other `newLabel` call returns and no label defined so far has. */
  newLabel(hint: string): string {
    for (;;) {
      const name = `${hint}_${this.#fresh++}`;
      if (!this.#reserved.has(name) && !this.#labels.has(name)) {
        this.#reserved.add(name);
        return name;
      }
    }
  }

  /** Attaches a comment to the next instruction; listings print it above that instruction. */
  comment(text: string): this {
    this.#comments.push({ insnIndex: this.#slots, text });
    return this;
  }

  /** `dst op= src` on all 64 bits (BPF_ALU64). An immediate is sign-extended, so it must be an s32. */
  alu64(op: AluOp, dst: WritableReg, src: Reg | number): this {
    return this.#push(alu(64, op, dst, src));
  }

  /** `dst op= src` on the low 32 bits (BPF_ALU); the upper 32 bits of dst become zero. */
  alu32(op: AluOp, dst: WritableReg, src: Reg | number): this {
    return this.#push(alu(32, op, dst, src));
  }

  /** `dst = src` (64-bit). */
  mov64(dst: WritableReg, src: Reg | number): this {
    return this.alu64('mov', dst, src);
  }

  /** `wdst = wsrc` (32-bit, upper half zeroed). */
  mov32(dst: WritableReg, src: Reg | number): this {
    return this.alu32('mov', dst, src);
  }

  /** `dst = -dst` (64-bit). */
  neg64(dst: WritableReg): this {
    return this.#push(neg(64, dst));
  }

  /** `wdst = -wdst` (32-bit). */
  neg32(dst: WritableReg): this {
    return this.#push(neg(32, dst));
  }

  /** Byte swap: `be` converts the low `bits` between host (little-endian) and network order; both zero the rest. */
  endian(order: ByteOrder, bits: 16 | 32 | 64, dst: WritableReg): this {
    return this.#push(endian(order, bits, dst));
  }

  /** `dst = *(size *)(base + off)`. */
  ldx(size: MemSize, dst: WritableReg, base: Reg, off: number): this {
    return this.#push(ldx(size, dst, base, off));
  }

  /** `*(size *)(base + off) = src`. */
  stx(size: MemSize, base: Reg, off: number, src: Reg): this {
    return this.#push(stx(size, base, off, src));
  }

  /** `*(size *)(base + off) = value`. */
  st(size: MemSize, base: Reg, off: number, value: number): this {
    return this.#push(st(size, base, off, value));
  }

  /** Atomic `*(size *)(base + off) op= src`; with `fetch`, src also receives the old value. */
  atomic(op: AtomicOp, size: 'u32' | 'u64', base: Reg, off: number, src: Reg, options: { fetch?: boolean } = {}): this {
    return this.#push(atomic(op, size, base, off, src, options.fetch ?? false));
  }

  /** `if dst op src goto label`, comparing all 64 bits (an immediate is sign-extended, so it must be an s32). */
  jmp(op: JmpOp, dst: Reg, src: Reg | number, label: string): this {
    return this.#jump(label, false, jmp(64, op, dst, src, 0));
  }

  /** `if wdst op wsrc goto label`, comparing the low 32 bits (any u32 immediate). */
  jmp32(op: JmpOp, dst: Reg, src: Reg | number, label: string): this {
    return this.#jump(label, false, jmp(32, op, dst, src, 0));
  }

  /** `goto label` within ±32767 instructions. */
  ja(label: string): this {
    return this.#jump(label, false, ja(0));
  }

  /** `gotol label`: an unconditional jump of any distance (32-bit offset; kernel 6.4 and later). */
  gotol(label: string): this {
    return this.#jump(label, true, gotol(0));
  }

  /** Calls a kernel helper, by name from HELPER_IDS or by id. */
  call(helper: HelperName | number): this {
    if (typeof helper === 'string') {
      if (!isHelperName(helper)) {
        const known = Object.keys(HELPER_IDS).join(', ');
        throw new AsmError('asm-operand', `call: unknown helper '${helper}' (known: ${known})`);
      }
      return this.#push(call(HELPER_IDS[helper]));
    }
    return this.#push(call(helper));
  }

  /** Returns r0. */
  exit(): this {
    return this.#push(exit());
  }

  /** `dst = value` for any 64-bit constant (two slots). */
  ldImm64(dst: WritableReg, value: bigint | number): this {
    const [a, b] = ldImm64(dst, value);
    this.#push(a);
    return this.#push(b);
  }

  /** `dst = &map` for the map the loader knows as `name` (two slots; its fd is filled in by `assemble` or the loader). */
  ldMap(dst: WritableReg, name: string): this {
    requireWritable(dst, 'the destination of ldMap');
    if (typeof name !== 'string' || name === '') {
      throw new AsmError('asm-operand', `ldMap: a map name must be a non-empty string, got ${JSON.stringify(name)}`);
    }
    const [a, b] = ldImm64(dst, 0, PSEUDO_MAP_FD);
    this.#maps.push({ index: this.#slots, name });
    this.#push(a);
    return this.#push(b);
  }

  /**
   * Resolves every label and map and encodes the program. Raises asm-label-unknown, asm-jump-past-end,
   * asm-jump-out-of-range, asm-map-unresolved or asm-program-too-large; the builder stays usable afterwards.
   */
  assemble(options: AssembleOptions = {}): AssembledProgram {
    const limit = Math.min(options.maxInsns ?? MAX_PROGRAM_INSNS, MAX_PROGRAM_INSNS);
    if (this.#slots > limit) {
      throw new AsmError(
        'asm-program-too-large',
        `the program has ${this.#slots} instructions; the limit is ${limit} (split it into tail-called programs)`,
      );
    }
    const bytes = this.#buffer.slice(0, this.#slots * INSN_SIZE);
    const view = new DataView(bytes.buffer);
    this.#jumpSlots.forEach((index, i) => {
      const long = this.#longJumps.has(index);
      const distance = this.#distance(index, this.#jumpLabels[i]!, long);
      if (long) view.setInt32(index * INSN_SIZE + 4, distance, true);
      else view.setInt16(index * INSN_SIZE + 2, distance, true);
    });
    const unresolved = new Set<string>();
    const relocations: MapRelocation[] = [];
    for (const load of this.#maps) {
      relocations.push({ insnIndex: load.index, mapName: load.name });
      if (options.maps === undefined) continue;
      const given = Object.hasOwn(options.maps, load.name) ? options.maps[load.name] : undefined;
      if (given === undefined) unresolved.add(load.name);
      else view.setInt32(load.index * INSN_SIZE + 4, mapFd(load.name, given), true);
    }
    if (unresolved.size > 0) {
      throw new AsmError(
        'asm-map-unresolved',
        `no fd given for map${unresolved.size > 1 ? 's' : ''} ${[...unresolved].map((n) => `'${n}'`).join(', ')}`,
      );
    }
    const labels = [...this.#labels].map(([name, insnIndex]) => ({ name, insnIndex }));
    return { bytes, insnCount: this.#slots, relocations, labels, comments: [...this.#comments] };
  }

  #push(insn: RawInsn): this {
    const at = this.#slots * INSN_SIZE;
    if (at + INSN_SIZE > this.#buffer.length) {
      const grown = new Uint8Array(this.#buffer.length * 2);
      grown.set(this.#buffer);
      this.#buffer = grown;
      this.#view = new DataView(grown.buffer);
    }
    encodeInsnInto(this.#view, at, insn);
    this.#slots += 1;
    return this;
  }

  #jump(label: string, long: boolean, insn: RawInsn): this {
    if (typeof label !== 'string' || label === '') {
      throw new AsmError('asm-operand', `a jump target must be a label name, got ${JSON.stringify(label)}`);
    }
    this.#jumpSlots.push(this.#slots);
    this.#jumpLabels.push(label);
    if (long) this.#longJumps.add(this.#slots);
    return this.#push(insn);
  }

  /** The offset from the slot after the jump at `index` to its label, checked against the field that holds it. */
  #distance(index: number, label: string, long: boolean): number {
    const target = this.#labels.get(label);
    if (target === undefined) {
      throw new AsmError(
        'asm-label-unknown',
        `the jump at instruction ${index} targets label '${label}', which is never defined`,
      );
    }
    if (target >= this.#slots) {
      throw new AsmError(
        'asm-jump-past-end',
        `the jump at instruction ${index} targets label '${label}', which has no instruction after it`,
      );
    }
    const distance = target - (index + 1);
    if (long ? !fitsS32(distance) : !fitsS16(distance)) {
      const field = long ? 'the signed 32-bit imm field' : 'the signed 16-bit off field (-32768..32767)';
      const hint = long
        ? ''
        : '; use gotol for an unconditional jump, or jump over a gotol with the inverted condition';
      throw new AsmError(
        'asm-jump-out-of-range',
        `the jump at instruction ${index} to label '${label}' (instruction ${target}) spans ${distance} ` +
          `instructions, which does not fit ${field}${hint}`,
      );
    }
    return distance;
  }
}

function mapFd(name: string, fd: number): number {
  if (!Number.isInteger(fd) || fd < 0 || fd > 0x7fff_ffff) {
    throw new AsmError('asm-operand', `map '${name}': fd ${fd} is not a valid file descriptor`);
  }
  return fd;
}

/**
 * A copy of `program.bytes` with each relocation's map fd written into its LD_IMM64: for a loader that assembled
 * once and creates (or re-creates) the maps afterwards.
 */
export function patchMapFds(
  program: Pick<AssembledProgram, 'bytes' | 'relocations'>,
  fds: Readonly<Record<string, number>>,
): Uint8Array {
  const bytes = program.bytes.slice();
  const view = new DataView(bytes.buffer);
  const missing = program.relocations.filter((r) => !Object.hasOwn(fds, r.mapName)).map((r) => `'${r.mapName}'`);
  if (missing.length > 0) {
    throw new AsmError('asm-map-unresolved', `no fd given for map(s) ${[...new Set(missing)].join(', ')}`);
  }
  for (const r of program.relocations) {
    const at = r.insnIndex * INSN_SIZE;
    if (at + 2 * INSN_SIZE > bytes.length || bytes[at] !== LD_IMM64 || bytes[at + 1]! >> 4 !== PSEUDO_MAP_FD) {
      throw new AsmError(
        'asm-bytes',
        `relocation for map '${r.mapName}' at instruction ${r.insnIndex} is not a map load`,
      );
    }
    view.setInt32(at + 4, mapFd(r.mapName, fds[r.mapName]!), true);
  }
  return bytes;
}

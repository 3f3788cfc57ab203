// The eBPF instruction model and its encoding: the kernel's 8-byte little-endian `struct bpf_insn`
// (u8 opcode; dst_reg:4 in the low nibble, src_reg:4 in the high nibble; s16 off; s32 imm), LD_IMM64 taking two.
//
// Constructors check every operand against what the field can hold and what the verifier would reject outright,
// so a code generator bug surfaces at the line that emitted the instruction, not as a verifier log at load time.

import { AsmError } from './errors.js';
import { requireReg, requireWritable, type Reg, type WritableReg } from './regs.js';

/** Size of one instruction slot in bytes. */
export const INSN_SIZE = 8;

/** Instruction classes (the low 3 bits of the opcode). */
export const CLASS = Object.freeze({
  LD: 0x00,
  LDX: 0x01,
  ST: 0x02,
  STX: 0x03,
  ALU: 0x04,
  JMP: 0x05,
  JMP32: 0x06,
  ALU64: 0x07,
} as const);

/** Source operand flag of ALU and JMP opcodes: K = the immediate, X = src_reg. */
const SRC_K = 0x00;
export const SRC_X = 0x08;

/** Memory access modes used here. */
export const MODE = Object.freeze({ IMM: 0x00, MEM: 0x60, ATOMIC: 0xc0 } as const);

/** Access sizes; the kernel calls them W, H, B and DW. */
export type MemSize = 'u8' | 'u16' | 'u32' | 'u64';
export const SIZE_CODE: Readonly<Record<MemSize, number>> = Object.freeze({
  u32: 0x00,
  u16: 0x08,
  u8: 0x10,
  u64: 0x18,
});
const SIZE_BYTES: Readonly<Record<MemSize, number>> = Object.freeze({ u8: 1, u16: 2, u32: 4, u64: 8 });

/** Binary ALU operations (neg and the byte swap are unary and have their own constructors). */
export type AluOp = 'add' | 'sub' | 'mul' | 'div' | 'or' | 'and' | 'lsh' | 'rsh' | 'mod' | 'xor' | 'mov' | 'arsh';
export const ALU_OP_CODE: Readonly<Record<AluOp, number>> = Object.freeze({
  add: 0x00,
  sub: 0x10,
  mul: 0x20,
  div: 0x30,
  or: 0x40,
  and: 0x50,
  lsh: 0x60,
  rsh: 0x70,
  mod: 0x90,
  xor: 0xa0,
  mov: 0xb0,
  arsh: 0xc0,
});
export const ALU_NEG = 0x80;
export const ALU_END = 0xd0;

/** Byte order of a swap: `be` converts between host (little-endian) and network order; `le` only truncates. */
export type ByteOrder = 'be' | 'le';
/** BPF_TO_LE and BPF_TO_BE share the bit that is the source flag in other ALU opcodes. */
const END_TO_LE = 0x00;
export const END_TO_BE = 0x08;

/** Conditional jump operations; the `s` ones compare signed. */
export type JmpOp = 'jeq' | 'jgt' | 'jge' | 'jset' | 'jne' | 'jsgt' | 'jsge' | 'jlt' | 'jle' | 'jslt' | 'jsle';
export const JMP_OP_CODE: Readonly<Record<JmpOp, number>> = Object.freeze({
  jeq: 0x10,
  jgt: 0x20,
  jge: 0x30,
  jset: 0x40,
  jne: 0x50,
  jsgt: 0x60,
  jsge: 0x70,
  jlt: 0xa0,
  jle: 0xb0,
  jslt: 0xc0,
  jsle: 0xd0,
});
export const JMP_JA = 0x00;
export const JMP_CALL = 0x80;
export const JMP_EXIT = 0x90;

/** Atomic read-modify-write operations (the op goes in imm); FETCH also returns the old value in src_reg. */
export type AtomicOp = 'add' | 'or' | 'and' | 'xor';
export const ATOMIC_OP_CODE: Readonly<Record<AtomicOp, number>> = Object.freeze({
  add: 0x00,
  or: 0x40,
  and: 0x50,
  xor: 0xa0,
});
export const ATOMIC_FETCH = 0x01;

/** LD_IMM64 opcode (BPF_LD | BPF_IMM | BPF_DW) and the src_reg values that change what its imm means. */
export const LD_IMM64 = CLASS.LD | MODE.IMM | 0x18;
/** imm is a map fd; the kernel replaces it with the map's address at load. */
export const PSEUDO_MAP_FD = 1;

/** Operand width of ALU and JMP instructions: 64 (ALU64/JMP) or 32 (ALU/JMP32, upper half of dst zeroed). */
type Width = 32 | 64;

/** One instruction slot exactly as the kernel sees it. `off` is s16 and `imm` s32. */
export interface RawInsn {
  readonly code: number;
  readonly dst: number;
  readonly src: number;
  readonly off: number;
  readonly imm: number;
}

const S16_MIN = -0x8000;
const S16_MAX = 0x7fff;
const S32_MIN = -0x8000_0000;
const S32_MAX = 0x7fff_ffff;
const U32_MAX = 0xffff_ffff;

export function fitsS16(n: number): boolean {
  return Number.isInteger(n) && n >= S16_MIN && n <= S16_MAX;
}

export function fitsS32(n: number): boolean {
  return Number.isInteger(n) && n >= S32_MIN && n <= S32_MAX;
}

function slot(code: number, dst: number, src: number, off: number, imm: number): RawInsn {
  // Not frozen: programs reach a million slots, and `readonly` already keeps callers from editing them.
  return { code, dst, src, off, imm: imm | 0 };
}

function operand(what: string, message: string): never {
  throw new AsmError('asm-operand', `${what}: ${message}`);
}

/**
 * Checks an immediate for an instruction of this width. 64-bit instructions sign-extend imm, so only s32 values
 * mean what they say there (0x80000000 would become 0xffffffff80000000); 32-bit ones accept any u32 bit pattern.
 */
function immediate(what: string, width: Width, value: number): number {
  if (!Number.isInteger(value)) operand(what, `immediate ${value} is not an integer`);
  if (width === 64 && (value < S32_MIN || value > S32_MAX)) {
    operand(
      what,
      `immediate ${value} does not fit the signed 32-bit imm field; 64-bit instructions sign-extend it ` +
        '(load a full 64-bit constant with ldImm64, or compare 32-bit values with the 32-bit form)',
    );
  }
  if (width === 32 && (value < S32_MIN || value > U32_MAX)) {
    operand(what, `immediate ${value} does not fit 32 bits`);
  }
  return value | 0;
}

function memOffset(what: string, off: number): number {
  if (!fitsS16(off)) operand(what, `offset ${off} does not fit the signed 16-bit off field (-32768..32767)`);
  return off;
}

function aluClass(width: Width): number {
  if (width !== 32 && width !== 64) operand('alu', `width must be 32 or 64, got ${String(width)}`);
  return width === 64 ? CLASS.ALU64 : CLASS.ALU;
}

/** `dst op= src` on 64 or 32 bits; `src` is a register or an immediate. */
export function alu(width: Width, op: AluOp, dst: WritableReg, src: Reg | number): RawInsn {
  const what = `${op}${width}`;
  const cls = aluClass(width);
  const code = ALU_OP_CODE[op];
  if (code === undefined) operand(what, `unknown ALU operation '${String(op)}'`);
  requireWritable(dst, `the destination of ${what}`);
  if (typeof src !== 'number') {
    requireReg(src, `the source of ${what}`);
    return slot(cls | code | SRC_X, dst.index, src.index, 0, 0);
  }
  const imm = immediate(what, width, src);
  if ((op === 'lsh' || op === 'rsh' || op === 'arsh') && (src < 0 || src >= width)) {
    operand(what, `shift by ${src} is outside 0..${width - 1} (the verifier rejects it)`);
  }
  if ((op === 'div' || op === 'mod') && src === 0)
    operand(what, 'division by the constant 0 (the verifier rejects it)');
  return slot(cls | code | SRC_K, dst.index, 0, 0, imm);
}

/** `dst = -dst`. */
export function neg(width: Width, dst: WritableReg): RawInsn {
  requireWritable(dst, `the destination of neg${width}`);
  return slot(aluClass(width) | ALU_NEG | SRC_K, dst.index, 0, 0, 0);
}

/** `dst = be16 dst` etc.: converts the low `bits` of dst to (`be`) or from big-endian and zeroes the rest. */
export function endian(order: ByteOrder, bits: 16 | 32 | 64, dst: WritableReg): RawInsn {
  const what = `${order}${bits}`;
  if (order !== 'be' && order !== 'le') operand(what, `byte order must be 'be' or 'le'`);
  if (bits !== 16 && bits !== 32 && bits !== 64) operand(what, `size must be 16, 32 or 64 bits`);
  requireWritable(dst, `the destination of ${what}`);
  return slot(CLASS.ALU | ALU_END | (order === 'be' ? END_TO_BE : END_TO_LE), dst.index, 0, 0, bits);
}

function sizeCode(what: string, size: MemSize): number {
  const code = SIZE_CODE[size];
  if (code === undefined) operand(what, `size must be u8, u16, u32 or u64, got '${String(size)}'`);
  return code;
}

/** `dst = *(size *)(base + off)`. */
export function ldx(size: MemSize, dst: WritableReg, base: Reg, off: number): RawInsn {
  const what = `ldx ${size}`;
  const code = sizeCode(what, size);
  requireWritable(dst, `the destination of ${what}`);
  requireReg(base, `the base of ${what}`);
  return slot(CLASS.LDX | MODE.MEM | code, dst.index, base.index, memOffset(what, off), 0);
}

/** `*(size *)(base + off) = src`. */
export function stx(size: MemSize, base: Reg, off: number, src: Reg): RawInsn {
  const what = `stx ${size}`;
  const code = sizeCode(what, size);
  requireReg(base, `the base of ${what}`);
  requireReg(src, `the source of ${what}`);
  return slot(CLASS.STX | MODE.MEM | code, base.index, src.index, memOffset(what, off), 0);
}

/** `*(size *)(base + off) = imm`. The value must fit the stored size (signed or unsigned); u64 sign-extends an s32. */
export function st(size: MemSize, base: Reg, off: number, value: number): RawInsn {
  const what = `st ${size}`;
  const code = sizeCode(what, size);
  requireReg(base, `the base of ${what}`);
  if (size === 'u64') {
    immediate(what, 64, value);
  } else {
    const bits = SIZE_BYTES[size] * 8;
    const min = -(2 ** (bits - 1));
    const max = 2 ** bits - 1;
    if (!Number.isInteger(value) || value < min || value > max) {
      operand(what, `value ${value} does not fit ${bits} bits`);
    }
  }
  return slot(CLASS.ST | MODE.MEM | code, base.index, 0, memOffset(what, off), value);
}

/**
 * Atomic `*(size *)(base + off) op= src`. With `fetch`, src receives the old value (so it must be writable).
 * Only u32 and u64 exist; the kernel requires the address to be aligned to the size.
 */
export function atomic(op: AtomicOp, size: 'u32' | 'u64', base: Reg, off: number, src: Reg, fetch = false): RawInsn {
  const what = `atomic ${fetch ? 'fetch_' : ''}${op} ${size}`;
  const opCode = ATOMIC_OP_CODE[op];
  if (opCode === undefined) operand(what, `unknown atomic operation '${String(op)}'`);
  if (size !== 'u32' && size !== 'u64') operand(what, 'atomic operations exist for u32 and u64 only');
  requireReg(base, `the base of ${what}`);
  if (fetch) requireWritable(src, `the source of ${what} (it receives the old value)`);
  else requireReg(src, `the source of ${what}`);
  return slot(
    CLASS.STX | MODE.ATOMIC | SIZE_CODE[size],
    base.index,
    src.index,
    memOffset(what, off),
    opCode | (fetch ? ATOMIC_FETCH : 0),
  );
}

/** `if dst op src goto +off`, comparing 64 (JMP) or 32 (JMP32) bits; `off` counts instruction slots after this one. */
export function jmp(width: Width, op: JmpOp, dst: Reg, src: Reg | number, off: number): RawInsn {
  const what = `${op}${width === 32 ? '32' : ''}`;
  if (width !== 32 && width !== 64) operand(what, `width must be 32 or 64, got ${String(width)}`);
  const cls = width === 64 ? CLASS.JMP : CLASS.JMP32;
  const code = JMP_OP_CODE[op];
  if (code === undefined) operand(what, `unknown jump operation '${String(op)}'`);
  requireReg(dst, `the register compared by ${what}`);
  if (!fitsS16(off)) operand(what, `jump offset ${off} does not fit the signed 16-bit off field`);
  if (typeof src !== 'number') {
    requireReg(src, `the second operand of ${what}`);
    return slot(cls | code | SRC_X, dst.index, src.index, off, 0);
  }
  return slot(cls | code | SRC_K, dst.index, 0, off, immediate(what, width, src));
}

/** `goto +off` with a 16-bit offset. */
export function ja(off: number): RawInsn {
  if (!fitsS16(off)) operand('ja', `jump offset ${off} does not fit the signed 16-bit off field (use gotol)`);
  return slot(CLASS.JMP | JMP_JA, 0, 0, off, 0);
}

/** `gotol +imm`: the unconditional jump with a 32-bit offset in imm (BPF_JMP32 | BPF_JA; kernel 6.4 and later). */
export function gotol(imm: number): RawInsn {
  if (!fitsS32(imm)) operand('gotol', `jump offset ${imm} does not fit the signed 32-bit imm field`);
  return slot(CLASS.JMP32 | JMP_JA, 0, 0, 0, imm);
}

/** Calls the kernel helper with this id; arguments in r1..r5, result in r0, r1..r5 clobbered. */
export function call(helperId: number): RawInsn {
  if (!Number.isInteger(helperId) || helperId < 0 || helperId > S32_MAX) {
    operand('call', `helper id ${helperId} is not a valid id`);
  }
  return slot(CLASS.JMP | JMP_CALL, 0, 0, 0, helperId);
}

/** Returns r0 to the caller (the kernel, for the main program). */
export function exit(): RawInsn {
  return slot(CLASS.JMP | JMP_EXIT, 0, 0, 0, 0);
}

/**
 * `dst = value` for a full 64-bit constant: two slots, low half in the first imm, high half in the second.
 * `pseudo` is the src_reg marker (PSEUDO_MAP_FD makes `value` a map fd); 0 for a plain constant.
 */
export function ldImm64(dst: WritableReg, value: bigint | number, pseudo = 0): [RawInsn, RawInsn] {
  requireWritable(dst, 'the destination of ldImm64');
  let v: bigint;
  if (typeof value === 'bigint') {
    v = value;
  } else {
    if (!Number.isSafeInteger(value)) operand('ldImm64', `${value} is not a safe integer (pass a bigint)`);
    v = BigInt(value);
  }
  if (v < -(1n << 63n) || v > (1n << 64n) - 1n) operand('ldImm64', `${v} does not fit 64 bits`);
  if (!Number.isInteger(pseudo) || pseudo < 0 || pseudo > 15)
    operand('ldImm64', `pseudo source ${pseudo} is not 0..15`);
  const bits = BigInt.asUintN(64, v);
  const lo = Number(BigInt.asIntN(32, bits));
  const hi = Number(BigInt.asIntN(32, bits >> 32n));
  return [slot(LD_IMM64, dst.index, pseudo, 0, lo), slot(0, 0, 0, 0, hi)];
}

/** Writes one slot at byte `at` of `view`. */
export function encodeInsnInto(view: DataView, at: number, insn: RawInsn): void {
  view.setUint8(at, insn.code);
  view.setUint8(at + 1, ((insn.src & 0x0f) << 4) | (insn.dst & 0x0f));
  view.setInt16(at + 2, insn.off, true);
  view.setInt32(at + 4, insn.imm, true);
}

/** The kernel's byte image of these slots. */
export function encodeInsns(insns: readonly RawInsn[]): Uint8Array {
  const bytes = new Uint8Array(insns.length * INSN_SIZE);
  const view = new DataView(bytes.buffer);
  insns.forEach((insn, i) => encodeInsnInto(view, i * INSN_SIZE, insn));
  return bytes;
}

/** The slots of a byte image; the length must be a whole number of instructions. */
export function decodeInsns(bytes: Uint8Array): RawInsn[] {
  if (bytes.length % INSN_SIZE !== 0) {
    throw new AsmError('asm-bytes', `${bytes.length} bytes is not a whole number of ${INSN_SIZE}-byte instructions`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: RawInsn[] = [];
  for (let at = 0; at < bytes.length; at += INSN_SIZE) {
    const regs = view.getUint8(at + 1);
    out.push(slot(view.getUint8(at), regs & 0x0f, regs >> 4, view.getInt16(at + 2, true), view.getInt32(at + 4, true)));
  }
  return out;
}

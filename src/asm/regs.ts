// The eleven eBPF registers as typed values, with r10 (the frame pointer) read-only in the types and at run time.
//
// The calling convention the kernel imposes, which a code generator must respect:
// - r0: return value of helper calls and of the program itself.
// - r1..r5: helper arguments; every `call` clobbers them (their contents are unreadable afterwards).
// - r6..r9: callee-saved; they survive helper calls, so long-lived values (the context, a state pointer) live here.
// - r10: the frame pointer, read-only; the stack is the 512 bytes below it (negative offsets).
//
// Convention for code generators (the policy compiler and any later program): give each register one job for the
// whole program and say so at the top of the file, one line per register, by naming it for its role:
//
//     const R_CTX = R6;   // the xdp_md context, kept across helper calls
//     const R_STATE = R9; // the per-packet parse state (map value pointer)
//     const R_T = R2;     // scratch for one check; dead after it
//
// and then use only the role names. A reader checks the register plan in one place, and a value is never silently
// reused for two purposes.

import { AsmError } from './errors.js';

declare const registerBrand: unique symbol;

/** Index of a register that instructions may write. */
type WritableIndex = 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9;

/** Any register: something an instruction may read. Only this module makes them, so a `Reg` is always real. */
export interface Reg {
  readonly [registerBrand]: true;
  readonly index: WritableIndex | 10;
  /** `r0`..`r10`. */
  readonly name: string;
  /** `w0`..`w10`: the same register as an ALU32/JMP32 operand. */
  readonly name32: string;
  readonly writable: boolean;
}

/** A register an instruction may write: r0..r9. Parameters that are written are typed with this. */
export interface WritableReg extends Reg {
  readonly index: WritableIndex;
  readonly writable: true;
}

/** r10: readable (stack addresses are computed from it), never a destination. Not assignable to `WritableReg`. */
interface FrameReg extends Reg {
  readonly index: 10;
  readonly writable: false;
}

function register<R extends Reg>(index: number): R {
  return Object.freeze({ index, name: `r${index}`, name32: `w${index}`, writable: index !== 10 }) as unknown as R;
}

export const R0 = register<WritableReg>(0);
export const R1 = register<WritableReg>(1);
export const R2 = register<WritableReg>(2);
export const R3 = register<WritableReg>(3);
export const R4 = register<WritableReg>(4);
export const R5 = register<WritableReg>(5);
export const R6 = register<WritableReg>(6);
export const R7 = register<WritableReg>(7);
export const R8 = register<WritableReg>(8);
export const R9 = register<WritableReg>(9);
/** The frame pointer. Read-only: the stack lives at negative offsets from it. */
export const R10 = register<FrameReg>(10);
/** Another name for r10, for code that reads better with it. */
export const FP = R10;

/** All registers, by index. */
const REGISTERS: readonly Reg[] = Object.freeze([R0, R1, R2, R3, R4, R5, R6, R7, R8, R9, R10]);

/** True for the register values this module exports (and nothing else, however it is shaped). */
function isReg(value: unknown): value is Reg {
  return REGISTER_SET.has(value as Reg);
}

const REGISTER_SET: ReadonlySet<Reg> = new Set(REGISTERS);

/** The register with this index (0..10), as found in an encoded instruction. */
export function regByIndex(index: number): Reg {
  const reg = REGISTERS[index];
  if (reg === undefined) throw new AsmError('asm-operand', `there is no register r${index} (eBPF has r0..r10)`);
  return reg;
}

/** Checks at run time what the types check at compile time: a register given as `role` is real and not r10. */
export function requireWritable(reg: Reg, role: string): WritableReg {
  requireReg(reg, role);
  if (!reg.writable) {
    throw new AsmError(
      'asm-readonly-register',
      `${role} cannot be ${reg.name}: r10 is the frame pointer and is read-only (copy it to another register first)`,
    );
  }
  return reg as WritableReg;
}

/** Checks that a value passed as a register is one (code called from plain JavaScript may pass anything). */
export function requireReg(reg: unknown, role: string): asserts reg is Reg {
  if (!isReg(reg)) {
    throw new AsmError('asm-operand', `${role} must be a register (R0..R10), got ${describe(reg)}`);
  }
}

function describe(value: unknown): string {
  if (typeof value === 'number' || typeof value === 'bigint') return `the number ${value}`;
  if (value === null || value === undefined) return String(value);
  return typeof value === 'object' ? 'an object that is not one of the exported registers' : typeof value;
}

// The BPF assembler's public API: typed registers, instruction encoding, the program builder and the disassembler.
//
// A code generator builds a program with `ProgramBuilder` (labels, map names, helper names), calls `assemble()`
// for the bytes and the map relocations, and uses `disassemble()` to show what it produced. Register plan: see the
// convention at the top of regs.ts (name each register by its job at the top of the generator's file).

export { AsmError, type AsmErrorCode } from './errors.js';
export { R0, R1, R2, R3, R4, R5, R6, R7, R8, R9, R10, FP, regByIndex, type Reg, type WritableReg } from './regs.js';
export { HELPER_IDS, helperName, type HelperName } from './helper-ids.js';
export {
  INSN_SIZE,
  PSEUDO_MAP_FD,
  alu,
  neg,
  endian,
  ldx,
  stx,
  st,
  atomic,
  jmp,
  ja,
  gotol,
  call,
  exit,
  ldImm64,
  encodeInsns,
  decodeInsns,
  type RawInsn,
  type AluOp,
  type JmpOp,
  type AtomicOp,
  type MemSize,
  type ByteOrder,
} from './insn.js';
export {
  ProgramBuilder,
  MAX_PROGRAM_INSNS,
  patchMapFds,
  type AssembleOptions,
  type AssembledProgram,
  type MapRelocation,
  type LabelPosition,
  type InsnComment,
} from './program.js';
export { disassemble, disassembleEntries } from './disasm.js';

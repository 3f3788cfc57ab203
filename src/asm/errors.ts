// The errors the BPF assembler raises: a wrong operand, a bad label or jump, a program too large, a map left unresolved.
import { NotrackError } from '../errors.js';

/**
 * Stable codes:
 * - `ASM_OPERAND`: an operand outside what the instruction can encode (immediate, offset, shift, size).
 * - `ASM_READONLY_REGISTER`: an instruction would write r10, the frame pointer.
 * - `ASM_LABEL_DUPLICATE`, `ASM_LABEL_UNKNOWN`: a label defined twice, or a jump to a label never defined.
 * - `ASM_JUMP_PAST_END`: a jump to a label with no instruction after it.
 * - `ASM_JUMP_OUT_OF_RANGE`: a jump whose distance does not fit its offset field.
 * - `ASM_PROGRAM_TOO_LARGE`: more instructions than the given limit (at most 1,000,000).
 * - `ASM_MAP_UNRESOLVED`: a map name with no fd in the map table given to `assemble`.
 * - `ASM_BYTES`: bytes that are not a whole number of instructions.
 */
export type AsmErrorCode =
  | 'ASM_OPERAND'
  | 'ASM_READONLY_REGISTER'
  | 'ASM_LABEL_DUPLICATE'
  | 'ASM_LABEL_UNKNOWN'
  | 'ASM_JUMP_PAST_END'
  | 'ASM_JUMP_OUT_OF_RANGE'
  | 'ASM_PROGRAM_TOO_LARGE'
  | 'ASM_MAP_UNRESOLVED'
  | 'ASM_BYTES';

/** A program the assembler cannot encode; a bug in the code generator that called it, never in the user's policy. */
export class AsmError extends NotrackError {
  declare readonly code: AsmErrorCode;
  constructor(code: AsmErrorCode, message: string) {
    super(code, message);
  }
}

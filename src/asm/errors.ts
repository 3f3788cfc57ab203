// The errors the BPF assembler raises: a wrong operand, a bad label or jump, a program too large, a map left unresolved.
import { NotrackError } from '../errors.js';

/**
 * Stable codes:
 * - `asm-operand`: an operand outside what the instruction can encode (immediate, offset, shift, size).
 * - `asm-readonly-register`: an instruction would write r10, the frame pointer.
 * - `asm-label-duplicate`, `asm-label-unknown`: a label defined twice, or a jump to a label never defined.
 * - `asm-jump-past-end`: a jump to a label with no instruction after it.
 * - `asm-jump-out-of-range`: a jump whose distance does not fit its offset field.
 * - `asm-program-too-large`: more instructions than the given limit (at most 1,000,000).
 * - `asm-map-unresolved`: a map name with no fd in the map table given to `assemble`.
 * - `asm-bytes`: bytes that are not a whole number of instructions.
 */
export type AsmErrorCode =
  | 'asm-operand'
  | 'asm-readonly-register'
  | 'asm-label-duplicate'
  | 'asm-label-unknown'
  | 'asm-jump-past-end'
  | 'asm-jump-out-of-range'
  | 'asm-program-too-large'
  | 'asm-map-unresolved'
  | 'asm-bytes';

/** A program the assembler cannot encode; a bug in the code generator that called it, never in the user's policy. */
export class AsmError extends NotrackError {
  declare readonly code: AsmErrorCode;
  constructor(code: AsmErrorCode, message: string) {
    super(code, message);
  }
}

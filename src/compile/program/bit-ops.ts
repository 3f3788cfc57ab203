// Fixed instruction sequences on 64-bit words: find-first-set, clear-lowest, population count, and the AND of one
// word across every looked-up record. No loops and no branches: the verifier sees one path through each.
// Each helper names the registers it writes; one emitted instruction per line, with its effect.
import type { ProgramBuilder, WritableReg } from '../../asm/index.js';
import { FP } from '../../asm/index.js';
import { DEBRUIJN_MULTIPLIER, DEBRUIJN_SHIFT } from './maps.js';
import { STACK_ENTRIES } from './frame.js';

/**
 * dst = index of the lowest set bit of src (src must not be zero; src is kept). De Bruijn: isolate the bit,
 * multiply, the top 6 bits index a 64-byte table at the start of the entry table. Uses tmp.
 */
export function emitFindFirstSet(p: ProgramBuilder, dst: WritableReg, src: WritableReg, tmp: WritableReg): void {
  p.mov64(dst, src); // dst = src
  p.neg64(dst); // dst = -src
  p.alu64('and', dst, src); // dst = the lowest set bit alone
  p.ldImm64(tmp, DEBRUIJN_MULTIPLIER); // tmp = the De Bruijn multiplier
  p.alu64('mul', dst, tmp); // dst = bit * multiplier
  p.alu64('rsh', dst, DEBRUIJN_SHIFT); // dst = its top 6 bits: the table index
  p.ldx('u64', tmp, FP, STACK_ENTRIES); // tmp = the table (the entry table's start)
  p.alu64('add', tmp, dst); // tmp = the index's byte
  p.ldx('u8', dst, tmp, 0); // dst = the bit's position
  // The table holds 0..63; the mask tells the verifier so.
  p.alu64('and', dst, 63); // dst in 0..63
}

/**
 * Drops the lowest set bit: reg ^= reg & -reg. (Not reg &= reg - 1: the verifier would narrow reg's bounds by
 * one at every step, and states that differ only in such bounds cannot prune each other.)
 */
export function emitClearLowest(p: ProgramBuilder, reg: WritableReg, tmp: WritableReg): void {
  p.mov64(tmp, reg); // tmp = reg
  p.neg64(tmp); // tmp = -reg
  p.alu64('and', tmp, reg); // tmp = the lowest set bit alone
  p.alu64('xor', reg, tmp); // reg without it
}

/** x = number of set bits of x (SWAR). Uses t1, t2. */
export function emitPopcount(p: ProgramBuilder, x: WritableReg, t1: WritableReg, t2: WritableReg): void {
  p.mov64(t1, x); // t1 = x
  p.alu64('rsh', t1, 1); // t1 = x >> 1
  p.ldImm64(t2, 0x5555555555555555n); // t2 = odd bits mask
  p.alu64('and', t1, t2); // t1 = the high bit of each pair
  p.alu64('sub', x, t1); // x = a 2-bit count per pair
  p.ldImm64(t2, 0x3333333333333333n); // t2 = low pairs mask
  p.mov64(t1, x); // t1 = x
  p.alu64('and', t1, t2); // t1 = the low pair of each nibble
  p.alu64('rsh', x, 2); // x = the high pairs, moved down
  p.alu64('and', x, t2); // x = the high pair of each nibble
  p.alu64('add', x, t1); // x = a 4-bit count per nibble
  p.mov64(t1, x); // t1 = x
  p.alu64('rsh', t1, 4); // t1 = the next nibble down
  p.alu64('add', x, t1); // x = a count per byte, in its low nibble
  p.ldImm64(t2, 0x0f0f0f0f0f0f0f0fn); // t2 = low nibbles mask
  p.alu64('and', x, t2); // x = a count per byte
  p.ldImm64(t2, 0x0101010101010101n); // t2 = one per byte
  p.alu64('mul', x, t2); // x's top byte = the sum of the bytes
  p.alu64('rsh', x, 56); // x = the number of set bits
}

/**
 * dst = AND over the records at the given stack slots of the u64 at (byte offset `offset` + `base`) in each.
 * `offset` is a bounded register, `base` a constant; uses tmp.
 */
export function emitAndWords(
  p: ProgramBuilder,
  dst: WritableReg,
  slots: readonly number[],
  offset: WritableReg,
  base: number,
  tmp: WritableReg,
): void {
  slots.forEach((slot, i) => {
    p.ldx('u64', tmp, FP, slot); // tmp = the record of slot i
    p.alu64('add', tmp, offset); // tmp = its word at `offset`
    p.ldx('u64', tmp, tmp, base); // tmp = the word (after `base`)
    if (i === 0)
      p.mov64(dst, tmp); // dst = the first record's word
    else p.alu64('and', dst, tmp); // dst &= this record's word
  });
}

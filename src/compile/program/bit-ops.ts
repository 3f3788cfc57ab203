// Fixed instruction sequences on 64-bit words: find-first-set, clear-lowest, population count, and the AND of one
// word across every looked-up record. No loops and no branches: the verifier sees one path through each.
import type { ProgramBuilder, WritableReg } from '../../asm/index.js';
import { FP } from '../../asm/index.js';
import { DEBRUIJN_MULTIPLIER, DEBRUIJN_SHIFT } from './maps.js';
import { STACK_ENTRIES } from './frame.js';

/**
 * dst = index of the lowest set bit of src (src must not be zero; src is kept). De Bruijn: isolate the bit,
 * multiply, the top 6 bits index a 64-byte table at the start of the entry table. Uses tmp.
 */
export function emitFindFirstSet(p: ProgramBuilder, dst: WritableReg, src: WritableReg, tmp: WritableReg): void {
  p.mov64(dst, src).neg64(dst).alu64('and', dst, src);
  p.ldImm64(tmp, DEBRUIJN_MULTIPLIER).alu64('mul', dst, tmp).alu64('rsh', dst, DEBRUIJN_SHIFT);
  p.ldx('u64', tmp, FP, STACK_ENTRIES).alu64('add', tmp, dst).ldx('u8', dst, tmp, 0);
  // The table holds 0..63; the mask tells the verifier so.
  p.alu64('and', dst, 63);
}

/**
 * Drops the lowest set bit: reg ^= reg & -reg. (Not reg &= reg - 1: the verifier would narrow reg's bounds by
 * one at every step, and states that differ only in such bounds cannot prune each other.)
 */
export function emitClearLowest(p: ProgramBuilder, reg: WritableReg, tmp: WritableReg): void {
  p.mov64(tmp, reg).neg64(tmp).alu64('and', tmp, reg).alu64('xor', reg, tmp);
}

/** x = number of set bits of x (SWAR). Uses t1, t2. */
export function emitPopcount(p: ProgramBuilder, x: WritableReg, t1: WritableReg, t2: WritableReg): void {
  p.mov64(t1, x).alu64('rsh', t1, 1).ldImm64(t2, 0x5555555555555555n).alu64('and', t1, t2).alu64('sub', x, t1);
  p.ldImm64(t2, 0x3333333333333333n).mov64(t1, x).alu64('and', t1, t2).alu64('rsh', x, 2).alu64('and', x, t2).alu64('add', x, t1);
  p.mov64(t1, x).alu64('rsh', t1, 4).alu64('add', x, t1).ldImm64(t2, 0x0f0f0f0f0f0f0f0fn).alu64('and', x, t2);
  p.ldImm64(t2, 0x0101010101010101n).alu64('mul', x, t2).alu64('rsh', x, 56);
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
    p.ldx('u64', tmp, FP, slot).alu64('add', tmp, offset).ldx('u64', tmp, tmp, base);
    if (i === 0) p.mov64(dst, tmp);
    else p.alu64('and', dst, tmp);
  });
}

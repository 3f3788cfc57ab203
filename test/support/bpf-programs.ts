// Small XDP programs the libbpf kernel tests load, written with the project's assembler rather than by hand.
import { ProgramBuilder, R0, R1, R2, R10 } from '../../src/asm/index.js';

export const XDP_DROP = 1;
export const XDP_PASS = 2;

/** `r0 = verdict; exit`: the smallest program that loads (two instructions). */
export function xdpReturning(verdict: number): Uint8Array {
  return new ProgramBuilder().mov64(R0, verdict).exit().assemble().bytes;
}

/**
 * Adds 1 to the u64 at key 0 of the array (or per-CPU array) `mapFd` on every run and returns XDP_PASS;
 * ten instruction slots.
 */
export function xdpCounting(mapFd: number): Uint8Array {
  const p = new ProgramBuilder();
  p.st('u32', R10, -4, 0).mov64(R2, R10).alu64('add', R2, -4);
  p.ldMap(R1, 'counts').call('map_lookup_elem');
  p.jmp('jeq', R0, 0, 'out');
  p.mov64(R1, 1).atomic('add', 'u64', R0, 0, R1);
  p.label('out').mov64(R0, XDP_PASS).exit();
  return p.assemble({ maps: { counts: mapFd } }).bytes;
}

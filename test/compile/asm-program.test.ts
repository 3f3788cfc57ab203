// The program builder: label resolution, jump range, register and operand checks, map relocations, size limits.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  AsmError,
  MAX_PROGRAM_INSNS,
  PSEUDO_MAP_FD,
  ProgramBuilder,
  R0,
  R1,
  R2,
  R3,
  R6,
  R9,
  R10,
  FP,
  decodeInsns,
  disassembleEntries,
  patchMapFds,
  type AsmErrorCode,
  type RawInsn,
  type WritableReg,
} from '../../src/asm/index.js';

/** Runs `fn`, expects an AsmError with `code`, and returns its message for further checks. */
function asmError(fn: () => unknown, code: AsmErrorCode): string {
  try {
    fn();
  } catch (e) {
    assert.instance(e, AsmError);
    assert.is((e as AsmError).code, code, (e as Error).message);
    return (e as Error).message;
  }
  assert.unreachable(`expected ${code}`);
  return '';
}

function slots(p: ProgramBuilder): RawInsn[] {
  return decodeInsns(p.assemble().bytes);
}

function texts(p: ProgramBuilder): string[] {
  return disassembleEntries(p.assemble().bytes).map((e) => e.text);
}

test('a forward jump lands on the instruction after its label', () => {
  const p = new ProgramBuilder();
  p.jmp('jeq', R1, 0, 'out');
  p.mov64(R0, 1).mov64(R0, 2).mov64(R0, 3);
  p.label('out').exit();
  assert.equal(texts(p), ['if r1 == 0x0 goto +3', 'r0 = 1', 'r0 = 2', 'r0 = 3', 'exit']);
});

test('a backward jump to an earlier label has a negative offset', () => {
  const p = new ProgramBuilder();
  p.mov64(R1, 0);
  p.label('loop').alu64('add', R1, 1).alu64('mul', R2, 3);
  p.jmp('jlt', R1, 10, 'loop');
  p.exit();
  assert.equal(texts(p).slice(3), ['if r1 < 0xa goto -3', 'exit']);
});

test('a jump over an ld_imm64 counts its two slots', () => {
  const p = new ProgramBuilder();
  p.ja('after');
  p.ldImm64(R1, 0x1122334455667788n);
  p.ldMap(R2, 'nt_rule_counters');
  p.label('after').exit();
  assert.is(slots(p)[0]!.off, 4);
  assert.is(p.insnCount, 6);
});

test('a jump to the very next instruction has offset 0, and several labels may name one instruction', () => {
  const p = new ProgramBuilder();
  p.jmp32('jne', R1, R2, 'b');
  p.label('a').label('b').exit();
  assert.equal(texts(p), ['if w1 != w2 goto +0', 'exit']);
});

test('a jump to itself (label just before it) has offset -1', () => {
  const p = new ProgramBuilder();
  p.label('self').ja('self');
  p.exit();
  assert.is(slots(p)[0]!.off, -1);
});

test('jumps at the edge of the 16-bit offset assemble; one instruction more is refused naming label and distance', () => {
  const fits = new ProgramBuilder();
  fits.ja('far');
  for (let i = 0; i < 32767; i++) fits.mov64(R0, 0);
  fits.label('far').exit();
  assert.is(slots(fits)[0]!.off, 32767);

  const far = new ProgramBuilder();
  far.jmp('jeq', R1, 0, 'far');
  for (let i = 0; i < 32768; i++) far.mov64(R0, 0);
  far.label('far').exit();
  const message = asmError(() => far.assemble(), 'asm-jump-out-of-range');
  assert.match(message, "label 'far'");
  assert.match(message, 'spans 32768 instructions');
  assert.match(message, 'gotol');
});

test('a backward jump one past -32768 is refused', () => {
  const p = new ProgramBuilder();
  p.label('top');
  for (let i = 0; i < 32768; i++) p.mov64(R0, 0);
  p.ja('top').exit();
  const message = asmError(() => p.assemble(), 'asm-jump-out-of-range');
  assert.match(message, "label 'top'");
  assert.match(message, 'spans -32769 instructions');
});

test('gotol reaches labels beyond the 16-bit range, with the distance in imm', () => {
  const p = new ProgramBuilder();
  p.gotol('far');
  for (let i = 0; i < 40000; i++) p.mov64(R0, 0);
  p.label('far').exit();
  p.gotol('far');
  const insns = slots(p);
  assert.equal(insns[0], { code: 0x06, dst: 0, src: 0, off: 0, imm: 40000 });
  assert.equal(insns[40002], { code: 0x06, dst: 0, src: 0, off: 0, imm: -2 });
});

test('a jump to a label never defined is an error naming the label', () => {
  const p = new ProgramBuilder();
  p.mov64(R0, 0).jmp('jeq', R1, 1, 'rule_7_miss').exit();
  const message = asmError(() => p.assemble(), 'asm-label-unknown');
  assert.match(message, "'rule_7_miss'");
  assert.match(message, 'instruction 1');
});

test('defining a label twice is an error at the second definition', () => {
  const p = new ProgramBuilder();
  p.label('accept').mov64(R0, 2);
  const message = asmError(() => p.label('accept'), 'asm-label-duplicate');
  assert.match(message, "'accept'");
  assert.match(message, 'instruction 0');
  assert.match(message, 'instruction 1');
});

test('unused labels are fine, and assemble reports every label with its position', () => {
  const p = new ProgramBuilder();
  p.label('entry').mov64(R0, 0).label('unused').exit().label('end');
  const out = p.assemble();
  assert.equal(out.labels, [
    { name: 'entry', insnIndex: 0 },
    { name: 'unused', insnIndex: 1 },
    { name: 'end', insnIndex: 2 },
  ]);
});

test('a jump to a label with no instruction after it is refused', () => {
  const p = new ProgramBuilder();
  p.ja('end').exit().label('end');
  const message = asmError(() => p.assemble(), 'asm-jump-past-end');
  assert.match(message, "'end'");
});

test('a failed assemble leaves the builder usable: define the missing label and assemble again', () => {
  const p = new ProgramBuilder();
  p.ja('later');
  asmError(() => p.assemble(), 'asm-label-unknown');
  p.label('later').exit();
  assert.equal(texts(p), ['goto +0', 'exit']);
});

test('newLabel returns distinct names, never one already defined', () => {
  const p = new ProgramBuilder();
  p.label('miss_0');
  const a = p.newLabel('miss');
  const b = p.newLabel('miss');
  assert.not.equal(a, b);
  assert.not.equal(a, 'miss_0');
  p.ja(a).label(a).ja(b).label(b).exit();
  assert.equal(texts(p), ['goto +0', 'goto +0', 'exit']);
});

test('r10 cannot be written: a type error at compile time and asm-readonly-register at run time', () => {
  const p = new ProgramBuilder();
  const refused: (() => unknown)[] = [
    // @ts-expect-error r10 is a FrameReg, not a WritableReg
    () => p.mov64(R10, 1),
    // @ts-expect-error r10 is a FrameReg, not a WritableReg
    () => p.alu32('add', FP, R1),
    // @ts-expect-error r10 is a FrameReg, not a WritableReg
    () => p.ldx('u64', R10, R1, 0),
    // @ts-expect-error r10 is a FrameReg, not a WritableReg
    () => p.neg64(R10),
    // @ts-expect-error r10 is a FrameReg, not a WritableReg
    () => p.endian('be', 16, R10),
    // @ts-expect-error r10 is a FrameReg, not a WritableReg
    () => p.ldImm64(R10, 5n),
    // @ts-expect-error r10 is a FrameReg, not a WritableReg
    () => p.ldMap(R10, 'nt_rule_counters'),
    // a fetching atomic writes the old value into its source register
    () => p.atomic('add', 'u64', R1, 0, R10, { fetch: true }),
  ];
  for (const fn of refused) {
    const message = asmError(fn, 'asm-readonly-register');
    assert.match(message, 'r10 is the frame pointer');
  }
  assert.is(p.insnCount, 0, 'nothing was emitted by the refused calls');
});

test('r10 may be read: copied, used as a base for stack stores and loads, compared', () => {
  const p = new ProgramBuilder();
  p.mov64(R2, R10).alu64('add', R2, -8);
  p.stx('u64', R10, -8, R1).st('u32', FP, -12, 7).ldx('u32', R1, R10, -12);
  p.jmp('jeq', R1, R10, 'x').label('x').exit();
  assert.equal(texts(p), [
    'r2 = r10',
    'r2 += -8',
    '*(u64 *)(r10 - 8) = r1',
    '*(u32 *)(r10 - 12) = 7',
    'r1 = *(u32 *)(r10 - 12)',
    'if r1 == r10 goto +0',
    'exit',
  ]);
});

test('registers can be named by role, and something that only looks like a register is refused', () => {
  const R_STATE = R9;
  const R_CTX = R6;
  const p = new ProgramBuilder();
  p.mov64(R_CTX, R1).ldx('u16', R2, R_STATE, 4).exit();
  assert.equal(texts(p), ['r6 = r1', 'r2 = *(u16 *)(r9 + 4)', 'exit']);
  const fake = { index: 1, name: 'r1', name32: 'w1', writable: true } as unknown as WritableReg;
  assert.match(
    asmError(() => p.mov64(fake, 0), 'asm-operand'),
    'must be a register',
  );
  assert.match(
    asmError(() => p.mov64(3 as unknown as WritableReg, 0), 'asm-operand'),
    'got the number 3',
  );
});

test('map loads are LD_IMM64 with src_reg BPF_PSEUDO_MAP_FD, listed as relocations for the loader', () => {
  const p = new ProgramBuilder();
  p.mov64(R0, 0);
  p.ldMap(R1, 'nt_rule_counters');
  p.ldImm64(R3, 42);
  p.ldMap(R2, 'nt_events');
  p.ldMap(R1, 'nt_rule_counters');
  p.exit();
  const out = p.assemble();
  assert.is(out.insnCount, 10);
  assert.equal(out.relocations, [
    { insnIndex: 1, mapName: 'nt_rule_counters' },
    { insnIndex: 5, mapName: 'nt_events' },
    { insnIndex: 7, mapName: 'nt_rule_counters' },
  ]);
  const insns = decodeInsns(out.bytes);
  for (const r of out.relocations) {
    assert.is(insns[r.insnIndex]!.code, 0x18);
    assert.is(insns[r.insnIndex]!.src, PSEUDO_MAP_FD);
    assert.is(insns[r.insnIndex]!.imm, 0, 'the fd is left 0 when no map table is given');
  }
  assert.is(insns[3]!.src, 0, 'a plain constant is not a map load');
});

test('assemble({ maps }) writes each fd, and patchMapFds does the same to bytes assembled earlier', () => {
  const build = (): ProgramBuilder => {
    const p = new ProgramBuilder();
    p.ldMap(R1, 'nt_rule_counters').ldMap(R2, 'nt_events').mov64(R0, 0).exit();
    return p;
  };
  const fds = { nt_rule_counters: 7, nt_events: 12 };
  const resolved = build().assemble({ maps: fds });
  const insns = decodeInsns(resolved.bytes);
  assert.is(insns[0]!.imm, 7);
  assert.is(insns[2]!.imm, 12);
  assert.equal(
    disassembleEntries(resolved.bytes)
      .map((e) => e.text)
      .slice(0, 2),
    ['r1 = map[fd:7]', 'r2 = map[fd:12]'],
  );
  const later = build().assemble();
  assert.equal([...patchMapFds(later, fds)], [...resolved.bytes]);
  assert.equal(decodeInsns(later.bytes)[0]!.imm, 0, 'patchMapFds copies; the original bytes are unchanged');
});

test('a map missing from the map table is an error naming it', () => {
  const p = new ProgramBuilder();
  p.ldMap(R1, 'nt_rule_counters').ldMap(R2, 'nt_evnets').exit();
  const message = asmError(() => p.assemble({ maps: { nt_rule_counters: 3 } }), 'asm-map-unresolved');
  assert.match(message, "'nt_evnets'");
  assert.not.match(message, "'nt_rule_counters'");
  const later = p.assemble();
  assert.match(
    asmError(() => patchMapFds(later, { nt_rule_counters: 3 }), 'asm-map-unresolved'),
    "'nt_evnets'",
  );
  assert.match(
    asmError(() => p.assemble({ maps: { nt_rule_counters: -1, nt_evnets: 4 } }), 'asm-operand'),
    'fd -1',
  );
});

test('insnCount reports slots as the kernel counts them, and maxInsns refuses larger programs', () => {
  const p = new ProgramBuilder();
  p.ldImm64(R1, 1n).mov64(R0, 0).exit();
  assert.is(p.insnCount, 4);
  assert.is(p.assemble({ maxInsns: 4 }).insnCount, 4);
  const message = asmError(() => p.assemble({ maxInsns: 3 }), 'asm-program-too-large');
  assert.match(message, '4 instructions');
  assert.match(message, 'limit is 3');
});

test('no program beyond 1,000,000 instructions assembles, whatever limit is asked for', () => {
  const p = new ProgramBuilder();
  for (let i = 0; i < MAX_PROGRAM_INSNS; i++) p.mov64(R0, 0);
  p.exit();
  const message = asmError(() => p.assemble({ maxInsns: 2_000_000 }), 'asm-program-too-large');
  assert.match(message, '1000001 instructions');
  assert.match(message, 'limit is 1000000');
});

test('immediates that 64-bit instructions would sign-extend are refused; the 32-bit forms take any u32', () => {
  const p = new ProgramBuilder();
  const message = asmError(() => p.mov64(R1, 0x80000000), 'asm-operand');
  assert.match(message, 'sign-extend');
  assert.match(message, 'ldImm64');
  asmError(() => p.jmp('jeq', R1, 0xc0a80001, 'x'), 'asm-operand');
  asmError(() => p.alu64('and', R1, 2 ** 32), 'asm-operand');
  p.mov32(R1, 0x80000000).jmp32('jeq', R1, 0xc0a80001, 'x').label('x').exit();
  assert.equal(texts(p), ['w1 = -2147483648', 'if w1 == 0xc0a80001 goto +0', 'exit']);
});

test('operands the verifier would reject, or the fields cannot hold, are refused when emitted', () => {
  const p = new ProgramBuilder();
  assert.match(
    asmError(() => p.alu64('lsh', R1, 64), 'asm-operand'),
    'shift by 64',
  );
  assert.match(
    asmError(() => p.alu32('arsh', R1, 32), 'asm-operand'),
    'shift by 32',
  );
  assert.match(
    asmError(() => p.alu64('rsh', R1, -1), 'asm-operand'),
    'shift by -1',
  );
  assert.match(
    asmError(() => p.alu64('div', R1, 0), 'asm-operand'),
    'division by the constant 0',
  );
  assert.match(
    asmError(() => p.alu32('mod', R1, 0), 'asm-operand'),
    'division by the constant 0',
  );
  assert.match(
    asmError(() => p.alu64('add', R1, 1.5), 'asm-operand'),
    'not an integer',
  );
  assert.match(
    asmError(() => p.ldx('u32', R1, R9, 40000), 'asm-operand'),
    'offset 40000',
  );
  assert.match(
    asmError(() => p.stx('u8', R10, -32769, R1), 'asm-operand'),
    'offset -32769',
  );
  assert.match(
    asmError(() => p.st('u8', R10, -1, 256), 'asm-operand'),
    'does not fit 8 bits',
  );
  assert.match(
    asmError(() => p.st('u16', R10, -2, -32769), 'asm-operand'),
    'does not fit 16 bits',
  );
  assert.match(
    asmError(() => p.ldImm64(R1, 1n << 64n), 'asm-operand'),
    'does not fit 64 bits',
  );
  assert.match(
    asmError(() => p.ldImm64(R1, 2 ** 60), 'asm-operand'),
    'bigint',
  );
  assert.match(
    asmError(() => p.call('map_lookup' as 'map_lookup_elem'), 'asm-operand'),
    "unknown helper 'map_lookup'",
  );
  asmError(() => p.atomic('add', 'u16' as 'u32', R1, 0, R2), 'asm-operand');
  asmError(() => p.alu64('nand' as 'and', R1, R2), 'asm-operand');
  asmError(() => p.ja(''), 'asm-operand');
  assert.is(p.insnCount, 0);
});

test('helpers are called by name or by id, with the same encoding', () => {
  const p = new ProgramBuilder();
  p.call('map_lookup_elem').call(1).call('ringbuf_submit').call('xdp_adjust_meta').exit();
  assert.equal(texts(p), [
    'call bpf_map_lookup_elem#1',
    'call bpf_map_lookup_elem#1',
    'call bpf_ringbuf_submit#132',
    'call bpf_xdp_adjust_meta#54',
    'exit',
  ]);
});

test('comments attach to the next instruction and come back with the program', () => {
  const p = new ProgramBuilder();
  p.comment('rule 1: tcp dport 22').ldx('u16', R1, R9, 4).comment('deny').mov64(R0, 1).exit();
  assert.equal(p.assemble().comments, [
    { insnIndex: 0, text: 'rule 1: tcp dport 22' },
    { insnIndex: 1, text: 'deny' },
  ]);
});

test.run();

// The disassembler's listing: labels, comments and map names from an assembled program, and robustness to bytes
// the assembler never produces.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  AsmError,
  ProgramBuilder,
  R0,
  R1,
  R2,
  R6,
  R9,
  R10,
  disassemble,
  disassembleEntries,
} from '../../src/asm/index.js';

/** A small policy-like program: one rule that counts and drops TCP port 22, everything else passes. */
function ruleProgram(): ProgramBuilder {
  const p = new ProgramBuilder();
  const miss = p.newLabel('rule_1_miss');
  p.mov64(R6, R1);
  p.comment('rule 1: tcp dport 22 -> Deny');
  p.ldx('u8', R1, R9, 9).jmp('jne', R1, 6, miss);
  p.ldx('u16', R1, R9, 4).endian('be', 16, R1).jmp('jne', R1, 22, miss);
  p.stx('u32', R10, -4, R1).mov64(R2, R10).alu64('add', R2, -4);
  p.ldMap(R1, 'nt_rule_counters').call('map_lookup_elem');
  p.jmp('jeq', R0, 0, 'drop').mov64(R1, 1).atomic('add', 'u64', R0, 0, R1);
  p.label('drop').mov64(R0, 1).exit();
  p.label(miss).mov64(R0, 2).exit();
  return p;
}

test('a listing shows labels, comments, map names and jump targets by label', () => {
  const out = ruleProgram().assemble();
  assert.equal(disassemble(out.bytes, out), [
    ' 0: r6 = r1',
    '    ; rule 1: tcp dport 22 -> Deny',
    ' 1: r1 = *(u8 *)(r9 + 9)',
    ' 2: if r1 != 0x6 goto +14 <rule_1_miss_0>',
    ' 3: r1 = *(u16 *)(r9 + 4)',
    ' 4: r1 = be16 r1',
    ' 5: if r1 != 0x16 goto +11 <rule_1_miss_0>',
    ' 6: *(u32 *)(r10 - 4) = r1',
    ' 7: r2 = r10',
    ' 8: r2 += -4',
    ' 9: r1 = map[nt_rule_counters]',
    '11: call bpf_map_lookup_elem#1',
    '12: if r0 == 0x0 goto +2 <drop>',
    '13: r1 = 1',
    '14: lock *(u64 *)(r0 + 0) += r1',
    'drop:',
    '15: r0 = 1',
    '16: exit',
    'rule_1_miss_0:',
    '17: r0 = 2',
    '18: exit',
  ]);
});

test('bytes alone list maps by fd and jumps by offset only', () => {
  const out = ruleProgram().assemble({ maps: { nt_rule_counters: 5 } });
  const lines = disassemble(out.bytes);
  assert.is(lines.length, 18, 'one line per instruction; the map load fills two slots');
  assert.is(lines[2], ' 2: if r1 != 0x6 goto +14');
  assert.is(lines[9], ' 9: r1 = map[fd:5]');
  assert.is(lines[10], '11: call bpf_map_lookup_elem#1');
});

test('entries give each instruction its slot index, size and jump target', () => {
  const out = ruleProgram().assemble();
  const entries = disassembleEntries(out.bytes, out);
  const load = entries.find((e) => e.text.startsWith('r1 = map['))!;
  assert.equal({ index: load.index, slots: load.slots }, { index: 9, slots: 2 });
  const jump = entries.find((e) => e.index === 12)!;
  assert.is(jump.target, 15);
  assert.equal(entries.find((e) => e.index === 15)!.labels, ['drop']);
  assert.equal(entries.find((e) => e.index === 1)!.comments, ['rule 1: tcp dport 22 -> Deny']);
  assert.is(entries.find((e) => e.index === 13)!.target, undefined);
});

/** Bytes from hex, e.g. '95 00 00 00 00 00 00 00'. */
function bytes(hex: string): Uint8Array {
  return new Uint8Array(
    hex
      .trim()
      .split(/\s+/)
      .map((b) => parseInt(b, 16)),
  );
}

test('instructions the assembler never emits are listed as unknown, and the listing goes on', () => {
  const listing = disassembleEntries(
    bytes(`
      20 00 00 00 0c 00 00 00
      3f 21 01 00 00 00 00 00
      d7 01 00 00 10 00 00 00
      91 21 00 00 00 00 00 00
      db 21 00 00 e1 00 00 00
      8d 00 00 00 00 00 00 00
      95 00 00 00 00 00 00 00`),
  ).map((e) => e.text);
  assert.equal(listing, [
    '<unknown: code=0x20 dst=r0 src=r0 off=0 imm=12>', // classic BPF packet load (LD_ABS)
    '<unknown: code=0x3f dst=r1 src=r2 off=1 imm=0>', // signed division (cpu v4)
    '<unknown: code=0xd7 dst=r1 src=r0 off=0 imm=16>', // unconditional byte swap (cpu v4)
    '<unknown: code=0x91 dst=r1 src=r2 off=0 imm=0>', // sign-extending load (cpu v4)
    '<unknown: code=0xdb dst=r1 src=r2 off=0 imm=225>', // atomic exchange
    '<unknown: code=0x8d dst=r0 src=r0 off=0 imm=0>', // call with a register source
    'exit',
  ]);
});

test('calls by other means than a known helper id are still readable', () => {
  const listing = disassembleEntries(
    bytes(`
      85 00 00 00 4d 00 00 00
      85 10 00 00 05 00 00 00
      85 20 00 00 10 27 00 00`),
  ).map((e) => e.text);
  assert.equal(listing, ['call helper#77', 'call pc+5', 'call kfunc#10000']);
});

test('a cut-off or malformed ld_imm64 is flagged, not misread', () => {
  assert.equal(
    disassembleEntries(bytes('18 01 00 00 01 00 00 00')).map((e) => e.text),
    ['<truncated ld_imm64: r1, second slot missing>'],
  );
  const bad = disassembleEntries(bytes('18 01 00 00 01 00 00 00 95 00 00 00 00 00 00 00'));
  assert.match(bad[0]!.text, /^<bad ld_imm64: second slot <unknown: code=0x95/);
});

test('bytes that are not whole instructions are refused with asm-bytes', () => {
  try {
    disassemble(new Uint8Array(12));
    assert.unreachable('expected asm-bytes');
  } catch (e) {
    assert.instance(e, AsmError);
    assert.is((e as AsmError).code, 'asm-bytes');
    assert.match((e as Error).message, '12 bytes');
  }
});

test('a view into a larger buffer is decoded from its own offset', () => {
  const p = new ProgramBuilder();
  p.mov64(R0, 2).exit();
  const padded = new Uint8Array(32);
  padded.set(p.assemble().bytes, 8);
  assert.equal(disassemble(padded.subarray(8, 24)), ['0: r0 = 2', '1: exit']);
});

test.run();

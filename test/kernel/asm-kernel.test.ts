// The kernel accepts what the assembler emits and computes what the instructions mean: small XDP programs are
// loaded (never attached) and run with BPF_PROG_TEST_RUN inside a namespace this test creates. This is the check
// for the kinds clang 14 cannot produce (mod, jset, st, gotol, fetching atomics) and for map fd relocation.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  ProgramBuilder,
  R0,
  R1,
  R2,
  R3,
  R10,
  disassemble,
  patchMapFds,
  type AssembleOptions,
} from '../../src/asm/index.js';
import { createMap, loadProgram, testRun } from '../../src/libbpf/index.js';
import { NetNs } from '../support/netns.js';
import { kernelGate } from '../support/kernel-gate.js';

const gate = kernelGate('asm-kernel');
const kernelTest = gate.test;

let ns: NetNs | undefined;
test.before(() => {
  if (gate.runs) ns = NetNs.create('asm');
});
test.after(() => {
  ns?.delete();
});

/** Loads the program as XDP, runs it once on a zeroed 64-byte packet inside the test's namespace, returns r0. */
function runProgram(bytes: Uint8Array): number {
  return ns!.enter(() => {
    const prog = loadProgram({ type: 'XDP', name: 'nt_asm_test', insns: bytes });
    try {
      return testRun(prog, { data: new Uint8Array(64) }).retval;
    } finally {
      prog.close();
    }
  });
}

/** Builds a program ending in `exit`, runs it and returns r0 as the kernel left it (the low 32 bits). */
function run(build: (p: ProgramBuilder) => void, options: AssembleOptions = {}): number {
  const p = new ProgramBuilder();
  build(p);
  p.exit();
  const out = p.assemble(options);
  try {
    return runProgram(out.bytes);
  } catch (e) {
    throw new Error(`${(e as Error).message}\nprogram:\n${disassemble(out.bytes, out).join('\n')}`);
  }
}

kernelTest('mod, on 64 and 32 bits, with immediate and register divisors', () => {
  assert.is(
    run((p) => p.mov64(R0, 1000).alu64('mod', R0, 7)),
    6,
  );
  assert.is(
    run((p) => p.mov32(R0, 1000).mov32(R2, 7).alu32('mod', R0, R2)),
    6,
  );
  assert.is(
    run((p) => p.mov64(R0, 1000).mov64(R2, 7).alu64('mod', R0, R2)),
    6,
  );
  assert.is(
    run((p) => p.mov32(R0, 0xffffffff).alu32('mod', R0, 10)),
    0xffffffff % 10,
  );
});

kernelTest('jset jumps when any tested bit is set, on 64 and 32 bits', () => {
  const jset = (width: 32 | 64, value: number, mask: number): number =>
    run((p) => {
      p.mov32(R2, value).mov64(R0, 1);
      if (width === 64) p.jmp('jset', R2, mask, 'set');
      else p.jmp32('jset', R2, mask, 'set');
      p.mov64(R0, 0).label('set');
    });
  assert.is(jset(64, 0x14, 0x04), 1);
  assert.is(jset(64, 0x14, 0x03), 0);
  assert.is(jset(32, 0x80000000, 0x80000000), 1);
  assert.is(jset(32, 0x7fffffff, 0x80000000), 0);
});

kernelTest('st writes immediates of every size to the stack, and ldx reads them back', () => {
  const stored = (build: (p: ProgramBuilder) => void): number => run(build);
  assert.is(
    stored((p) => p.st('u8', R10, -1, 0xab).ldx('u8', R0, R10, -1)),
    0xab,
  );
  assert.is(
    stored((p) => p.st('u16', R10, -2, 0xbeef).ldx('u16', R0, R10, -2)),
    0xbeef,
  );
  assert.is(
    stored((p) => p.st('u32', R10, -4, 0xdeadbeef).ldx('u32', R0, R10, -4)),
    0xdeadbeef,
  );
  // u64 sign-extends its s32: the upper half of -3 is all ones.
  assert.is(
    stored((p) => p.st('u64', R10, -8, -3).ldx('u64', R0, R10, -8).alu64('rsh', R0, 32)),
    0xffffffff,
  );
  assert.is(
    stored((p) => p.mov64(R1, 0x5a).stx('u8', R10, -1, R1).ldx('u8', R0, R10, -1)),
    0x5a,
  );
});

kernelTest('atomics add, or, and, xor on the stack; fetch returns the old value in the source register', () => {
  const atomic = (op: 'add' | 'or' | 'and' | 'xor', size: 'u32' | 'u64', fetch: boolean): number =>
    run((p) => {
      p.st(size, R10, -8, 0x0c).mov64(R1, 0x0a);
      p.atomic(op, size, R10, -8, R1, { fetch });
      // r0 = new memory value << 8 | r1 (the old value with fetch, the operand without)
      p.ldx(size, R0, R10, -8).alu64('lsh', R0, 8).alu64('or', R0, R1);
    });
  const expected = { add: 0x16, or: 0x0e, and: 0x08, xor: 0x06 };
  for (const op of ['add', 'or', 'and', 'xor'] as const) {
    for (const size of ['u32', 'u64'] as const) {
      assert.is(atomic(op, size, false), (expected[op] << 8) | 0x0a, `${op} ${size}`);
      assert.is(atomic(op, size, true), (expected[op] << 8) | 0x0c, `fetch_${op} ${size}`);
    }
  }
});

kernelTest('gotol jumps over more than 32767 instructions', () => {
  const result = run((p) => {
    p.mov64(R0, 5).jmp('jeq', R1, 0, 'pad').gotol('end');
    p.label('pad');
    for (let i = 0; i < 40000; i++) p.mov64(R0, 99);
    p.label('end');
  });
  assert.is(result, 5);
});

kernelTest('byte swaps, negation, arithmetic shift and 32-bit zero extension', () => {
  assert.is(
    run((p) => p.mov64(R0, 0x1234).endian('be', 16, R0)),
    0x3412,
  );
  assert.is(
    run((p) => p.mov64(R0, 0x11223344).endian('be', 32, R0)),
    0x44332211,
  );
  assert.is(
    run((p) => p.ldImm64(R0, 0x1122334455667788n).endian('be', 64, R0)),
    0x44332211,
  );
  assert.is(
    run((p) => p.mov64(R0, 0x12345678).endian('le', 16, R0)),
    0x5678,
  );
  assert.is(
    run((p) => p.mov64(R0, 5).neg64(R0)),
    0xfffffffb,
  );
  assert.is(
    run((p) => p.ldImm64(R0, -16n).alu64('arsh', R0, 2)),
    0xfffffffc,
  );
  assert.is(
    run((p) => p.ldImm64(R0, -1n).alu32('add', R0, 0).alu64('rsh', R0, 32)),
    0,
  );
  assert.is(
    run((p) => p.ldImm64(R0, 0x1122334455667788n).alu64('rsh', R0, 32)),
    0x11223344,
  );
});

kernelTest('signed and unsigned comparisons with negative immediates', () => {
  const taken = (build: (p: ProgramBuilder) => void): number =>
    run((p) => {
      p.mov64(R0, 1);
      build(p);
      p.mov64(R0, 0).label('yes');
    });
  assert.is(
    taken((p) => p.mov64(R2, -5).jmp('jslt', R2, -3, 'yes')),
    1,
  );
  assert.is(
    taken((p) => p.mov64(R2, -5).jmp('jlt', R2, -3, 'yes')),
    1,
    '0xff..fb < 0xff..fd unsigned',
  );
  assert.is(
    taken((p) => p.mov32(R2, -5).jmp32('jsgt', R2, -3, 'yes')),
    0,
  );
  assert.is(
    taken((p) => p.mov32(R2, 0xfffffffb).jmp32('jeq', R2, 0xfffffffb, 'yes')),
    1,
  );
  assert.is(
    taken((p) => p.mov32(R2, 0xfffffffb).jmp('jeq', R2, -5, 'yes')),
    0,
    'w2 is zero-extended',
  );
});

kernelTest('map loads get their fd from assemble({ maps }) or patchMapFds, and helpers are called by id', () => {
  const counters = createMap({ type: 'ARRAY', name: 'nt_asm_ctr', keySize: 4, valueSize: 8, maxEntries: 1 });
  try {
    const p = new ProgramBuilder();
    p.st('u32', R10, -4, 0).mov64(R2, R10).alu64('add', R2, -4);
    p.ldMap(R1, 'nt_rule_counters').call('map_lookup_elem');
    p.mov64(R3, 2).jmp('jeq', R0, 0, 'out');
    p.mov64(R1, 7).atomic('add', 'u64', R0, 0, R1).call('ktime_get_ns').mov64(R3, 1);
    p.label('out').mov64(R0, R3).exit();
    const resolved = p.assemble({ maps: { nt_rule_counters: counters.fd.fd } });
    assert.is(runProgram(resolved.bytes), 1, 'the map value was found');
    const patched = patchMapFds(p.assemble(), { nt_rule_counters: counters.fd.fd });
    assert.is(runProgram(patched), 1);
    const value = counters.lookup(0);
    assert.ok(value !== undefined);
    assert.is(value.readBigUInt64LE(0), 14n);
  } finally {
    counters.close();
  }
});

test.run();

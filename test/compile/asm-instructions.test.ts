// Every instruction kind the assembler emits: its bytes equal what clang's BPF backend produces for the same
// instruction (or, where clang 14 cannot express it, the kernel's ISA opcode table), and it disassembles as expected.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { bpfBuildDir } from '../support/bpf-objects.js';
import {
  HELPER_IDS,
  PSEUDO_MAP_FD,
  R0,
  R1,
  R2,
  R3,
  R4,
  R7,
  R9,
  R10,
  alu,
  atomic,
  call,
  decodeInsns,
  disassembleEntries,
  encodeInsns,
  endian,
  exit,
  gotol,
  ja,
  jmp,
  ldImm64,
  ldx,
  neg,
  regByIndex,
  st,
  stx,
  type AluOp,
  type AtomicOp,
  type JmpOp,
  type MemSize,
  type RawInsn,
  type WritableReg,
} from '../../src/asm/index.js';

/** How a case's bytes are checked: against clang assembling this inline asm, or against literal spec bytes. */
type Oracle = { readonly clang: string } | { readonly spec: string };

interface Case {
  readonly name: string;
  readonly insns: readonly RawInsn[];
  /** The disassembly, one line per instruction. */
  readonly text: readonly string[];
  readonly oracle: Oracle;
}

const cases: Case[] = [];
/** The listing itself is the clang input: the disassembler's syntax is one clang's assembler accepts. */
function viaClang(name: string, insns: readonly RawInsn[], text: readonly string[]): void {
  cases.push({ name, insns, text, oracle: { clang: text.join('\n\t') } });
}
/** For what clang 14 cannot assemble: bytes read off the opcode table of the kernel's instruction-set.rst. */
function viaSpec(name: string, insns: readonly RawInsn[], text: readonly string[], spec: string): void {
  cases.push({ name, insns, text, oracle: { spec } });
}

// --- ALU, 64 and 32 bits, immediate and register sources ---
const ALU: readonly [AluOp, string][] = [
  ['add', '+='],
  ['sub', '-='],
  ['mul', '*='],
  ['div', '/='],
  ['or', '|='],
  ['and', '&='],
  ['lsh', '<<='],
  ['rsh', '>>='],
  ['mod', '%='],
  ['xor', '^='],
  ['mov', '='],
  ['arsh', 's>>='],
];
// clang 14 cannot assemble mod; these are the divmul32/divmul64 rows 0x94, 0x97, 0x9c, 0x9f.
const MOD_SPEC: Record<string, string> = {
  '64K': '97 03 00 00 2c 01 00 00',
  '64X': '9f 73 00 00 00 00 00 00',
  '32K': '94 03 00 00 2c 01 00 00',
  '32X': '9c 73 00 00 00 00 00 00',
};
for (const width of [64, 32] as const) {
  const r = width === 64 ? 'r' : 'w';
  for (const [op, symbol] of ALU) {
    const shift = op === 'lsh' || op === 'rsh' || op === 'arsh';
    const bitwise = op === 'or' || op === 'and' || op === 'xor';
    const imm = shift ? 7 : bitwise ? 0xf0 : 300;
    const shown = bitwise ? '0xf0' : String(imm);
    const k = { name: `alu${width} ${op} imm`, insns: [alu(width, op, R3, imm)], text: [`${r}3 ${symbol} ${shown}`] };
    const x = { name: `alu${width} ${op} reg`, insns: [alu(width, op, R3, R7)], text: [`${r}3 ${symbol} ${r}7`] };
    if (op === 'mod') {
      viaSpec(k.name, k.insns, k.text, MOD_SPEC[`${width}K`]!);
      viaSpec(x.name, x.insns, x.text, MOD_SPEC[`${width}X`]!);
    } else {
      viaClang(k.name, k.insns, k.text);
      viaClang(x.name, x.insns, x.text);
    }
  }
}
viaClang('alu64 add negative imm (sign-extended)', [alu(64, 'add', R1, -5)], ['r1 += -5']);
viaClang('alu64 and negative mask', [alu(64, 'and', R1, -0x100)], ['r1 &= -0x100']);
viaClang('alu32 and high mask as u32', [alu(32, 'and', R1, 0xffff0000)], ['w1 &= 0xffff0000']);
viaClang('alu32 mov all-ones', [alu(32, 'mov', R2, 0xffffffff)], ['w2 = -1']);
viaClang('alu64 mov from the frame pointer', [alu(64, 'mov', R2, R10)], ['r2 = r10']);
viaClang('alu64 neg', [neg(64, R3)], ['r3 = -r3']);
viaClang('alu32 neg', [neg(32, R3)], ['w3 = -w3']);

// --- byte swaps ---
for (const order of ['be', 'le'] as const) {
  for (const bits of [16, 32, 64] as const) {
    viaClang(`endian ${order}${bits}`, [endian(order, bits, R4)], [`r4 = ${order}${bits} r4`]);
  }
}

// --- memory ---
const SIZES: readonly MemSize[] = ['u8', 'u16', 'u32', 'u64'];
for (const size of SIZES) {
  viaClang(`ldx ${size}`, [ldx(size, R1, R9, 12)], [`r1 = *(${size} *)(r9 + 12)`]);
  viaClang(`stx ${size}`, [stx(size, R10, -8, R1)], [`*(${size} *)(r10 - 8) = r1`]);
}
viaClang('ldx at offset 0', [ldx('u64', R0, R1, 0)], ['r0 = *(u64 *)(r1 + 0)']);
viaClang('ldx at the largest offset', [ldx('u64', R0, R1, 32767)], ['r0 = *(u64 *)(r1 + 32767)']);
viaClang('ldx at the smallest offset', [ldx('u64', R0, R1, -32768)], ['r0 = *(u64 *)(r1 - 32768)']);
// clang 14 cannot assemble BPF_ST; rows 0x72, 0x6a, 0x62, 0x7a.
viaSpec('st u8', [st('u8', R10, -1, 255)], ['*(u8 *)(r10 - 1) = 255'], '72 0a ff ff ff 00 00 00');
viaSpec('st u16', [st('u16', R10, -2, 8080)], ['*(u16 *)(r10 - 2) = 8080'], '6a 0a fe ff 90 1f 00 00');
viaSpec('st u32', [st('u32', R10, -8, 0xffffffff)], ['*(u32 *)(r10 - 8) = -1'], '62 0a f8 ff ff ff ff ff');
viaSpec('st u64', [st('u64', R10, -16, -3)], ['*(u64 *)(r10 - 16) = -3'], '7a 0a f0 ff fd ff ff ff');

// --- atomics without fetch (clang's inline asm knows these; the fetch forms are checked against C below) ---
const ATOMIC: readonly [AtomicOp, string][] = [
  ['add', '+='],
  ['or', '|='],
  ['and', '&='],
  ['xor', '^='],
];
for (const [op, symbol] of ATOMIC) {
  viaClang(`atomic ${op} u64`, [atomic(op, 'u64', R1, 8, R2)], [`lock *(u64 *)(r1 + 8) ${symbol} r2`]);
  viaClang(`atomic ${op} u32`, [atomic(op, 'u32', R1, -8, R2)], [`lock *(u32 *)(r1 - 8) ${symbol} w2`]);
}
// The text of the fetch forms (their bytes are compared with clang's code generation in the next section).
for (const [op] of ATOMIC) {
  for (const [size, r] of [
    ['u64', 'r'],
    ['u32', 'w'],
  ] as const) {
    const text = `${r}2 = atomic_fetch_${op}((${size} *)(r1 + 8), ${r}2)`;
    const opcode = size === 'u64' ? 'db' : 'c3';
    const imm = { add: '01', or: '41', and: '51', xor: 'a1' }[op];
    viaSpec(
      `atomic fetch_${op} ${size}`,
      [atomic(op, size, R1, 8, R2, true)],
      [text],
      `${opcode} 21 08 00 ${imm} 00 00 00`,
    );
  }
}

// --- jumps, 64 and 32 bits, immediate and register operands ---
const JMP: readonly [JmpOp, string][] = [
  ['jeq', '=='],
  ['jgt', '>'],
  ['jge', '>='],
  ['jset', '&'],
  ['jne', '!='],
  ['jsgt', 's>'],
  ['jsge', 's>='],
  ['jlt', '<'],
  ['jle', '<='],
  ['jslt', 's<'],
  ['jsle', 's<='],
];
// clang 14 cannot assemble jset; rows 0x45, 0x4d, 0x46, 0x4e.
const JSET_SPEC: Record<string, string> = {
  '64K': '45 03 03 00 16 00 00 00',
  '64X': '4d 73 fe ff 00 00 00 00',
  '32K': '46 03 03 00 16 00 00 00',
  '32X': '4e 73 fe ff 00 00 00 00',
};
for (const width of [64, 32] as const) {
  const r = width === 64 ? 'r' : 'w';
  const j = width === 64 ? 'jmp' : 'jmp32';
  for (const [op, symbol] of JMP) {
    const k = {
      name: `${j} ${op} imm`,
      insns: [jmp(width, op, R3, 0x16, 3)],
      text: [`if ${r}3 ${symbol} 0x16 goto +3`],
    };
    const x = {
      name: `${j} ${op} reg`,
      insns: [jmp(width, op, R3, R7, -2)],
      text: [`if ${r}3 ${symbol} ${r}7 goto -2`],
    };
    if (op === 'jset') {
      viaSpec(k.name, k.insns, k.text, JSET_SPEC[`${width}K`]!);
      viaSpec(x.name, x.insns, x.text, JSET_SPEC[`${width}X`]!);
    } else {
      viaClang(k.name, k.insns, k.text);
      viaClang(x.name, x.insns, x.text);
    }
  }
}
viaClang('jmp signed compare with a negative imm', [jmp(64, 'jslt', R1, -5, 1)], ['if r1 s< -5 goto +1']);
viaClang('jmp32 signed compare with a negative imm', [jmp(32, 'jsle', R3, -5, 3)], ['if w3 s<= -5 goto +3']);
viaClang(
  'jmp32 unsigned compare with a u32 above 2^31',
  [jmp(32, 'jeq', R1, 0xffffffff, 1)],
  ['if w1 == 0xffffffff goto +1'],
);
viaSpec(
  'jmp32 bit test of the top bit',
  [jmp(32, 'jset', R1, 0x80000000, 0)],
  ['if w1 & 0x80000000 goto +0'],
  '46 01 00 00 00 00 00 80',
);
viaClang('ja forward', [ja(1)], ['goto +1']);
viaClang('ja backward', [ja(-1)], ['goto -1']);
viaClang('ja to the farthest forward offset', [ja(32767)], ['goto +32767']);
viaClang('ja to the farthest backward offset', [ja(-32768)], ['goto -32768']);
// clang 14 predates gotol; row 0x06: "goto +imm".
viaSpec('gotol forward', [gotol(100000)], ['gotol +100000'], '06 00 00 00 a0 86 01 00');
viaSpec('gotol backward', [gotol(-40000)], ['gotol -40000'], '06 00 00 00 c0 63 ff ff');
viaClang('exit', [exit()], ['exit']);

// --- 64-bit immediates ---
viaClang('ld_imm64 constant', ldImm64(R1, 0x0123456789abcdefn), ['r1 = 0x123456789abcdef ll']);
viaClang('ld_imm64 all ones', ldImm64(R2, -1n), ['r2 = 0xffffffffffffffff ll']);
viaClang('ld_imm64 small number', ldImm64(R0, 7), ['r0 = 0x7 ll']);
// A map load: src_reg BPF_PSEUDO_MAP_FD (row 0x18 src 0x1, "dst = map_by_fd(imm)"); clang leaves that to libbpf.
viaSpec(
  'ld_imm64 map fd',
  ldImm64(R3, 7, PSEUDO_MAP_FD),
  ['r3 = map[fd:7]'],
  '18 13 00 00 07 00 00 00 00 00 00 00 00 00 00 00',
);

// --- helper calls: one per helper in the table, compiled with the id taken from linux/bpf.h ---
const helperCases = (Object.entries(HELPER_IDS) as [string, number][]).map(([name, id]) => ({
  name,
  insn: call(id),
  text: `call bpf_${name}#${id}`,
}));

// --- atomics with fetch, from clang's code generation for __sync_fetch_and_* with the result used ---
const fetchCases = ATOMIC.flatMap(([op]) =>
  (['u64', 'u32'] as const).map((size) => ({
    op,
    size,
    c:
      `${size === 'u64' ? 'unsigned long long' : 'unsigned'} f(${size === 'u64' ? 'unsigned long long' : 'unsigned'} v)` +
      ` { return __sync_fetch_and_${op}(&g_${size}, v); }`,
  })),
);

function hex(bytes: Uint8Array): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join(' ');
}

function listing(bytes: Uint8Array): string {
  return disassembleEntries(bytes)
    .map((e) => e.text)
    .join('; ');
}

/** Compiles every clang case into its own section of one object and returns each section's bytes. */
function compileWithClang(): { sections: Map<string, Uint8Array> } {
  const build = bpfBuildDir('asm');
  try {
    const source: string[] = ['#include <linux/bpf.h>', 'unsigned long long g_u64;', 'unsigned g_u32;'];
    const names: string[] = [];
    const section = (n: string, fn: string): void => {
      names.push(n);
      source.push(`__attribute__((section("${n}"))) ${fn}`);
    };
    cases.forEach((c, i) => {
      if ('clang' in c.oracle) section(`nt_${i}`, `void f_${i}(void) { asm volatile("${c.oracle.clang}"); }`);
    });
    helperCases.forEach((h, i) => {
      section(`nt_h_${i}`, `void h_${i}(void) { asm volatile("call %[id]" :: [id] "i"(BPF_FUNC_${h.name})); }`);
    });
    fetchCases.forEach((f, i) => section(`nt_a_${i}`, f.c.replace(' f(', ` a_${i}(`)));
    const obj = build.compile('cases', source.join('\n') + '\n');
    const dumps = names.flatMap((n) => ['--dump-section', `${n}=${path.join(build.path, `${n}.bin`)}`]);
    const oc = spawnSync('llvm-objcopy', [...dumps, obj, path.join(build.path, 'out.o')], { encoding: 'utf8' });
    if (oc.status !== 0) throw new Error(`llvm-objcopy failed:\n${oc.stderr ?? oc.error?.message}`);
    return {
      sections: new Map(names.map((n) => [n, new Uint8Array(readFileSync(path.join(build.path, `${n}.bin`)))])),
    };
  } finally {
    build.cleanup();
  }
}

const EXIT = '95 00 00 00 00 00 00 00';
// Compiled on first use, so a broken toolchain fails the tests that need it instead of the whole file's import.
let compiledOnce: { sections: Map<string, Uint8Array> } | undefined;
const compiled = (): { sections: Map<string, Uint8Array> } => (compiledOnce ??= compileWithClang());

/** A function whose body is only inline asm compiles to that asm followed by `exit`: strip the exit. */
function asmBody(name: string): Uint8Array {
  const bytes = compiled().sections.get(name);
  assert.ok(bytes !== undefined, `section ${name} missing from clang's object`);
  assert.is(hex(bytes.subarray(bytes.length - 8)), EXIT, `section ${name} does not end in exit`);
  return bytes.subarray(0, bytes.length - 8);
}

cases.forEach((c, i) => {
  if ('clang' in c.oracle) {
    const asm = c.oracle.clang;
    test(`${c.name}: same bytes as clang for "${asm}"`, () => {
      const ours = encodeInsns(c.insns);
      const theirs = asmBody(`nt_${i}`);
      assert.is(hex(ours), hex(theirs), `ours: ${listing(ours)}\nclang: ${listing(theirs)}`);
    });
  } else {
    const spec = c.oracle.spec;
    test(`${c.name}: same bytes as the ISA opcode table`, () => {
      assert.is(hex(encodeInsns(c.insns)), spec);
    });
  }
  test(`${c.name}: disassembles as "${c.text.join('; ')}"`, () => {
    assert.equal(
      disassembleEntries(encodeInsns(c.insns)).map((e) => e.text),
      c.text,
    );
  });
});

helperCases.forEach((h, i) => {
  test(`call ${h.name}: id ${h.insn.imm} equals BPF_FUNC_${h.name} from linux/bpf.h`, () => {
    assert.is(hex(encodeInsns([h.insn])), hex(asmBody(`nt_h_${i}`)));
  });
  test(`call ${h.name}: disassembles as "${h.text}"`, () => {
    assert.equal(
      disassembleEntries(encodeInsns([h.insn])).map((e) => e.text),
      [h.text],
    );
  });
});

fetchCases.forEach((f, i) => {
  test(`atomic fetch_${f.op} ${f.size}: same bytes as clang's __sync_fetch_and_${f.op}`, () => {
    const bytes = compiled().sections.get(`nt_a_${i}`)!;
    const slot = decodeInsns(bytes).findIndex((s) => (s.code & 0xe7) === 0xc3); // BPF_STX | BPF_ATOMIC, any size
    assert.ok(slot >= 0, `no atomic instruction in clang's code: ${listing(bytes)}`);
    const theirs = bytes.subarray(slot * 8, slot * 8 + 8);
    const found = decodeInsns(theirs)[0]!;
    const ours = encodeInsns([
      atomic(f.op, f.size, regByIndex(found.dst), found.off, regByIndex(found.src) as WritableReg, true),
    ]);
    assert.is(hex(ours), hex(theirs), `ours: ${listing(ours)}\nclang: ${listing(theirs)}`);
  });
});

test.run();

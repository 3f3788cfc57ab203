// The disassembler: eBPF bytes back to a readable listing in the syntax of the kernel verifier, bpftool and
// llvm-objdump (`r1 = *(u32 *)(r9 + 12)`, `if r1 != 0x16 goto +3`, `call bpf_map_lookup_elem#1`), for debugging,
// `explain --kernel` and test failure messages.

import { helperName } from './helper-ids.js';
import {
  ALU_END,
  ALU_NEG,
  ALU_OP_CODE,
  ATOMIC_FETCH,
  ATOMIC_OP_CODE,
  CLASS,
  END_TO_BE,
  JMP_CALL,
  JMP_EXIT,
  JMP_JA,
  JMP_OP_CODE,
  LD_IMM64,
  MODE,
  PSEUDO_MAP_FD,
  SIZE_CODE,
  SRC_X,
  decodeInsns,
  type AluOp,
  type JmpOp,
  type MemSize,
  type RawInsn,
} from './insn.js';
import type { InsnComment, LabelPosition, MapRelocation } from './program.js';

/** What a listing can show besides the bytes; an `AssembledProgram` has exactly these fields. */
interface DisassemblyOptions {
  /** Names the maps of LD_IMM64 map loads (otherwise shown by fd). */
  readonly relocations?: readonly MapRelocation[];
  /** Printed on their own line before the instruction they name, and after the offset of jumps to them. */
  readonly labels?: readonly LabelPosition[];
  /** Printed as `; text` lines before their instruction. */
  readonly comments?: readonly InsnComment[];
}

/** One instruction of a listing. */
interface ListingEntry {
  /** Slot index of the instruction (what jump offsets and the verifier count). */
  readonly index: number;
  /** Slots it occupies: 2 for LD_IMM64, else 1. */
  readonly slots: 1 | 2;
  /** The instruction alone, e.g. `if r1 != 0x16 goto +3`. */
  readonly text: string;
  /** For jumps, the slot index jumped to. */
  readonly target?: number;
  /** Labels defined at this instruction. */
  readonly labels: readonly string[];
  readonly comments: readonly string[];
}

const ALU_SYMBOL = new Map<number, string>(
  (Object.entries(ALU_OP_CODE) as [AluOp, number][]).map(([op, code]) => [code, aluSymbol(op)]),
);
const JMP_SYMBOL = new Map<number, { symbol: string; signed: boolean }>(
  (Object.entries(JMP_OP_CODE) as [JmpOp, number][]).map(([op, code]) => [code, jmpSymbol(op)]),
);
const SIZE_NAME = new Map<number, MemSize>((Object.entries(SIZE_CODE) as [MemSize, number][]).map(([n, c]) => [c, n]));
const ATOMIC_NAME = new Map<number, { name: string; symbol: string }>(
  Object.entries(ATOMIC_OP_CODE).map(([name, code]) => [code, { name, symbol: aluSymbol(name as AluOp) }]),
);

function aluSymbol(op: AluOp): string {
  const symbols: Record<AluOp, string> = {
    add: '+=',
    sub: '-=',
    mul: '*=',
    div: '/=',
    or: '|=',
    and: '&=',
    lsh: '<<=',
    rsh: '>>=',
    mod: '%=',
    xor: '^=',
    mov: '=',
    arsh: 's>>=',
  };
  return symbols[op];
}

function jmpSymbol(op: JmpOp): { symbol: string; signed: boolean } {
  const symbols: Record<JmpOp, string> = {
    jeq: '==',
    jgt: '>',
    jge: '>=',
    jset: '&',
    jne: '!=',
    jsgt: 's>',
    jsge: 's>=',
    jlt: '<',
    jle: '<=',
    jslt: 's<',
    jsle: 's<=',
  };
  return { symbol: symbols[op], signed: op === 'jsgt' || op === 'jsge' || op === 'jslt' || op === 'jsle' };
}

function hex(n: number | bigint): string {
  return `0x${n.toString(16)}`;
}

/** Signed offsets as the verifier prints them: `+3`, `-2`, `+0`. */
function signedOffset(n: number): string {
  return n < 0 ? `${n}` : `+${n}`;
}

/** `(r9 + 12)`, `(r10 - 8)`. */
function address(base: number, off: number): string {
  return `(r${base} ${off < 0 ? '-' : '+'} ${Math.abs(off)})`;
}

/**
 * ALU immediates in decimal, except bit masks (and, or, xor) in hex: a 32-bit mask as its bit pattern, a 64-bit one
 * as the sign-extended value it really is (`r1 &= -0x100`).
 */
function aluImmediate(imm: number, width: 32 | 64, bitwise: boolean): string {
  if (!bitwise) return `${imm}`;
  if (imm >= 0) return hex(imm);
  return width === 32 ? hex(imm >>> 0) : `-${hex(-imm)}`;
}

/**
 * Jump immediates in hex, as the verifier prints them; a negative one in decimal (64-bit comparisons sign-extend
 * it), except in 32-bit unsigned comparisons, where its u32 bit pattern is what is compared.
 */
function jumpImmediate(imm: number, width: 32 | 64, signed: boolean): string {
  if (imm >= 0) return hex(imm);
  return width === 32 && !signed ? hex(imm >>> 0) : `${imm}`;
}

function unknown(insn: RawInsn): string {
  return `<unknown: code=${hex(insn.code)} dst=r${insn.dst} src=r${insn.src} off=${insn.off} imm=${insn.imm}>`;
}

function formatAlu(insn: RawInsn, width: 32 | 64): string {
  const r = width === 64 ? 'r' : 'w';
  const op = insn.code & 0xf0;
  // Non-zero off selects instructions this assembler never emits (signed div/mod, sign-extending mov).
  if (insn.off !== 0) return unknown(insn);
  if (op === ALU_NEG) return (insn.code & SRC_X) === 0 ? `${r}${insn.dst} = -${r}${insn.dst}` : unknown(insn);
  if (op === ALU_END) {
    if (width === 64 || ![16, 32, 64].includes(insn.imm)) return unknown(insn);
    return `r${insn.dst} = ${(insn.code & END_TO_BE) !== 0 ? 'be' : 'le'}${insn.imm} r${insn.dst}`;
  }
  const symbol = ALU_SYMBOL.get(op);
  if (symbol === undefined) return unknown(insn);
  if ((insn.code & SRC_X) !== 0) return `${r}${insn.dst} ${symbol} ${r}${insn.src}`;
  const bitwise = op === ALU_OP_CODE.and || op === ALU_OP_CODE.or || op === ALU_OP_CODE.xor;
  return `${r}${insn.dst} ${symbol} ${aluImmediate(insn.imm, width, bitwise)}`;
}

function formatJmp(insn: RawInsn, width: 32 | 64, targetNote: string): string {
  const op = insn.code & 0xf0;
  // ja, call and exit take no register operand; with the X bit they are other (newer) instructions.
  if ((op === JMP_JA || op === JMP_CALL || op === JMP_EXIT) && (insn.code & SRC_X) !== 0) return unknown(insn);
  if (op === JMP_JA) {
    return width === 64
      ? `goto ${signedOffset(insn.off)}${targetNote}`
      : `gotol ${signedOffset(insn.imm)}${targetNote}`;
  }
  if (width === 64 && op === JMP_EXIT) return 'exit';
  if (width === 64 && op === JMP_CALL) {
    if (insn.src === 0) {
      const name = helperName(insn.imm);
      return name === undefined ? `call helper#${insn.imm}` : `call bpf_${name}#${insn.imm}`;
    }
    if (insn.src === 1) return `call pc${signedOffset(insn.imm)}`;
    if (insn.src === 2) return `call kfunc#${insn.imm}`;
    return unknown(insn);
  }
  const jump = JMP_SYMBOL.get(op);
  if (jump === undefined) return unknown(insn);
  const r = width === 64 ? 'r' : 'w';
  const right = (insn.code & SRC_X) !== 0 ? `${r}${insn.src}` : jumpImmediate(insn.imm, width, jump.signed);
  return `if ${r}${insn.dst} ${jump.symbol} ${right} goto ${signedOffset(insn.off)}${targetNote}`;
}

function formatMemory(insn: RawInsn): string {
  const cls = insn.code & 0x07;
  const mode = insn.code & 0xe0;
  const size = SIZE_NAME.get(insn.code & 0x18);
  if (size === undefined) return unknown(insn);
  const at = `*(${size} *)${address(cls === CLASS.LDX ? insn.src : insn.dst, insn.off)}`;
  if (cls === CLASS.LDX && mode === MODE.MEM) return `r${insn.dst} = ${at}`;
  if (cls === CLASS.STX && mode === MODE.MEM) return `${at} = r${insn.src}`;
  if (cls === CLASS.ST && mode === MODE.MEM) return `${at} = ${insn.imm}`;
  if (cls === CLASS.STX && mode === MODE.ATOMIC && (size === 'u32' || size === 'u64')) {
    const atomic = ATOMIC_NAME.get(insn.imm & ~ATOMIC_FETCH);
    if (atomic === undefined) return unknown(insn);
    const r = size === 'u64' ? 'r' : 'w';
    if ((insn.imm & ATOMIC_FETCH) === 0) return `lock ${at} ${atomic.symbol} ${r}${insn.src}`;
    return `${r}${insn.src} = atomic_fetch_${atomic.name}((${size} *)${address(insn.dst, insn.off)}, ${r}${insn.src})`;
  }
  return unknown(insn);
}

function formatLdImm64(first: RawInsn, second: RawInsn | undefined, mapName: string | undefined): string {
  if (second === undefined) return `<truncated ld_imm64: r${first.dst}, second slot missing>`;
  if (second.code !== 0 || second.dst !== 0 || second.src !== 0 || second.off !== 0) {
    return `<bad ld_imm64: second slot ${unknown(second)}>`;
  }
  const value = (BigInt(second.imm >>> 0) << 32n) | BigInt(first.imm >>> 0);
  if (first.src === 0) return `r${first.dst} = ${hex(value)} ll`;
  if (first.src === PSEUDO_MAP_FD) {
    return mapName !== undefined ? `r${first.dst} = map[${mapName}]` : `r${first.dst} = map[fd:${first.imm}]`;
  }
  return `r${first.dst} = ld_imm64 pseudo#${first.src} ${hex(value)}`;
}

/** What formatting one instruction may need beyond its own slot. */
interface InsnContext {
  /** The slot after it: the upper half of an LD_IMM64. */
  readonly next?: RawInsn;
  /** The map an LD_IMM64 map load refers to, shown instead of its fd. */
  readonly mapName?: string;
  /** The label a jump lands on, shown after its offset. */
  readonly targetLabel?: string;
}

/** The text of one instruction, e.g. `if r1 != 0x16 goto +3 <rule_1_miss>`. */
function formatInsn(insn: RawInsn, context: InsnContext = {}): string {
  const cls = insn.code & 0x07;
  const targetNote = context.targetLabel === undefined ? '' : ` <${context.targetLabel}>`;
  switch (cls) {
    case CLASS.ALU64:
      return formatAlu(insn, 64);
    case CLASS.ALU:
      return formatAlu(insn, 32);
    case CLASS.JMP:
      return formatJmp(insn, 64, targetNote);
    case CLASS.JMP32:
      return formatJmp(insn, 32, targetNote);
    case CLASS.LD:
      return insn.code === LD_IMM64 ? formatLdImm64(insn, context.next, context.mapName) : unknown(insn);
    default:
      return formatMemory(insn);
  }
}

/** Where a jump or gotol lands, as a slot index; undefined for other instructions. */
function jumpTarget(insn: RawInsn, index: number): number | undefined {
  const cls = insn.code & 0x07;
  if (cls !== CLASS.JMP && cls !== CLASS.JMP32) return undefined;
  const op = insn.code & 0xf0;
  if (op === JMP_CALL || op === JMP_EXIT || (op === JMP_JA && (insn.code & SRC_X) !== 0)) return undefined;
  if (op === JMP_JA && cls === CLASS.JMP32) return index + 1 + insn.imm;
  return JMP_SYMBOL.has(op) || op === JMP_JA ? index + 1 + insn.off : undefined;
}

function grouped<T>(
  items: readonly T[] | undefined,
  key: (t: T) => number,
  value: (t: T) => string,
): Map<number, string[]> {
  const out = new Map<number, string[]>();
  for (const item of items ?? []) {
    const k = key(item);
    const list = out.get(k);
    if (list === undefined) out.set(k, [value(item)]);
    else list.push(value(item));
  }
  return out;
}

/** The instructions of `bytes`, decoded and formatted one by one. */
export function disassembleEntries(bytes: Uint8Array, options: DisassemblyOptions = {}): ListingEntry[] {
  const insns = decodeInsns(bytes);
  const labels = grouped(
    options.labels,
    (l) => l.insnIndex,
    (l) => l.name,
  );
  const comments = grouped(
    options.comments,
    (c) => c.insnIndex,
    (c) => c.text,
  );
  const maps = new Map((options.relocations ?? []).map((r) => [r.insnIndex, r.mapName]));
  const out: ListingEntry[] = [];
  for (let index = 0; index < insns.length;) {
    const insn = insns[index]!;
    const wide = insn.code === LD_IMM64;
    const target = jumpTarget(insn, index);
    const targetLabel = target === undefined ? undefined : labels.get(target)?.[0];
    const text = formatInsn(insn, { next: insns[index + 1], mapName: maps.get(index), targetLabel });
    out.push({
      index,
      slots: wide ? 2 : 1,
      text,
      ...(target === undefined ? {} : { target }),
      labels: labels.get(index) ?? [],
      comments: comments.get(index) ?? [],
    });
    index += wide ? 2 : 1;
  }
  return out;
}

/**
 * A readable listing of `bytes`: one line per instruction, `  12: if r1 != 0x16 goto +3 <rule_1_miss>`, with
 * label lines (`rule_1_miss:`) and comment lines (`; ...`) when the options carry them. Pass an
 * `AssembledProgram` as the options to get its labels, map names and comments.
 */
export function disassemble(bytes: Uint8Array, options: DisassemblyOptions = {}): string[] {
  const entries = disassembleEntries(bytes, options);
  const width = String(Math.max(0, bytes.length / 8 - 1)).length;
  const lines: string[] = [];
  for (const entry of entries) {
    for (const label of entry.labels) lines.push(`${label}:`);
    for (const comment of entry.comments) lines.push(`${' '.repeat(width)}  ; ${comment}`);
    lines.push(`${String(entry.index).padStart(width)}: ${entry.text}`);
  }
  // A label after the last instruction is legal (nothing may jump to it) and still worth showing.
  const end = bytes.length / 8;
  for (const label of options.labels ?? []) if (label.insnIndex >= end) lines.push(`${label.name}:`);
  return lines;
}

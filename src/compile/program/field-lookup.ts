// One matcher per field: read the packet's value from nt_state, look up its class (a DIR-16-8-8 table with bitmaps
// for IPv4 addresses, a hash searched by prefix length for IPv6, arrays for protocol, ports and ICMP) and then its
// record, and keep the record pointer on the stack for the scan.
// Registers: R1 the value, then its class and record id; R2 the key pointer or a flag test; R0 what a lookup found;
// R4 the deciding entry's word when the field's value alone decides (TERMINAL, classifier.ts).
// One emitted instruction per line, with its effect.
import type { ProgramBuilder } from '../../asm/index.js';
import { FP, R0, R1, R2, R3, R4 } from '../../asm/index.js';
import { PacketFlag, STATE_FIELDS } from '../../abi/notrack.js';
import { NO_VALUE_INDEX, TERMINAL, type ClassifierField } from './classifier.js';
import { STRIDE_BITMAP, STRIDE_GROUP } from './ipv4-stride.js';
import { FILTER_MUL, FILTER_SEED, type LengthNode } from './ipv6-lengths.js';
import { R_STATE, STACK_BEST, STACK_FILTER, STACK_INDEX, STACK_KEY } from './frame.js';

/** Looks up `map` with the key at fp+keyOffset; R0 = value pointer or 0. */
function emitLookup(p: ProgramBuilder, map: string, keyOffset: number): void {
  p.ldMap(R1, map); // R1 = the map
  p.mov64(R2, FP); // R2 = fp
  p.alu64('add', R2, keyOffset); // R2 = the key
  p.call('map_lookup_elem'); // R0 = the value, or 0
}

/** R1 (u32 record id) -> record pointer stored at fp+slot; a missing record goes to `fail`. */
function emitRecordLookup(p: ProgramBuilder, recordsMap: string, slot: number, fail: string): void {
  p.stx('u32', FP, STACK_INDEX, R1); // key = the record id
  emitLookup(p, recordsMap, STACK_INDEX);
  p.jmp('jeq', R0, 0, fail); // no such record
  p.stx('u64', FP, slot, R0); // keep the record pointer
}

/** Record id of a constant class (the all-entries or terminal record) -> fp+slot. */
export function emitConstantRecord(
  p: ProgramBuilder,
  recordsMap: string,
  record: number,
  slot: number,
  fail: string,
): void {
  p.mov32(R1, record); // R1 = the record id
  emitRecordLookup(p, recordsMap, slot, fail);
}

/** The entry table pointer -> fp+slot. */
export function emitEntryTable(p: ProgramBuilder, entriesMap: string, slot: number, fail: string): void {
  p.st('u32', FP, STACK_INDEX, 0); // key = 0
  emitLookup(p, entriesMap, STACK_INDEX);
  p.jmp('jeq', R0, 0, fail); // no table
  p.stx('u64', FP, slot, R0); // keep the table pointer
}

/**
 * The IPv4 DIR-16-8-8 lookup (ipv4-stride.ts): R1 = the slot value the address finds. The address stays on the
 * stack (fp+STACK_KEY) between levels; each level is one array-map element (a 256-slot group) and one load. With
 * `bitmapMap`, a third-octet slot may point to a bitmap group instead, and with `wideMap` a first-table slot to a
 * wide bitmap: one element of that map, whose bit for the address (fourth octet; last 16 bits) picks one of its
 * two values.
 */
function emitStrideLookup(
  p: ProgramBuilder,
  name: string,
  at: number,
  maps: { classMap: string; bitmapMap?: string; wideMap?: string },
  fail: string,
): void {
  const { classMap, bitmapMap, wideMap } = maps;
  const leaf = p.newLabel(`${name}_leaf`);
  const bitmap = p.newLabel(`${name}_bitmap`);
  const wide = p.newLabel(`${name}_wide`);
  p.ldx('u32', R1, R_STATE, at); // R1 = the address (first octet in the low byte)
  p.stx('u32', FP, STACK_KEY, R1); // kept for the next levels
  p.alu64('and', R1, 255); // R1 = first octet: the element of the first table
  p.stx('u32', FP, STACK_INDEX, R1); // key = it
  emitLookup(p, classMap, STACK_INDEX);
  p.jmp('jeq', R0, 0, fail); // (cannot miss: the first 256 elements exist)
  for (const shift of [8, 16, 24]) {
    p.ldx('u32', R1, FP, STACK_KEY); // R1 = the address
    p.alu64('rsh', R1, shift); // R1 = ... its octet at this level in the low byte
    p.alu64('and', R1, 255); // R1 = the octet: the slot in the group
    p.alu64('lsh', R1, 2); // R1 = the slot's byte offset
    p.alu64('add', R0, R1); // R0 = the slot
    p.ldx('u32', R1, R0, 0); // R1 = the slot's value
    if (shift === 24) break;
    p.mov64(R2, R1); // R2 = the value
    p.alu64('and', R2, STRIDE_GROUP); // R2 = does it point to a group?
    p.jmp('jeq', R2, 0, leaf); // no: a leaf
    const bits = shift === 8 ? wideMap : bitmapMap;
    if (bits !== undefined) {
      p.mov64(R2, R1); // R2 = the pointer
      p.alu64('and', R2, STRIDE_BITMAP); // R2 = to a wide bitmap (first table) or a bitmap group (third octet)?
      p.jmp('jne', R2, 0, shift === 8 ? wide : bitmap); // yes
    }
    p.alu64('and', R1, STRIDE_GROUP - 1); // R1 = the group's element
    p.stx('u32', FP, STACK_INDEX, R1); // key = it
    emitLookup(p, classMap, STACK_INDEX);
    p.jmp('jeq', R0, 0, fail); // no such group (cannot happen)
  }
  if (bitmapMap !== undefined) {
    p.ja(leaf);
    p.label(bitmap);
    emitBitmapElement(p, bitmapMap, fail);
    p.ldx('u32', R1, FP, STACK_KEY); // R1 = the address
    p.alu64('rsh', R1, 24); // R1 = the fourth octet: the bit
    emitBitmapValue(p);
  }
  if (wideMap !== undefined) {
    p.ja(leaf);
    p.label(wide);
    emitBitmapElement(p, wideMap, fail);
    p.ldx('u32', R1, FP, STACK_KEY); // R1 = the address
    p.mov64(R2, R1); // R2 = the address
    p.alu64('rsh', R2, 16); // R2 = ... the third octet in the low byte
    p.alu64('and', R2, 255); // R2 = the third octet
    p.alu64('lsh', R2, 8); // R2 = it, times 256
    p.alu64('rsh', R1, 24); // R1 = the fourth octet
    p.alu64('or', R1, R2); // R1 = the address in its /16: the bit
    emitBitmapValue(p);
  }
  p.label(leaf);
}

/**
 * The IPv6 lookup (ipv6-lengths.ts): R1 = the slot value the address finds. The search tree over prefix lengths is
 * emitted unrolled, one probe per node: the key (the length, the address masked to it) is written on the stack while
 * R3 hashes it for the miss filter; a clear filter bit is a miss without the hash lookup. A hit keeps the element's
 * value at fp+STACK_BEST and goes on to the longer lengths, a miss to the shorter ones.
 */
function emitLengthSearch(
  p: ProgramBuilder,
  name: string,
  at: number,
  table: { tree: readonly LengthNode[]; missValue: number; filterBits: number },
  maps: { classMap: string; filterMap: string },
  fail: string,
): void {
  const done = p.newLabel(`${name}_searched`);
  const nodeLabel = table.tree.map((node) => p.newLabel(`${name}_len${node.len}`));
  const go = (n: number): string => (n < 0 ? done : nodeLabel[n]!);
  p.st('u32', FP, STACK_BEST, table.missValue | 0); // best = the value of addresses under no prefix
  if (table.tree.length > 0) {
    p.st('u32', FP, STACK_INDEX, 0); // key = 0
    emitLookup(p, maps.filterMap, STACK_INDEX);
    p.jmp('jeq', R0, 0, fail); // no filter (cannot happen: an array of one)
    p.stx('u64', FP, STACK_FILTER, R0); // keep the filter pointer
  }
  // Depth first, the longer subtree right after its node, so that a hit falls through to it.
  const visit = (n: number): void => {
    if (n < 0) return;
    const node = table.tree[n]!;
    const probe = p.newLabel(`${name}_probe${node.len}`);
    p.label(nodeLabel[n]!);
    p.st('u32', FP, STACK_KEY, node.len); // key.prefixlen = this node's length
    p.mov32(R3, Math.imul(node.len, FILTER_SEED)); // R3 = the filter hash, seeded by the length
    for (let w = 0; w < 4; w++) {
      const bits = Math.max(0, Math.min(32, node.len - 32 * w));
      if (bits === 0) {
        p.st('u32', FP, STACK_KEY + 4 + 4 * w, 0); // key word w = 0: past the length
        continue;
      }
      p.ldx('u32', R1, R_STATE, at + 4 * w); // R1 = address word w (network order)
      if (bits < 32) {
        // The mask of the word's first `bits` bits, as the little-endian load sees network-order bytes.
        const m = Buffer.alloc(4);
        m.writeUInt32BE((0xffffffff << (32 - bits)) >>> 0);
        p.alu32('and', R1, m.readInt32LE(0)); // R1 = the word masked to the length
      }
      p.stx('u32', FP, STACK_KEY + 4 + 4 * w, R1); // key word w
      p.alu32('xor', R3, R1); // R3 ^= the word
      p.alu32('mul', R3, FILTER_MUL | 0); // R3 *= the multiplier
    }
    p.alu32('rsh', R3, 32 - table.filterBits); // R3 = the key's filter bit
    p.mov32(R2, R3); // R2 = the bit
    p.alu32('rsh', R2, 5); // R2 = its word
    p.alu32('lsh', R2, 2); // R2 = the word's byte offset
    p.ldx('u64', R1, FP, STACK_FILTER); // R1 = the filter
    p.alu64('add', R1, R2); // R1 = the word
    p.ldx('u32', R1, R1, 0); // R1 = the filter word
    p.alu32('and', R3, 31); // R3 = the bit in it
    p.alu32('rsh', R1, R3); // R1 = the bit, lowest
    p.alu32('and', R1, 1); // R1 = 0 (surely absent) or 1 (maybe present)
    p.jmp('jne', R1, 0, probe); // maybe present: look
    p.ja(go(node.shorter)); // absent: a miss
    p.label(probe);
    emitLookup(p, maps.classMap, STACK_KEY);
    p.jmp('jeq', R0, 0, go(node.shorter)); // miss: no prefix of this length or longer below it matches
    p.ldx('u32', R1, R0, 0); // R1 = the prefix's or marker's value
    p.stx('u32', FP, STACK_BEST, R1); // best = it
    if (node.longer < 0) p.ja(done); // hit at the longest length here: done
    visit(node.longer); // (else the longer subtree follows)
    visit(node.shorter);
  };
  if (table.tree.length > 0) visit(0); // (no prefix at all: every address finds the miss value)
  p.label(done);
  p.ldx('u32', R1, FP, STACK_BEST); // R1 = the longest match's value
}

/** R1 = a pointer with STRIDE_BITMAP -> R0 = that element of `map` (a bitmap group or a wide bitmap). */
function emitBitmapElement(p: ProgramBuilder, map: string, fail: string): void {
  p.alu64('and', R1, STRIDE_BITMAP - 1); // R1 = the element
  p.stx('u32', FP, STACK_INDEX, R1); // key = it
  emitLookup(p, map, STACK_INDEX);
  p.jmp('jeq', R0, 0, fail); // no such element (cannot happen)
}

/** R0 = a bitmap element (value 0, value 1, bits), R1 = the bit -> R1 = the value the bit picks. */
function emitBitmapValue(p: ProgramBuilder): void {
  p.mov64(R2, R1); // R2 = the bit
  p.alu64('rsh', R2, 5); // R2 = its word
  p.alu64('lsh', R2, 2); // R2 = the word's byte offset in bits[]
  p.alu64('add', R2, R0); // R2 = the word, less the 8 bytes of the two values
  p.ldx('u32', R2, R2, 8); // R2 = the bit word
  p.alu64('and', R1, 31); // R1 = the bit in it
  p.alu64('rsh', R2, R1); // R2 = the bit, lowest
  p.alu64('and', R2, 1); // R2 = 0 or 1: which value
  p.alu64('lsh', R2, 2); // R2 = its byte offset
  p.alu64('add', R0, R2); // R0 = the value
  p.ldx('u32', R1, R0, 0); // R1 = the slot value the address finds
}

/**
 * What the field's map gave, in R1: TERMINAL | entry word goes straight to the verdict with R4 = the entry word;
 * a record id becomes the record pointer at fp+slot.
 */
function emitFieldValue(
  p: ProgramBuilder,
  name: string,
  recordsMap: string,
  slot: number,
  fail: string,
  terminal: string,
): void {
  const decided = p.newLabel(`${name}_decides`);
  const done = p.newLabel(`${name}_record`);
  p.jmp32('jset', R1, TERMINAL | 0, decided); // this value alone decides the packet
  emitRecordLookup(p, recordsMap, slot, fail);
  p.ja(done);
  p.label(decided);
  p.mov32(R4, R1); // R4 = the value
  p.alu32('and', R4, ~TERMINAL); // R4 = the deciding entry's word
  p.ja(terminal); // to its verdict
  p.label(done);
}

/** The field's record pointer -> fp+slot, or the verdict (`terminal`, R4 = entry word) when its value decides. */
export function emitFieldLookup(
  p: ProgramBuilder,
  field: ClassifierField,
  maps: { classMap: string; bitmapMap?: string; wideMap?: string; filterMap?: string; recordsMap: string },
  slot: number,
  fail: string,
  terminal: string,
): void {
  const { classMap, recordsMap } = maps;
  p.comment(`field ${field.name}: value -> class -> record (or the verdict)`);
  const m = field.map;
  if (m.kind === 'stride') {
    const at = field.name === 'saddr' ? STATE_FIELDS.saddr.offset : STATE_FIELDS.daddr.offset;
    const bitmapMap = m.bitmapCount > 0 ? maps.bitmapMap : undefined;
    const wideMap = m.wideCount > 0 ? maps.wideMap : undefined;
    emitStrideLookup(p, field.name, at, { classMap, bitmapMap, wideMap }, fail);
  } else if (m.kind === 'lengths') {
    const at = field.name === 'saddr' ? STATE_FIELDS.saddr.offset : STATE_FIELDS.daddr.offset;
    if (maps.filterMap === undefined) throw new Error(`field ${field.name}: an IPv6 table needs its filter map`);
    emitLengthSearch(p, field.name, at, m, { classMap, filterMap: maps.filterMap }, fail);
  } else if (m.kind === 'lpm') {
    // The LPM key: prefix length = the whole address, then the address as on the wire (the state keeps it so).
    const at = field.name === 'saddr' ? STATE_FIELDS.saddr.offset : STATE_FIELDS.daddr.offset;
    const words = (m.keySize - 4) / 4;
    p.st('u32', FP, STACK_KEY, words * 32); // key.prefixlen = the whole address
    for (let w = 0; w < words; w++) {
      p.ldx('u32', R1, R_STATE, at + 4 * w); // R1 = address word w
      p.stx('u32', FP, STACK_KEY + 4 + 4 * w, R1); // key.addr word w
    }
    emitLookup(p, classMap, STACK_KEY);
    const found = p.newLabel(`${field.name}_found`);
    const done = p.newLabel(`${field.name}_class`);
    p.jmp('jne', R0, 0, found); // a class holds the address
    p.mov32(R1, m.missValue | 0); // else R1 = the value of addresses under no prefix
    p.ja(done);
    p.label(found);
    p.ldx('u32', R1, R0, 0); // R1 = the class's value
    p.label(done);
  } else {
    if (field.name === 'proto') {
      p.ldx('u8', R1, R_STATE, STATE_FIELDS.ipProto.offset); // R1 = the IP protocol
    } else {
      // Ports and ICMP: the value when the parser found one, else the "no value" index.
      const flag = field.name === 'icmp' ? PacketFlag.icmp : PacketFlag.ports;
      const at =
        field.name === 'icmp'
          ? STATE_FIELDS.icmpType.offset
          : field.name === 'sport'
            ? STATE_FIELDS.sport.offset
            : STATE_FIELDS.dport.offset;
      const absent = p.newLabel(`${field.name}_absent`);
      p.mov32(R1, NO_VALUE_INDEX); // R1 = "no value"
      p.ldx('u32', R2, R_STATE, STATE_FIELDS.flags.offset); // R2 = the parser's flags
      p.alu64('and', R2, flag); // R2 = did it find the field?
      p.jmp('jeq', R2, 0, absent); // no: keep "no value"
      p.ldx('u16', R1, R_STATE, at); // R1 = the port, or ICMP type and code
      p.label(absent);
    }
    p.stx('u32', FP, STACK_INDEX, R1); // key = the value
    emitLookup(p, classMap, STACK_INDEX);
    p.jmp('jeq', R0, 0, fail); // out of the array
    p.ldx('u32', R1, R0, 0); // R1 = the value's class
  }
  emitFieldValue(p, field.name, recordsMap, slot, fail, terminal);
}

// One matcher per field: read the packet's value from nt_state, look up its class (LPM trie for addresses, array
// for protocol, ports and ICMP) and then its record, and keep the record pointer on the stack for the scan.
import type { ProgramBuilder } from '../../asm/index.js';
import { FP, R0, R1, R2 } from '../../asm/index.js';
import { PacketFlag, STATE_FIELDS } from '../../abi/notrack.js';
import { NO_VALUE_INDEX, type ClassifierField } from './classifier.js';
import { R_STATE, STACK_INDEX, STACK_KEY } from './frame.js';

/** Looks up `map` with the key at fp+keyOffset; R0 = value pointer or 0. */
function emitLookup(p: ProgramBuilder, map: string, keyOffset: number): void {
  p.ldMap(R1, map).mov64(R2, FP).alu64('add', R2, keyOffset).call('map_lookup_elem');
}

/** R1 (u32 record id) -> record pointer stored at fp+slot; a missing record goes to `fail`. */
export function emitRecordLookup(p: ProgramBuilder, recordsMap: string, slot: number, fail: string): void {
  p.stx('u32', FP, STACK_INDEX, R1);
  emitLookup(p, recordsMap, STACK_INDEX);
  p.jmp('jeq', R0, 0, fail).stx('u64', FP, slot, R0);
}

/** Record id of a constant class (the all-entries or terminal record) -> fp+slot. */
export function emitConstantRecord(p: ProgramBuilder, recordsMap: string, record: number, slot: number, fail: string): void {
  p.mov32(R1, record);
  emitRecordLookup(p, recordsMap, slot, fail);
}

/** The entry table pointer -> fp+slot. */
export function emitEntryTable(p: ProgramBuilder, entriesMap: string, slot: number, fail: string): void {
  p.st('u32', FP, STACK_INDEX, 0);
  emitLookup(p, entriesMap, STACK_INDEX);
  p.jmp('jeq', R0, 0, fail).stx('u64', FP, slot, R0);
}

/** The field's record pointer -> fp+slot. */
export function emitFieldLookup(
  p: ProgramBuilder,
  field: ClassifierField,
  classMap: string,
  recordsMap: string,
  slot: number,
  fail: string,
): void {
  p.comment(`field ${field.name}: value -> class -> record`);
  const t = field.table;
  if (t.kind === 'address') {
    // The LPM key: prefix length = the full address, then the address as on the wire (the state keeps it so).
    const at = field.name === 'saddr' ? STATE_FIELDS.saddr.offset : STATE_FIELDS.daddr.offset;
    const words = (t.keySize - 4) / 4;
    p.st('u32', FP, STACK_KEY, words * 32);
    for (let w = 0; w < words; w++) p.ldx('u32', R1, R_STATE, at + 4 * w).stx('u32', FP, STACK_KEY + 4 + 4 * w, R1);
    emitLookup(p, classMap, STACK_KEY);
    const found = p.newLabel(`${field.name}_found`);
    const done = p.newLabel(`${field.name}_class`);
    p.jmp('jne', R0, 0, found).mov32(R1, t.defaultRecord).ja(done);
    p.label(found).ldx('u32', R1, R0, 0);
    p.label(done);
    emitRecordLookup(p, recordsMap, slot, fail);
    return;
  }
  if (field.name === 'proto') {
    p.ldx('u8', R1, R_STATE, STATE_FIELDS.ipProto.offset);
  } else {
    // Ports and ICMP: the value when the parser found one, else the "no value" index.
    const flag = field.name === 'icmp' ? PacketFlag.icmp : PacketFlag.ports;
    const at = field.name === 'icmp' ? STATE_FIELDS.icmpType.offset : field.name === 'sport' ? STATE_FIELDS.sport.offset : STATE_FIELDS.dport.offset;
    const absent = p.newLabel(`${field.name}_absent`);
    p.mov32(R1, NO_VALUE_INDEX).ldx('u32', R2, R_STATE, STATE_FIELDS.flags.offset).alu64('and', R2, flag).jmp('jeq', R2, 0, absent);
    p.ldx('u16', R1, R_STATE, at);
    p.label(absent);
  }
  p.stx('u32', FP, STACK_INDEX, R1);
  emitLookup(p, classMap, STACK_INDEX);
  p.jmp('jeq', R0, 0, fail).ldx('u32', R1, R0, 0);
  emitRecordLookup(p, recordsMap, slot, fail);
}

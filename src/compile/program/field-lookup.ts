// One matcher per field: read the packet's value from nt_state, look up its class (LPM trie for addresses, array
// for protocol, ports and ICMP) and then its record, and keep the record pointer on the stack for the scan.
// Registers: R1 the value, then its class and record id; R2 the key pointer or a flag test; R0 what a lookup found.
// One emitted instruction per line, with its effect.
import type { ProgramBuilder } from '../../asm/index.js';
import { FP, R0, R1, R2 } from '../../asm/index.js';
import { PacketFlag, STATE_FIELDS } from '../../abi/notrack.js';
import { NO_VALUE_INDEX, type ClassifierField } from './classifier.js';
import { R_STATE, STACK_INDEX, STACK_KEY } from './frame.js';

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
    p.st('u32', FP, STACK_KEY, words * 32); // key.prefixlen = the whole address
    for (let w = 0; w < words; w++) {
      p.ldx('u32', R1, R_STATE, at + 4 * w); // R1 = address word w
      p.stx('u32', FP, STACK_KEY + 4 + 4 * w, R1); // key.addr word w
    }
    emitLookup(p, classMap, STACK_KEY);
    const found = p.newLabel(`${field.name}_found`);
    const done = p.newLabel(`${field.name}_class`);
    p.jmp('jne', R0, 0, found); // a class holds the address
    p.mov32(R1, t.defaultRecord); // else R1 = the default record
    p.ja(done);
    p.label(found);
    p.ldx('u32', R1, R0, 0); // R1 = the class's record
    p.label(done);
    emitRecordLookup(p, recordsMap, slot, fail);
    return;
  }
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
  p.ldx('u32', R1, R0, 0); // R1 = the value's record
  emitRecordLookup(p, recordsMap, slot, fail);
}

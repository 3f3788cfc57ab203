// The classifier tables of one interface and family: the contents of every map the policy program reads.
//
// Entries get bit positions (entry-placement.ts: grouped by the fields they constrain, in evaluation order within a
// group). Each field some entry constrains becomes a table from the packet's value to a record id (address fields:
// IPv4 a DIR-16-8-8 table, IPv6 a hash table searched by prefix length; protocol, ports, ICMP: arrays); a record
// holds the bit vector of the entries that accept that value, with its summary. Fields no entry constrains are left out, and the program does not look them up. The entry
// table maps a bit back to what the entry does.
import type { IpFamily } from '../../net/cidr.js';
import type { DesiredState, IngressEntry, InterfaceState, PortRange, SideMatch } from '../desired-state.js';
import { noPrefixes, type PackedPrefixes } from '../packed-prefixes.js';
import { packedMembers } from '../prefix-set.js';
import { buildAddressTable, type AddressConstraint, type AddressTable } from './address-classes.js';
import { placeEntries, type EntryPlacement } from './entry-placement.js';
import { entryWord } from './entry-word.js';
import { buildStrideTable, type StrideTable } from './ipv4-stride.js';
import { buildLengthTable, type LengthTable } from './ipv6-lengths.js';
import { PolicyProgramError } from './limits.js';
import { newVector, RecordTable, setBit, vectorShape, type VectorShape } from './records.js';
import {
  buildIcmpTable,
  buildScalarTable,
  icmpRange,
  type ScalarConstraint,
  type ScalarTable,
} from './scalar-classes.js';

/**
 * The fields a policy can match. FIELD_ORDER numbers them (constrained-field signatures) and breaks ties in the
 * lookup order, which puts first the fields whose lookup alone decides the most classes (see TERMINAL).
 */
export type FieldName = 'proto' | 'dport' | 'sport' | 'icmp' | 'daddr' | 'saddr';
const FIELD_ORDER: readonly FieldName[] = ['proto', 'dport', 'sport', 'icmp', 'daddr', 'saddr'];

/**
 * A class-map value with this bit set is not a record id but the entry word (entry-word.ts) of the entry that
 * decides every packet whose field value is in that class: the first entry (in evaluation order) accepting the
 * class is a deciding entry that constrains no other field, so no earlier entry can match (they all refuse the
 * value) and it cannot fail. The program then goes to the verdict at once: no other field, record or scan.
 * This is what makes a flood from 10,000 deny-listed nets cost one table read instead of a bit-vector record each.
 */
export const TERMINAL = 0x8000_0000;

/**
 * The array index of packets without the field: ports without NT_PKT_F_PORTS, ICMP without NT_PKT_F_ICMP.
 * Port and ICMP arrays have 65537 entries.
 */
export const NO_VALUE_INDEX = 65536;

export { entryWord, ENTRY_COUNTER_MASK, ENTRY_SLOT_SHIFT, ENTRY_LOG } from './entry-word.js';

type FieldTable = AddressTable | ScalarTable;

/**
 * What a field's map holds: record ids, or TERMINAL | entry word. Scalar fields: an array by value. IPv4 addresses:
 * the DIR-16-8-8 table (ipv4-stride.ts). IPv6 addresses: the per-length hash table (ipv6-lengths.ts), or with
 * `ipv6Table: 'lpm'` the kernel LPM trie's entries with the value for a miss (what the benchmark compares against).
 */
export type FieldMap =
  | { readonly kind: 'array'; readonly values: Uint32Array }
  | StrideTable
  | LengthTable
  | {
      readonly kind: 'lpm';
      readonly keySize: number;
      readonly keys: Buffer;
      readonly values: Uint32Array;
      readonly count: number;
      readonly missValue: number;
    };

export interface ClassifierField {
  readonly name: FieldName;
  /** The classes, as record ids (for listings and tests). */
  readonly table: FieldTable;
  /** What the program's map for the field holds. */
  readonly map: FieldMap;
  /** Distinct classes this field's lookup decides alone (TERMINAL values). */
  readonly terminalClasses: number;
}

/** Everything the policy program of one interface needs for one family. */
export interface Classifier {
  readonly family: IpFamily;
  readonly interface: string;
  /** Vector widths; `shape.entries` counts bit positions, padding between groups included. */
  readonly shape: VectorShape;
  /** Entries (rules and rule pieces) of this family. */
  readonly entryCount: number;
  /** Bit positions, groups and the per-bit entry table (entry-placement.ts). */
  readonly placement: EntryPlacement;
  /** True when some entry is a Log entry (the program then carries the Log code). */
  readonly hasLog: boolean;
  readonly records: { readonly count: number; readonly bytes: Buffer };
  /** Every entry: the vector used when no field is constrained. */
  readonly allRecord: number;
  /** The constrained fields, in FIELD_ORDER. */
  readonly fields: readonly ClassifierField[];
}

/** The interface's own state, else the host's `*` endpoint's (as the reference evaluator picks it). */
function findInterface(state: DesiredState, iface: string | InterfaceState): InterfaceState {
  if (typeof iface !== 'string') return iface;
  const found = state.interfaces.find((i) => i.name === iface) ?? state.interfaces.find((i) => i.name === '*');
  if (!found) throw new PolicyProgramError('policy-program-bad-input', `the desired state has no interface ${iface}`);
  return found;
}

function checkRanges(what: string, ranges: readonly PortRange[], max: number): void {
  for (const r of ranges) {
    if (!Number.isInteger(r.from) || !Number.isInteger(r.to) || r.from < 0 || r.to > max || r.from > r.to) {
      throw new PolicyProgramError(
        'policy-program-bad-input',
        `${what} range ${r.from}-${r.to} is not within 0..${max}`,
      );
    }
  }
}

function portConstraint(side: SideMatch, what: string): ScalarConstraint | null {
  if (side.ports.length === 0 && side.notPorts.length === 0) return null;
  checkRanges(what, side.ports, 65535);
  checkRanges(what, side.notPorts, 65535);
  return { pos: side.ports.length > 0 ? side.ports : null, neg: side.notPorts };
}

function protoConstraint(e: IngressEntry): ScalarConstraint | null {
  if (e.protocol === null && e.notProtocol === null) return null;
  const one = (p: number) => {
    if (!Number.isInteger(p) || p < 0 || p > 255)
      throw new PolicyProgramError('policy-program-bad-input', `protocol ${p} is not 0..255`);
    return [{ from: p, to: p }];
  };
  return { pos: e.protocol === null ? null : one(e.protocol), neg: e.notProtocol === null ? [] : one(e.notProtocol) };
}

function icmpConstraint(e: IngressEntry): ScalarConstraint | null {
  if (e.icmp === null && e.notICMP === null) return null;
  return { pos: e.icmp === null ? null : [icmpRange(e.icmp)], neg: e.notICMP === null ? [] : [icmpRange(e.notICMP)] };
}

/** The sets one side uses, indexed in first-use order, and each bit's constraint in those indexes. */
function addressSide(
  state: DesiredState,
  family: IpFamily,
  perBit: <T>(f: (e: IngressEntry) => T) => (T | undefined)[],
  side: 'source' | 'destination',
): {
  sets: { id: string; members: PackedPrefixes }[];
  constraints: (AddressConstraint | null | undefined)[];
} | null {
  const index = new Map<string, number>();
  const sets: { id: string; members: PackedPrefixes }[] = [];
  const indexOf = (id: string): number => {
    let i = index.get(id);
    if (i === undefined) {
      const set = state.sets[id];
      if (!set)
        throw new PolicyProgramError(
          'policy-program-bad-input',
          `an entry refers to set ${id}, which the desired state does not hold`,
        );
      i = sets.length;
      index.set(id, i);
      // A set of the other family holds no address of this one: it is an empty set here.
      sets.push({ id, members: set.family === family ? packedMembers(set) : noPrefixes(family) });
    }
    return i;
  };
  const constraints = perBit((e) => {
    const m = e[side];
    if (m.inSets.length === 0 && m.notInSets.length === 0) return null;
    return { inSets: m.inSets.map(indexOf), notInSets: m.notInSets.map(indexOf) };
  });
  return constraints.some((c) => c) ? { sets, constraints } : null;
}

/** Which fields an entry constrains: bit i for FIELD_ORDER[i]. */
function constrainedFields(e: IngressEntry): number {
  const used: Record<FieldName, boolean> = {
    proto: e.protocol !== null || e.notProtocol !== null,
    dport: e.destination.ports.length > 0 || e.destination.notPorts.length > 0,
    sport: e.source.ports.length > 0 || e.source.notPorts.length > 0,
    icmp: e.icmp !== null || e.notICMP !== null,
    daddr: e.destination.inSets.length > 0 || e.destination.notInSets.length > 0,
    saddr: e.source.inSets.length > 0 || e.source.notInSets.length > 0,
  };
  return FIELD_ORDER.reduce((sig, name, i) => (used[name] ? sig | (1 << i) : sig), 0);
}

export interface ClassifierOptions {
  /** Smallest group of entries kept apart in the placement (tests use small ones to get many groups). */
  minGroupEntries?: number;
  /** The IPv6 address structure: the per-length hash (default) or the kernel's LPM trie (the benchmark's before). */
  ipv6Table?: 'lengths' | 'lpm';
}

/** Builds the tables of one interface's ingress entries of one family. */
export function buildClassifier(
  state: DesiredState,
  iface: string | InterfaceState,
  family: IpFamily,
  options: ClassifierOptions = {},
): Classifier {
  const ifc = findInterface(state, iface);
  const list = family === 4 ? ifc.ingress.v4 : ifc.ingress.v6;
  const placement = placeEntries(list, constrainedFields, options.minGroupEntries);
  const shape = vectorShape(placement.bits);
  const records = new RecordTable(shape);
  /** A per-bit array of what `f` says of the entry at each bit; undefined at padding bits. */
  const perBit = <T>(f: (e: IngressEntry) => T): (T | undefined)[] =>
    Array.from(placement.entryAt, (i) => (i < 0 ? undefined : f(list[i]!)));

  const all = newVector(shape);
  placement.bitOf.forEach((b) => setBit(all, b));
  const allRecord = records.intern(all);

  const tables: { name: FieldName; table: FieldTable }[] = [];
  for (const name of FIELD_ORDER) {
    let table: FieldTable | null = null;
    if (name === 'proto') {
      const constraints = perBit(protoConstraint);
      if (constraints.some((c) => c)) table = buildScalarTable({ domain: 256, none: false, constraints, records });
    } else if (name === 'sport' || name === 'dport') {
      const side = name === 'sport' ? 'source' : 'destination';
      const constraints = perBit((e) => portConstraint(e[side], `${side} port`));
      if (constraints.some((c) => c)) table = buildScalarTable({ domain: 65536, none: true, constraints, records });
    } else if (name === 'icmp') {
      const constraints = perBit(icmpConstraint);
      if (constraints.some((c) => c)) table = buildIcmpTable(constraints, records);
    } else {
      const side = addressSide(state, family, perBit, name === 'saddr' ? 'source' : 'destination');
      if (side) table = buildAddressTable({ family, sets: side.sets, constraints: side.constraints, records });
    }
    if (table) tables.push({ name, table });
  }

  const decides = terminalValues(list, placement, records, shape);
  const fields = tables.map(({ name, table }): ClassifierField => {
    const own = 1 << FIELD_ORDER.indexOf(name);
    let terminalCount = 0;
    // Record id -> what this field's map holds for it, by record id (an address table has a value per prefix: a
    // million lookups for a 1M-prefix set).
    const cache = new Uint32Array(records.count);
    const cached = new Uint8Array(records.count);
    const valueOf = (record: number): number => {
      if (cached[record]) return cache[record]!;
      const v = decides(record, own);
      cache[record] = v;
      cached[record] = 1;
      if (v !== record) terminalCount++;
      return v;
    };
    let map: FieldMap;
    if (table.kind === 'scalar') {
      map = { kind: 'array', values: mapRecords(table.values, valueOf) };
    } else {
      const missValue = valueOf(table.defaultRecord);
      map =
        family === 4
          ? buildStrideTable({
              keys: table.keys,
              values: table.values,
              valueTable: recordValues(table.values, records.count, valueOf),
              count: table.count,
              defaultValue: missValue,
            })
          : options.ipv6Table === 'lpm'
            ? {
                kind: 'lpm',
                keySize: table.keySize,
                keys: table.keys,
                values: mapRecords(table.values, valueOf),
                count: table.count,
                missValue,
              }
            : buildLengthTable({
                keys: table.keys,
                values: mapRecords(table.values, valueOf),
                count: table.count,
                missValue,
              });
    }
    return { name, table, map, terminalClasses: terminalCount };
  });
  // The fields that decide the most classes alone go first: their lookup can end the search.
  fields.sort(
    (a, b) => b.terminalClasses - a.terminalClasses || FIELD_ORDER.indexOf(a.name) - FIELD_ORDER.indexOf(b.name),
  );

  return {
    family,
    interface: ifc.name,
    shape,
    entryCount: list.length,
    placement,
    hasLog: list.some((e) => e.action === 'Log'),
    records: { count: records.count, bytes: records.bytes() },
    allRecord,
    fields,
  };
}

/**
 * `valueOf` of each record id, asked once per run of equal ids: a 1M-prefix set is a million ids, nearly all one
 * record, and a call per element (typed-array `map`) was 60 ms of a cold compile.
 */
function mapRecords(records: Uint32Array, valueOf: (record: number) => number): Uint32Array {
  const out = new Uint32Array(records.length);
  let last = -1;
  let value = 0;
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!;
    if (r !== last) {
      value = valueOf(r);
      last = r;
    }
    out[i] = value;
  }
  return out;
}

/** `valueOf` of every record id among `records`, by record id (asked once per run of equal ids, as mapRecords). */
function recordValues(records: Uint32Array, count: number, valueOf: (record: number) => number): Uint32Array {
  const out = new Uint32Array(count);
  let last = -1;
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!;
    if (r !== last) {
      out[r] = valueOf(r);
      last = r;
    }
  }
  return out;
}

/**
 * For a record id and a field (its signature bit), the value the field's map holds: TERMINAL | the entry word of
 * the record's first entry when that entry decides and constrains no other field, else the record id itself.
 * A record's first entry is found once (a scan of its words) and cached.
 */
function terminalValues(
  list: readonly IngressEntry[],
  placement: EntryPlacement,
  records: RecordTable,
  shape: VectorShape,
): (record: number, own: number) => number {
  const bytes = records.bytes();
  const words = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
  const firstOf = new Map<number, number>();
  const first = (record: number): number => {
    let e = firstOf.get(record);
    if (e !== undefined) return e;
    e = -1;
    const base = (record * shape.recordBytes) / 4 + shape.summaryWords * 2;
    for (let w = 0; w < shape.words * 2; w++) {
      let v = words[base + w]!;
      while (v !== 0) {
        const bit = 31 - Math.clz32(v & -v);
        v &= v - 1;
        const idx = placement.entryAt[w * 32 + bit]!;
        if (idx >= 0 && (e < 0 || idx < e)) e = idx;
      }
    }
    firstOf.set(record, e);
    return e;
  };
  return (record, own) => {
    const e = first(record);
    if (e < 0) return record;
    const entry = list[e]!;
    if (entry.action === 'Log' || (constrainedFields(entry) & ~own) !== 0) return record;
    return (TERMINAL | entryWord(entry)) >>> 0;
  };
}

/** The entries (original indexes, in evaluation order) whose bits are set in a record: for tests and listings. */
export function entriesOfRecord(c: Classifier, record: number): number[] {
  const { recordBytes, summaryWords, words } = c.shape;
  const base = record * recordBytes + summaryWords * 8;
  const out: number[] = [];
  for (let byte = 0; byte < words * 8; byte++) {
    const v = c.records.bytes[base + byte]!;
    for (let b = 0; b < 8; b++) if (v & (1 << b)) out.push(c.placement.entryAt[byte * 8 + b]!);
  }
  return out.sort((a, b) => a - b);
}

/** A record's summary: which vector words (by index) hold a set bit. */
export function summaryOfRecord(c: Classifier, record: number): number[] {
  const { recordBytes, summaryWords } = c.shape;
  const base = record * recordBytes;
  const out: number[] = [];
  for (let byte = 0; byte < summaryWords * 8; byte++) {
    const v = c.records.bytes[base + byte]!;
    for (let b = 0; b < 8; b++) if (v & (1 << b)) out.push(byte * 8 + b);
  }
  return out;
}

// The classifier tables of one interface and family: the contents of every map the policy program reads.
//
// Entries get bit positions (entry-placement.ts: grouped by the fields they constrain, in evaluation order within a
// group). Each field some entry constrains becomes a table from the packet's value to a record id (address fields:
// an LPM trie; protocol, ports, ICMP: arrays); a record holds the bit vector of the entries that accept that value,
// with its summary. Fields no entry constrains are left out, and the program does not look them up. The entry
// table maps a bit back to what the entry does.
import type { IpFamily } from '../../net/cidr.js';
import type { DesiredState, IngressEntry, InterfaceState, PortRange, SideMatch } from '../desired-state.js';
import { buildAddressTable, type AddressConstraint, type AddressTable } from './address-classes.js';
import { placeEntries, type EntryPlacement } from './entry-placement.js';
import { PolicyProgramError } from './limits.js';
import { newVector, RecordTable, setBit, vectorShape, type VectorShape } from './records.js';
import {
  buildIcmpTable,
  buildScalarTable,
  icmpRange,
  type ScalarConstraint,
  type ScalarTable,
} from './scalar-classes.js';

/** The fields a policy can match, in the order the program looks them up. */
export type FieldName = 'proto' | 'dport' | 'sport' | 'icmp' | 'daddr' | 'saddr';
const FIELD_ORDER: readonly FieldName[] = ['proto', 'dport', 'sport', 'icmp', 'daddr', 'saddr'];

/**
 * The array index of packets without the field: ports without NT_PKT_F_PORTS, ICMP without NT_PKT_F_ICMP.
 * Port and ICMP arrays have 65537 entries.
 */
export const NO_VALUE_INDEX = 65536;

export { entryWord, ENTRY_COUNTER_MASK, ENTRY_SLOT_SHIFT, ENTRY_LOG } from './entry-word.js';

type FieldTable = AddressTable | ScalarTable;

export interface ClassifierField {
  readonly name: FieldName;
  readonly table: FieldTable;
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
  sets: { id: string; prefixes: readonly string[] }[];
  constraints: (AddressConstraint | null | undefined)[];
} | null {
  const index = new Map<string, number>();
  const sets: { id: string; prefixes: readonly string[] }[] = [];
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
      sets.push({ id, prefixes: set.family === family ? set.prefixes : [] });
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

  const fields: ClassifierField[] = [];
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
    if (table) fields.push({ name, table });
  }

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

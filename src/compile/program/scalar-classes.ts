// The classes of a scalar field (protocol, a port, ICMP type and code): an array from field value to record id.
//
// One sweep over the sorted range boundaries of every entry that constrains the field: between two boundaries no
// entry can tell values apart, so each elementary interval gets the record of the entries accepting it. An entry
// accepts a value when it lies in one of its ranges (or it has none) and in none of its excluded ranges. The
// optional "none" index (one past the domain) is for packets without the field (no ports: a later fragment, a
// portless protocol; no ICMP header): only entries that do not constrain the field accept it.
import { PolicyProgramError } from './limits.js';
import { newVector, putBit, setBit, type RecordTable } from './records.js';

/** An inclusive range of field values. */
interface ValueRange {
  from: number;
  to: number;
}

/** What one entry asks of the field. */
export interface ScalarConstraint {
  /** Accepted ranges; null accepts every value (of packets that have the field). */
  pos: readonly ValueRange[] | null;
  /** Excluded ranges. */
  neg: readonly ValueRange[];
}

/** The array map of a scalar field: value -> record id. */
export interface ScalarTable {
  readonly kind: 'scalar';
  /** Record id per array index (the index is the field value as the program reads it; see classifier.ts). */
  readonly values: Uint32Array;
  /** Elementary intervals of the sweep (before records with equal vectors were merged). */
  readonly intervals: number;
}

interface ScalarClassInput {
  /** Values 0 .. domain-1. */
  domain: number;
  /** Add index `domain` for packets that do not have the field. */
  none: boolean;
  /** Per bit position; null for an entry that does not constrain this field, undefined for a padding bit. */
  constraints: readonly (ScalarConstraint | null | undefined)[];
  records: RecordTable;
}

/** Record id per value in sweep order (0 .. domain-1, then the none index when asked). */
function sweepScalar(input: ScalarClassInput): { values: Uint32Array; intervals: number } {
  const { domain, none, constraints, records } = input;
  const values = new Uint32Array(domain + (none ? 1 : 0));
  const current = newVector(records.shape);
  const unconstrained = newVector(records.shape);

  // Events as parallel arrays: at value x, entry e, kind 0 pos+1, 1 pos-1, 2 neg+1, 3 neg-1.
  const xs: number[] = [],
    es: number[] = [],
    ks: number[] = [];
  const posCount = new Int32Array(constraints.length);
  const negCount = new Int32Array(constraints.length);
  const hasPos = new Uint8Array(constraints.length);
  const event = (x: number, e: number, k: number): void => {
    if (x < domain) {
      xs.push(x);
      es.push(e);
      ks.push(k);
    }
  };
  constraints.forEach((c, e) => {
    if (c === undefined) return;
    if (c === null) {
      setBit(unconstrained, e);
      setBit(current, e);
      return;
    }
    if (c.pos !== null) {
      hasPos[e] = 1;
      for (const r of c.pos) {
        event(clamp(r.from, domain), e, 0);
        event(clamp(r.to, domain) + 1, e, 1);
      }
    }
    for (const r of c.neg) {
      event(clamp(r.from, domain), e, 2);
      event(clamp(r.to, domain) + 1, e, 3);
    }
    // Before any event: accepted only without a positive list.
    if (c.pos === null) setBit(current, e);
  });
  const order = xs.map((_, i) => i).sort((a, b) => xs[a]! - xs[b]!);

  let intervals = 0;
  let at = 0;
  let next = 0;
  while (at < domain) {
    // Apply every event at `at`.
    while (next < order.length && xs[order[next]!] === at) {
      const i = order[next]!;
      const e = es[i]!;
      const k = ks[i]!;
      if (k === 0) posCount[e]!++;
      else if (k === 1) posCount[e]!--;
      else if (k === 2) negCount[e]!++;
      else negCount[e]!--;
      putBit(current, e, (hasPos[e] === 0 || posCount[e]! > 0) && negCount[e] === 0);
      next++;
    }
    const end = next < order.length ? xs[order[next]!]! : domain;
    values.fill(records.intern(current), at, end);
    intervals++;
    at = end;
  }
  if (none) values[domain] = records.intern(unconstrained);
  return { values, intervals };
}

function clamp(v: number, domain: number): number {
  return Math.max(0, Math.min(domain - 1, Math.trunc(v)));
}

/** A scalar field's table whose array index is the value itself (protocol, ports). */
export function buildScalarTable(input: ScalarClassInput): ScalarTable {
  const { values, intervals } = sweepScalar(input);
  return { kind: 'scalar', values, intervals };
}

/**
 * The ICMP table. The sweep runs over type << 8 | code, where "type T, any code" is one interval; the program
 * reads the two bytes as one u16, code << 8 | type, so the result is re-indexed to that order.
 */
export function buildIcmpTable(
  constraints: readonly (ScalarConstraint | null | undefined)[],
  records: RecordTable,
): ScalarTable {
  const { values: byType, intervals } = sweepScalar({ domain: 65536, none: true, constraints, records });
  const values = new Uint32Array(65537);
  for (let t = 0; t < 256; t++) for (let c = 0; c < 256; c++) values[(c << 8) | t] = byType[(t << 8) | c]!;
  values[65536] = byType[65536]!;
  return { kind: 'scalar', values, intervals };
}

/** The sweep range of an ICMP match: one type and code, one type with any code, or any ICMP message. */
export function icmpRange(m: { type?: number; code?: number }): ValueRange {
  if (m.type === undefined && m.code !== undefined) {
    throw new PolicyProgramError('policy-program-bad-input', `an ICMP match with a code (${m.code}) needs a type`);
  }
  if (m.type === undefined) return { from: 0, to: 65535 };
  if (m.code === undefined) return { from: m.type << 8, to: (m.type << 8) | 255 };
  return { from: (m.type << 8) | m.code, to: (m.type << 8) | m.code };
}

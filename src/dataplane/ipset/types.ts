// The typed shapes of notrack's ipsets: desired sets, what `ipset` shows, and how they differ.
import type { Family } from './members.js';

export type { Family };

/** One hash:net set notrack wants: its name (`notrack-...`), family and members (addresses or CIDRs). */
export interface IpsetDesired {
  name: string;
  family: Family;
  members: string[];
}

/** One set as the kernel holds it. */
export interface IpsetActualSet {
  name: string;
  /** e.g. `hash:net`. */
  type: string;
  family: Family | undefined;
  hashsize: number | undefined;
  maxelem: number | undefined;
  /** How many kernel objects (iptables rules) use the set; a set in use cannot be destroyed. */
  references: number;
  /** How many members the kernel says the set has (`Number of entries`; absent from an old ipset's output). */
  entries?: number;
  /** Members as `ipset save` prints them (hosts without /32 or /128, flags such as `nomatch` kept). */
  members: string[];
}

export interface IpsetActual {
  /** notrack's sets (names starting `notrack-`), temporary sets excluded. */
  sets: IpsetActualSet[];
  /** Temporary sets an interrupted apply left behind. */
  leftovers: IpsetActualSet[];
}

export type IpsetChange =
  | { kind: 'missing-set'; name: string }
  | { kind: 'extra-set'; name: string; references: number }
  | { kind: 'set-type-mismatch'; name: string; expected: string; actual: string }
  | { kind: 'members-differ'; name: string; missing: string[]; unexpected: string[] }
  | { kind: 'leftover-temporary-set'; name: string };

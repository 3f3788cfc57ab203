// The policy program's register plan, stack layout and scratch words: one job per register for the whole program.
//
//   R6  R_SCAN        the scan's per-CPU scratch (map value of ntp_scan, key 0): see SCAN_* below
//   R7  R_STATE       the per-packet nt_state (map value of nt_state, key 0)
//   R8  R_CANDIDATES  during the scan: the words of the current summary word still to examine (one bit per word);
//                     in the exits: the jump slot of the verdict, so the tail-call failure path knows it
//   R9  R_MATCHES     the entry bits of the current vector word still to examine
//   R0..R5            scratch inside one step or lookup; every helper call clobbers R1..R5
//   the context       on the stack (STACK_CTX), reloaded into R1 for each tail call
//
// Values that must survive from one scan step to the next live in R8/R9 or in map memory (ntp_scan, nt_state),
// never as exact scalars in registers or on the stack, and each step starts by passing R8/R9 through map memory:
// the verifier then sees the same abstract state at the start of every step whichever way the previous step went,
// prunes, and verification stays linear in the program size.
import { R6, R7, R8, R9 } from '../../asm/index.js';
import { STATE_FIELDS } from '../../abi/notrack.js';

export const R_SCAN = R6;
export const R_STATE = R7;
export const R_CANDIDATES = R8;
export const R_MATCHES = R9;

/** Stack: the xdp_md context. */
export const STACK_CTX = -8;
/** Stack: the entry table pointer (also the find-first-set table, at its start). */
export const STACK_ENTRIES = -16;
/** Stack: the record pointer of the i-th looked-up field (i < MAX_RECORD_SLOTS). */
export const stackRecord = (i: number): number => -24 - 8 * i;
export const MAX_RECORD_SLOTS = 8;
/** Stack: an LPM key (u32 prefix length + up to 16 address bytes). */
export const STACK_KEY = -104;
/** Stack: a u32 key for array lookups. */
export const STACK_INDEX = -112;
/** Stack: during an IPv6 address lookup (ipv6-lengths.ts), the value of the longest match found so far. */
export const STACK_BEST = -120;
/** Stack: during an IPv6 address lookup, the pointer to its miss filter (ipv6-lengths.ts). */
export const STACK_FILTER = -128;

const SCRATCH = STATE_FIELDS.scratch.offset;
/**
 * nt_state.scratch, the policy program's own four u32 (nt_xdp_entry zeroes them for every packet):
 *   cursor      the bit position where a continuation part resumes the scan
 *   generation  non-zero while a continuation is pending: the generation of the part that handed over
 */
export const SCRATCH_CURSOR = SCRATCH;
export const SCRATCH_GENERATION = SCRATCH + 12;

/**
 * ntp_scan (per-CPU array, key 0), the scan's state; set at the start of each packet, kept across continuation parts:
 *   summary    u32  the summary word being scanned
 *   word       u32  the vector word being scanned
 *   floor      u32  no word below this one is scanned any more (the groups skipped over)
 *   limit      u32  no bit at or past this one matters (the Log entries after the best deciding entry)
 *   best       u32  the original index of the best deciding entry so far, NONE when there is none
 *   bestInfo   u32  its entry word
 *   candidates u64, matches u64: where R8/R9 pass at the start of every step (see above)
 */
export const SCAN_SUMMARY = 0;
export const SCAN_WORD = 4;
export const SCAN_FLOOR = 8;
export const SCAN_LIMIT = 12;
export const SCAN_BEST = 16;
export const SCAN_BEST_INFO = 20;
export const SCAN_CANDIDATES = 24;
export const SCAN_MATCHES = 32;
export const SCAN_BYTES = 40;
export const SCAN_MAP_NAME = 'ntp_scan';
/** `best` when no deciding entry matched yet. */
export const NO_BEST = 0xffffffff;

/** XDP return codes used on the failure paths. */
export const XDP_DROP = 1;
export const XDP_PASS = 2;

/** The static maps of xdp.o the program refers to by name (relocations). */
export const STATIC_MAP_NAMES = { state: 'nt_state', jump: 'nt_jump', counters: 'nt_counters' } as const;

// The scan of one family: look up every used field, AND their records, and walk the set bits to the deciding entry.
//
// The bits are laid out in groups (entry-placement.ts): the deciding entries grouped by the fields they constrain,
// each group in evaluation order, then the Log entries. The walk is a sequence of identical STEPS, emitted `steps`
// times (unrolled; no back edges). Each step does one of three things, decided by R_MATCHES and R_CANDIDATES:
//   match    R_MATCHES != 0: take its lowest bit. A deciding entry becomes the best so far when it comes before it
//            in evaluation order; either way the rest of its group cannot do better, so the scan skips to the
//            entry's `continue` word (the next group, or straight to the Log group when no later group holds an
//            earlier entry), and the Log entries that matter end where the best entry's `logLimit` says. A Log
//            entry (they all come before that limit) is recorded, up to NT_LOG_MAX; past that, the rest of the
//            word's Log matches are only counted (popcount).
//   word     else R_CANDIDATES != 0: take its lowest bit, a vector word whose summary bit is set in every record,
//            and load R_MATCHES = AND of that word across the records (zero when the summaries over-approximated),
//            cut at the limit.
//   summary  else move to the next summary word (at least the floor's): R_CANDIDATES = AND of it across the records.
// The scan ends (`finish`) past the last summary word or the limit: the best entry decides, or nothing matched.
// When the steps run out, the position of the next bit to examine is saved in nt_state.scratch and the walk goes
// on in the continuation part (nt_jump slot NT_SLOT_SPLIT_FIRST), which is this same program: it finds the cursor,
// looks the fields up again and positions itself there; the best-so-far, floor and limit wait in ntp_scan.
// limits.ts sizes the step budget so that the worst case finishes within the kernel's tail-call limit.
import type { ProgramBuilder, WritableReg } from '../../asm/index.js';
import { FP, R0, R1, R2, R3, R4, R5 } from '../../asm/index.js';
import { JumpSlot, STATE_FIELDS } from '../../abi/notrack.js';
import { emitAndWords, emitClearLowest, emitFindFirstSet, emitPopcount } from './bit-ops.js';
import type { Classifier } from './classifier.js';
import { TABLE_CONTINUE, TABLE_INFO, TABLE_LOG_LIMIT, TABLE_ORIGINAL } from './entry-placement.js';
import { ENTRY_COUNTER_MASK, ENTRY_SLOT_SHIFT } from './entry-word.js';
import { emitConstantRecord, emitEntryTable, emitFieldLookup } from './field-lookup.js';
import {
  MAX_RECORD_SLOTS, NO_BEST, R_CANDIDATES, R_MATCHES, R_SCAN, R_STATE, SCAN_BEST, SCAN_BEST_INFO, SCAN_CANDIDATES,
  SCAN_FLOOR, SCAN_LIMIT, SCAN_MATCHES, SCAN_SUMMARY, SCAN_WORD, SCRATCH_CURSOR, SCRATCH_GENERATION, STACK_CTX,
  STACK_ENTRIES, STATIC_MAP_NAMES, stackRecord,
} from './frame.js';
import { LOG_RECORDS } from './limits.js';
import { ENTRY_TABLE_HEADER, ENTRY_TABLE_SLOT_BYTES, policyMapName } from './maps.js';

export interface FamilyScanOptions {
  classifier: Classifier;
  /** Steps before handing over to the continuation part. */
  steps: number;
  /** This program's generation tag (non-zero u32). */
  generation: number;
  /** Shared exits: no entry matched, and the verdict block (R4 = entry word). */
  noMatch: string;
  terminal: string;
  /** Tail-call failure: R8 holds the slot that failed. */
  tailFailed: string;
}

/** Emits one family's section; it ends in jumps only (never falls through). */
export function emitFamilyScan(p: ProgramBuilder, o: FamilyScanOptions): void {
  const c = o.classifier;
  const family = c.family;
  if (c.entryCount === 0) {
    p.comment(`IPv${family}: no entries`).ja(o.noMatch);
    return;
  }
  const bits = c.shape.entries;
  const { summaryWords: S, words: W } = c.shape;
  const wordBase = S * 8;
  const logWord = c.placement.logStart / 64;
  const records = policyMapName(family, 'records');
  const finish = `v${family}_finish`;
  const step = (k: number): string => `v${family}_step_${k}`;

  // Resume or start: a pending continuation of this generation resumes at its cursor; one of another generation
  // (the program was replaced in between) starts over here, forgetting its Log records.
  p.comment(`IPv${family}: ${c.entryCount} entries in ${c.placement.groups.length} groups, ${W} words, ${S} summary words, ` +
    `${c.fields.length} fields, ${o.steps} steps`);
  const fresh = p.newLabel(`v${family}_fresh`);
  const resume = p.newLabel(`v${family}_resume`);
  p.ldx('u32', R1, R_STATE, SCRATCH_GENERATION);
  p.jmp('jeq', R1, 0, fresh);
  p.jmp32('jeq', R1, o.generation, resume);
  p.st('u32', R_STATE, STATE_FIELDS.logCount.offset, 0);
  p.label(fresh).st('u32', R_STATE, SCRATCH_CURSOR, 0).st('u32', R_SCAN, SCAN_FLOOR, 0).st('u32', R_SCAN, SCAN_LIMIT, bits);
  p.st('u32', R_SCAN, SCAN_BEST, NO_BEST).st('u32', R_SCAN, SCAN_BEST_INFO, 0);
  p.label(resume).st('u32', R_STATE, SCRATCH_GENERATION, 0);

  // Lookups: one record per used field (or the all-entries record when none is used).
  if (c.fields.length > MAX_RECORD_SLOTS) throw new Error(`policy program: ${c.fields.length} fields, at most ${MAX_RECORD_SLOTS}`);
  const slots: number[] = [];
  c.fields.forEach((f, i) => {
    emitFieldLookup(p, f, policyMapName(family, f.name), records, stackRecord(i), o.noMatch);
    slots.push(stackRecord(i));
  });
  if (slots.length === 0) {
    emitConstantRecord(p, records, c.allRecord, stackRecord(0), o.noMatch);
    slots.push(stackRecord(0));
  }
  emitEntryTable(p, policyMapName(family, 'entries'), STACK_ENTRIES, o.noMatch);

  /** R_MATCHES &= bits below the limit, for word `w` (a bounded register below the limit's word). */
  const cutAtLimit = (w: WritableReg, t1: WritableReg, t2: WritableReg): void => {
    const whole = p.newLabel(`v${family}_under_limit`);
    p.ldx('u32', t1, R_SCAN, SCAN_LIMIT).mov64(t2, w).alu64('lsh', t2, 6).alu64('sub', t1, t2).jmp('jge', t1, 64, whole);
    p.mov64(t2, 1).alu64('lsh', t2, t1).alu64('sub', t2, 1).alu64('and', R_MATCHES, t2);
    p.label(whole);
  };
  /** Log records full and word `w` in the Log group: count its matches and drop them. */
  const countFullLogs = (w: WritableReg): void => {
    if (!c.hasLog) return;
    const done = p.newLabel(`v${family}_logs_not_full`);
    p.jmp('jlt', w, logWord, done);
    p.ldx('u32', R1, R_STATE, STATE_FIELDS.logCount.offset).jmp('jlt', R1, LOG_RECORDS, done);
    p.mov64(R4, R_MATCHES);
    emitPopcount(p, R4, R3, R5);
    p.alu64('add', R1, R4).stx('u32', R_STATE, STATE_FIELDS.logCount.offset, R1).mov64(R_MATCHES, 0);
    p.label(done);
  };

  // Position at the cursor P: word w = P >> 6 from bit P & 63 on, and the candidates after w in summary word P >> 12.
  p.comment('position the scan at the cursor');
  p.ldx('u32', R1, R_STATE, SCRATCH_CURSOR).jmp('jge', R1, bits, finish);
  p.ldx('u32', R2, R_SCAN, SCAN_LIMIT).jmp('jge', R1, R2, finish);
  p.mov64(R2, R1).alu64('rsh', R2, 12).stx('u32', R_SCAN, SCAN_SUMMARY, R2);
  p.mov64(R3, R1).alu64('rsh', R3, 6).stx('u32', R_SCAN, SCAN_WORD, R3);
  p.mov64(R4, R3).alu64('lsh', R4, 3);
  emitAndWords(p, R_MATCHES, slots, R4, wordBase, R5);
  p.mov64(R4, R1).alu64('and', R4, 63).mov64(R5, -1).alu64('lsh', R5, R4).alu64('and', R_MATCHES, R5);
  p.mov64(R4, R2).alu64('lsh', R4, 3);
  emitAndWords(p, R_CANDIDATES, slots, R4, 0, R5);
  // Words strictly after w: two shifts, since a shift by 64 is not a shift.
  p.mov64(R4, R3).alu64('and', R4, 63).mov64(R5, -1).alu64('lsh', R5, R4).alu64('lsh', R5, 1).alu64('and', R_CANDIDATES, R5);
  p.mov64(R2, R3);
  cutAtLimit(R2, R4, R5);
  countFullLogs(R2);

  for (let k = 0; k < o.steps; k++) {
    const noMatches = p.newLabel(`v${family}_no_matches`);
    const summary = p.newLabel(`v${family}_summary`);
    const decide = p.newLabel(`v${family}_decide`);
    p.label(step(k)).comment(`step ${k}`);
    // Through map memory: whatever the previous step knew of R8/R9 (zero, a narrower range) is forgotten here.
    p.stx('u64', R_SCAN, SCAN_CANDIDATES, R_CANDIDATES).stx('u64', R_SCAN, SCAN_MATCHES, R_MATCHES);
    p.ldx('u64', R_CANDIDATES, R_SCAN, SCAN_CANDIDATES).ldx('u64', R_MATCHES, R_SCAN, SCAN_MATCHES);
    p.jmp('jeq', R_MATCHES, 0, noMatches);

    // match: the lowest matching bit; R3 = its entry table slot, R4 = its entry word.
    emitFindFirstSet(p, R1, R_MATCHES, R2);
    emitClearLowest(p, R_MATCHES, R2);
    p.ldx('u32', R2, R_SCAN, SCAN_WORD).jmp('jge', R2, W, finish);
    p.alu64('lsh', R2, 6).alu64('add', R2, R1).jmp('jge', R2, bits, finish);
    p.alu64('lsh', R2, Math.log2(ENTRY_TABLE_SLOT_BYTES)).ldx('u64', R3, FP, STACK_ENTRIES).alu64('add', R3, R2);
    p.ldx('u32', R4, R3, ENTRY_TABLE_HEADER + TABLE_INFO);
    if (c.hasLog) {
      const counted = p.newLabel(`v${family}_log_counted`);
      p.mov64(R5, R4).alu64('rsh', R5, ENTRY_SLOT_SHIFT).jmp('jne', R5, 0, decide);
      // A Log entry: n = log_count; if (n < NT_LOG_MAX) log_rules[n] = counter; log_count = n + 1.
      p.alu64('and', R4, ENTRY_COUNTER_MASK);
      p.ldx('u32', R1, R_STATE, STATE_FIELDS.logCount.offset).jmp('jge', R1, LOG_RECORDS, counted);
      p.mov64(R2, R1).alu64('lsh', R2, 2).mov64(R5, R_STATE).alu64('add', R5, R2);
      p.stx('u32', R5, STATE_FIELDS.logRules.offset, R4);
      p.label(counted).alu64('add', R1, 1).stx('u32', R_STATE, STATE_FIELDS.logCount.offset, R1);
      p.jmp('jlt', R1, LOG_RECORDS, step(k + 1));
      // Records full: the word's other Log matches are only counted.
      p.mov64(R4, R_MATCHES);
      emitPopcount(p, R4, R3, R5);
      p.alu64('add', R1, R4).stx('u32', R_STATE, STATE_FIELDS.logCount.offset, R1).mov64(R_MATCHES, 0);
      p.ja(step(k + 1));
    }
    // A deciding entry: the best so far if it comes first in evaluation order; then skip what cannot beat it.
    p.label(decide);
    const notBetter = p.newLabel(`v${family}_not_better`);
    const elsewhere = p.newLabel(`v${family}_floor_elsewhere`);
    p.ldx('u32', R5, R3, ENTRY_TABLE_HEADER + TABLE_ORIGINAL).ldx('u32', R0, R_SCAN, SCAN_BEST).jmp('jge', R5, R0, notBetter);
    p.stx('u32', R_SCAN, SCAN_BEST, R5).stx('u32', R_SCAN, SCAN_BEST_INFO, R4);
    p.ldx('u32', R5, R3, ENTRY_TABLE_HEADER + TABLE_LOG_LIMIT).stx('u32', R_SCAN, SCAN_LIMIT, R5);
    p.label(notBetter);
    p.ldx('u32', R5, R3, ENTRY_TABLE_HEADER + TABLE_CONTINUE).stx('u32', R_SCAN, SCAN_FLOOR, R5).mov64(R_MATCHES, 0);
    p.ldx('u32', R0, R_SCAN, SCAN_SUMMARY).mov64(R1, R5).alu64('rsh', R1, 6).jmp('jne', R1, R0, elsewhere);
    p.mov64(R1, R5).alu64('and', R1, 63).mov64(R2, -1).alu64('lsh', R2, R1).alu64('and', R_CANDIDATES, R2);
    p.ja(step(k + 1));
    p.label(elsewhere).mov64(R_CANDIDATES, 0).ja(step(k + 1));

    // word: the lowest candidate word, cut at the limit.
    p.label(noMatches).jmp('jeq', R_CANDIDATES, 0, summary);
    emitFindFirstSet(p, R1, R_CANDIDATES, R2);
    emitClearLowest(p, R_CANDIDATES, R2);
    p.ldx('u32', R2, R_SCAN, SCAN_SUMMARY).jmp('jge', R2, S, finish);
    p.alu64('lsh', R2, 6).alu64('add', R2, R1).jmp('jge', R2, W, finish);
    p.ldx('u32', R3, R_SCAN, SCAN_LIMIT).mov64(R4, R2).alu64('lsh', R4, 6).jmp('jge', R4, R3, finish);
    p.stx('u32', R_SCAN, SCAN_WORD, R2).mov64(R5, R2).alu64('lsh', R5, 3);
    emitAndWords(p, R_MATCHES, slots, R5, wordBase, R4);
    cutAtLimit(R2, R3, R4);
    countFullLogs(R2);
    p.ja(step(k + 1));

    // summary: the next summary word (or the floor's), from the floor on.
    const unmasked = p.newLabel(`v${family}_summary_loaded`);
    const past = p.newLabel(`v${family}_summary_next`);
    p.label(summary);
    p.ldx('u32', R1, R_SCAN, SCAN_SUMMARY).alu64('add', R1, 1);
    p.ldx('u32', R2, R_SCAN, SCAN_FLOOR).mov64(R3, R2).alu64('rsh', R3, 6).jmp('jge', R1, R3, past).mov64(R1, R3);
    p.label(past).jmp('jge', R1, S, finish);
    p.ldx('u32', R3, R_SCAN, SCAN_LIMIT).mov64(R4, R1).alu64('lsh', R4, 12).jmp('jge', R4, R3, finish);
    p.stx('u32', R_SCAN, SCAN_SUMMARY, R1).mov64(R4, R1).alu64('lsh', R4, 3);
    emitAndWords(p, R_CANDIDATES, slots, R4, 0, R5);
    p.mov64(R3, R2).alu64('rsh', R3, 6).jmp('jne', R3, R1, unmasked);
    p.mov64(R3, R2).alu64('and', R3, 63).mov64(R5, -1).alu64('lsh', R5, R3).alu64('and', R_CANDIDATES, R5);
    p.label(unmasked).ja(step(k + 1));
  }

  // Out of steps: save where the scan stands (never below the floor) and continue in the continuation part.
  const saveCandidates = p.newLabel(`v${family}_save_candidates`);
  const saveSummary = p.newLabel(`v${family}_save_summary`);
  const save = p.newLabel(`v${family}_save`);
  const saved = p.newLabel(`v${family}_saved`);
  p.label(step(o.steps)).comment('out of steps: hand the cursor to the continuation part');
  p.jmp('jeq', R_MATCHES, 0, saveCandidates);
  emitFindFirstSet(p, R1, R_MATCHES, R2);
  p.ldx('u32', R2, R_SCAN, SCAN_WORD).alu64('lsh', R2, 6).alu64('add', R2, R1).ja(save);
  p.label(saveCandidates).jmp('jeq', R_CANDIDATES, 0, saveSummary);
  emitFindFirstSet(p, R1, R_CANDIDATES, R2);
  p.ldx('u32', R2, R_SCAN, SCAN_SUMMARY).alu64('lsh', R2, 6).alu64('add', R2, R1).alu64('lsh', R2, 6).ja(save);
  p.label(saveSummary).ldx('u32', R2, R_SCAN, SCAN_SUMMARY).alu64('add', R2, 1).alu64('lsh', R2, 12);
  p.label(save).ldx('u32', R3, R_SCAN, SCAN_FLOOR).alu64('lsh', R3, 6).jmp('jge', R2, R3, saved).mov64(R2, R3);
  p.label(saved).stx('u32', R_STATE, SCRATCH_CURSOR, R2).st('u32', R_STATE, SCRATCH_GENERATION, o.generation | 0);
  p.mov64(R_CANDIDATES, JumpSlot.pass);
  p.ldx('u64', R1, FP, STACK_CTX).ldMap(R2, STATIC_MAP_NAMES.jump).mov64(R3, JumpSlot.splitFirst).call('tail_call');
  p.ja(o.tailFailed);

  // The end of the scan: the best deciding entry, or no match.
  p.label(finish).ldx('u32', R1, R_SCAN, SCAN_BEST).jmp32('jeq', R1, NO_BEST, o.noMatch);
  p.ldx('u32', R4, R_SCAN, SCAN_BEST_INFO).ja(o.terminal);
}

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
//
// Registers (frame.ts gives each its one job for the whole program; here is what the scan puts in the scratch ones):
//   R6 R_SCAN        ntp_scan: summary, word, floor, limit, best, bestInfo, and R8/R9 between steps
//   R7 R_STATE       nt_state: the packet, log_count/log_rules, scratch cursor and generation
//   R8 R_CANDIDATES  the words of the current summary word still to examine
//   R9 R_MATCHES     the entry bits of the current vector word still to examine
//   R1               a bit index: the cursor, then the lowest set bit of R8 or R9; log_count while recording Logs
//   R2               a word index (R1's bit in words), or a bit position / byte offset computed from it
//   R3               the matched entry's slot in the entry table; else a copy to shift or the limit
//   R4               the matched entry's word (counter | verdict slot); else a byte offset into the records
//   R5               a mask or a shifted copy; the entry's original index, Log limit or continue word
//   R0               the best entry's original index, or the current summary word, to compare with
// Every emitted instruction stands on its own line with its effect; the helpers of bit-ops.ts and field-lookup.ts
// emit fixed sequences described where they are defined.
import type { ProgramBuilder, WritableReg } from '../../asm/index.js';
import { FP, R0, R1, R2, R3, R4, R5 } from '../../asm/index.js';
import { JumpSlot, STATE_FIELDS } from '../../abi/notrack.js';
import { emitAndWords, emitClearLowest, emitFindFirstSet, emitPopcount } from './bit-ops.js';
import type { Classifier } from './classifier.js';
import { TABLE_CONTINUE, TABLE_INFO, TABLE_LOG_LIMIT, TABLE_ORIGINAL } from './entry-placement.js';
import { ENTRY_COUNTER_MASK, ENTRY_SLOT_SHIFT } from './entry-word.js';
import { emitConstantRecord, emitEntryTable, emitFieldLookup } from './field-lookup.js';
import {
  MAX_RECORD_SLOTS,
  NO_BEST,
  R_CANDIDATES,
  R_MATCHES,
  R_SCAN,
  R_STATE,
  SCAN_BEST,
  SCAN_BEST_INFO,
  SCAN_CANDIDATES,
  SCAN_FLOOR,
  SCAN_LIMIT,
  SCAN_MATCHES,
  SCAN_SUMMARY,
  SCAN_WORD,
  SCRATCH_CURSOR,
  SCRATCH_GENERATION,
  STACK_CTX,
  STACK_ENTRIES,
  STATIC_MAP_NAMES,
  stackRecord,
} from './frame.js';
import { LOG_RECORDS } from './limits.js';
import { bitmapRole, ENTRY_TABLE_HEADER, ENTRY_TABLE_SLOT_BYTES, policyMapName } from './maps.js';

interface FamilyScanOptions {
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
    p.comment(`IPv${family}: no entries`);
    p.ja(o.noMatch); // nothing can match
    return;
  }
  const bits = c.shape.entries;
  const { summaryWords: S, words: W } = c.shape;
  const wordBase = S * 8;
  const logWord = c.placement.logStart / 64;
  const records = policyMapName(family, 'records');
  const finish = `v${family}_finish`;
  const step = (k: number): string => `v${family}_step_${k}`;
  const logCount = STATE_FIELDS.logCount.offset;

  // Resume or start: a pending continuation of this generation resumes at its cursor; one of another generation
  // (the program was replaced in between) starts over here, forgetting its Log records.
  p.comment(
    `IPv${family}: ${c.entryCount} entries in ${c.placement.groups.length} groups, ${W} words, ` +
      `${S} summary words, ${c.fields.length} fields, ${o.steps} steps`,
  );
  const fresh = p.newLabel(`v${family}_fresh`);
  const resume = p.newLabel(`v${family}_resume`);
  p.ldx('u32', R1, R_STATE, SCRATCH_GENERATION); // R1 = generation of a pending continuation
  p.jmp('jeq', R1, 0, fresh); // none pending: start the scan
  p.jmp32('jeq', R1, o.generation, resume); // ours: resume at the cursor
  p.st('u32', R_STATE, logCount, 0); // another generation's: forget its Log records
  p.label(fresh);
  p.st('u32', R_STATE, SCRATCH_CURSOR, 0); // cursor = bit 0
  p.st('u32', R_SCAN, SCAN_FLOOR, 0); // floor = word 0
  p.st('u32', R_SCAN, SCAN_LIMIT, bits); // limit = past the last bit
  p.st('u32', R_SCAN, SCAN_BEST, NO_BEST); // no best entry yet
  p.st('u32', R_SCAN, SCAN_BEST_INFO, 0); // and no entry word
  p.label(resume);
  p.st('u32', R_STATE, SCRATCH_GENERATION, 0); // nothing pending any more

  // Lookups: one record per used field (or the all-entries record when none is used).
  if (c.fields.length > MAX_RECORD_SLOTS)
    throw new Error(`policy program: ${c.fields.length} fields, at most ${MAX_RECORD_SLOTS}`);
  const slots: number[] = [];
  c.fields.forEach((f, i) => {
    const address = f.name === 'saddr' || f.name === 'daddr' ? f.name : undefined;
    emitFieldLookup(
      p,
      f,
      {
        classMap: policyMapName(family, f.name),
        bitmapMap: address && policyMapName(family, bitmapRole(address, 'Bitmap')),
        wideMap: address && policyMapName(family, bitmapRole(address, 'Wide')),
        filterMap: address && policyMapName(family, bitmapRole(address, 'Filter')),
        recordsMap: records,
      },
      stackRecord(i),
      o.noMatch,
      o.terminal,
    );
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
    p.ldx('u32', t1, R_SCAN, SCAN_LIMIT); // t1 = limit (a bit position)
    p.mov64(t2, w); // t2 = w
    p.alu64('lsh', t2, 6); // t2 = first bit of word w
    p.alu64('sub', t1, t2); // t1 = limit's offset within word w
    p.jmp('jge', t1, 64, whole); // the limit is past word w: keep it whole
    p.mov64(t2, 1); // t2 = 1
    p.alu64('lsh', t2, t1); // t2 = the limit's bit
    p.alu64('sub', t2, 1); // t2 = the bits below it
    p.alu64('and', R_MATCHES, t2); // drop the matches at or past the limit
    p.label(whole);
  };
  /** Log records full and word `w` in the Log group: count its matches and drop them. */
  const countFullLogs = (w: WritableReg): void => {
    if (!c.hasLog) return;
    const done = p.newLabel(`v${family}_logs_not_full`);
    p.jmp('jlt', w, logWord, done); // a word before the Log group: nothing to do
    p.ldx('u32', R1, R_STATE, logCount); // R1 = Log rules matched so far
    p.jmp('jlt', R1, LOG_RECORDS, done); // records left: the steps record them
    p.mov64(R4, R_MATCHES); // R4 = the word's Log matches
    emitPopcount(p, R4, R3, R5); // R4 = how many
    p.alu64('add', R1, R4); // R1 = log_count + them
    p.stx('u32', R_STATE, logCount, R1); // counted
    p.mov64(R_MATCHES, 0); // and dropped
    p.label(done);
  };

  // Position at the cursor P: word w = P >> 6 from bit P & 63 on, and the candidates after w in summary word P >> 12.
  p.comment('position the scan at the cursor');
  p.ldx('u32', R1, R_STATE, SCRATCH_CURSOR); // R1 = cursor P
  p.jmp('jge', R1, bits, finish); // past the last bit: done
  p.ldx('u32', R2, R_SCAN, SCAN_LIMIT); // R2 = limit
  p.jmp('jge', R1, R2, finish); // at or past the limit: done
  p.mov64(R2, R1); // R2 = P
  p.alu64('rsh', R2, 12); // R2 = its summary word
  p.stx('u32', R_SCAN, SCAN_SUMMARY, R2); // summary = P >> 12
  p.mov64(R3, R1); // R3 = P
  p.alu64('rsh', R3, 6); // R3 = its vector word w
  p.stx('u32', R_SCAN, SCAN_WORD, R3); // word = w
  p.mov64(R4, R3); // R4 = w
  p.alu64('lsh', R4, 3); // R4 = w's byte offset
  emitAndWords(p, R_MATCHES, slots, R4, wordBase, R5); // R9 = word w across the records
  p.mov64(R4, R1); // R4 = P
  p.alu64('and', R4, 63); // R4 = P's bit within w
  p.mov64(R5, -1); // R5 = all ones
  p.alu64('lsh', R5, R4); // R5 = bits from P on
  p.alu64('and', R_MATCHES, R5); // R9 = matches from P on
  p.mov64(R4, R2); // R4 = summary word
  p.alu64('lsh', R4, 3); // R4 = its byte offset
  emitAndWords(p, R_CANDIDATES, slots, R4, 0, R5); // R8 = summary word across the records
  // Words strictly after w: two shifts, since a shift by 64 is not a shift.
  p.mov64(R4, R3); // R4 = w
  p.alu64('and', R4, 63); // R4 = w's bit within the summary word
  p.mov64(R5, -1); // R5 = all ones
  p.alu64('lsh', R5, R4); // R5 = words from w on
  p.alu64('lsh', R5, 1); // R5 = words after w
  p.alu64('and', R_CANDIDATES, R5); // R8 = candidate words after w
  p.mov64(R2, R3); // R2 = w
  cutAtLimit(R2, R4, R5);
  countFullLogs(R2);

  for (let k = 0; k < o.steps; k++) {
    const noMatches = p.newLabel(`v${family}_no_matches`);
    const summary = p.newLabel(`v${family}_summary`);
    const decide = p.newLabel(`v${family}_decide`);
    p.label(step(k)).comment(`step ${k}`);
    // Through map memory: whatever the previous step knew of R8/R9 (zero, a narrower range) is forgotten here.
    p.stx('u64', R_SCAN, SCAN_CANDIDATES, R_CANDIDATES); // save R8
    p.stx('u64', R_SCAN, SCAN_MATCHES, R_MATCHES); // save R9
    p.ldx('u64', R_CANDIDATES, R_SCAN, SCAN_CANDIDATES); // reload R8, its bounds unknown
    p.ldx('u64', R_MATCHES, R_SCAN, SCAN_MATCHES); // reload R9, its bounds unknown
    p.jmp('jeq', R_MATCHES, 0, noMatches); // no match left in this word

    // match: the lowest matching bit; R3 = its entry table slot, R4 = its entry word.
    emitFindFirstSet(p, R1, R_MATCHES, R2); // R1 = lowest matching bit in the word
    emitClearLowest(p, R_MATCHES, R2); // R9 = the other matches
    p.ldx('u32', R2, R_SCAN, SCAN_WORD); // R2 = word
    p.jmp('jge', R2, W, finish); // (bounds for the verifier)
    p.alu64('lsh', R2, 6); // R2 = the word's first bit
    p.alu64('add', R2, R1); // R2 = the matching bit
    p.jmp('jge', R2, bits, finish); // (bounds for the verifier)
    p.alu64('lsh', R2, Math.log2(ENTRY_TABLE_SLOT_BYTES)); // R2 = its slot's byte offset
    p.ldx('u64', R3, FP, STACK_ENTRIES); // R3 = the entry table
    p.alu64('add', R3, R2); // R3 = the bit's slot
    p.ldx('u32', R4, R3, ENTRY_TABLE_HEADER + TABLE_INFO); // R4 = its entry word
    if (c.hasLog) {
      const counted = p.newLabel(`v${family}_log_counted`);
      p.mov64(R5, R4); // R5 = entry word
      p.alu64('rsh', R5, ENTRY_SLOT_SHIFT); // R5 = its verdict slot
      p.jmp('jne', R5, 0, decide); // a verdict: a deciding entry
      // A Log entry: n = log_count; if (n < NT_LOG_MAX) log_rules[n] = counter; log_count = n + 1.
      p.alu64('and', R4, ENTRY_COUNTER_MASK); // R4 = its counter
      p.ldx('u32', R1, R_STATE, logCount); // R1 = n
      p.jmp('jge', R1, LOG_RECORDS, counted); // records full: count only
      p.mov64(R2, R1); // R2 = n
      p.alu64('lsh', R2, 2); // R2 = 4n
      p.mov64(R5, R_STATE); // R5 = nt_state
      p.alu64('add', R5, R2); // R5 = nt_state + 4n
      p.stx('u32', R5, STATE_FIELDS.logRules.offset, R4); // log_rules[n] = counter
      p.label(counted);
      p.alu64('add', R1, 1); // R1 = n + 1
      p.stx('u32', R_STATE, logCount, R1); // log_count = n + 1
      p.jmp('jlt', R1, LOG_RECORDS, step(k + 1)); // records left: next step
      // Records full: the word's other Log matches are only counted.
      p.mov64(R4, R_MATCHES); // R4 = the other matches
      emitPopcount(p, R4, R3, R5); // R4 = how many
      p.alu64('add', R1, R4); // R1 = log_count + them
      p.stx('u32', R_STATE, logCount, R1); // counted
      p.mov64(R_MATCHES, 0); // and dropped
      p.ja(step(k + 1)); // next step
    }
    // A deciding entry: the best so far if it comes first in evaluation order; then skip what cannot beat it.
    p.label(decide);
    const notBetter = p.newLabel(`v${family}_not_better`);
    const elsewhere = p.newLabel(`v${family}_floor_elsewhere`);
    p.ldx('u32', R5, R3, ENTRY_TABLE_HEADER + TABLE_ORIGINAL); // R5 = its original index
    p.ldx('u32', R0, R_SCAN, SCAN_BEST); // R0 = the best's
    p.jmp('jge', R5, R0, notBetter); // not earlier than the best
    p.stx('u32', R_SCAN, SCAN_BEST, R5); // best = this entry
    p.stx('u32', R_SCAN, SCAN_BEST_INFO, R4); // bestInfo = its entry word
    p.ldx('u32', R5, R3, ENTRY_TABLE_HEADER + TABLE_LOG_LIMIT); // R5 = its Log limit
    p.stx('u32', R_SCAN, SCAN_LIMIT, R5); // limit = the Log entries before it
    p.label(notBetter);
    p.ldx('u32', R5, R3, ENTRY_TABLE_HEADER + TABLE_CONTINUE); // R5 = its continue word
    p.stx('u32', R_SCAN, SCAN_FLOOR, R5); // floor = continue word
    p.mov64(R_MATCHES, 0); // the rest of this word cannot do better
    p.ldx('u32', R0, R_SCAN, SCAN_SUMMARY); // R0 = summary word
    p.mov64(R1, R5); // R1 = floor
    p.alu64('rsh', R1, 6); // R1 = floor's summary word
    p.jmp('jne', R1, R0, elsewhere); // in another summary word
    p.mov64(R1, R5); // R1 = floor
    p.alu64('and', R1, 63); // R1 = floor's bit within the summary word
    p.mov64(R2, -1); // R2 = all ones
    p.alu64('lsh', R2, R1); // R2 = words from the floor on
    p.alu64('and', R_CANDIDATES, R2); // R8 = candidate words from the floor on
    p.ja(step(k + 1)); // next step
    p.label(elsewhere);
    p.mov64(R_CANDIDATES, 0); // no candidate left in this summary word
    p.ja(step(k + 1)); // next step

    // word: the lowest candidate word, cut at the limit.
    p.label(noMatches);
    p.jmp('jeq', R_CANDIDATES, 0, summary); // no candidate word left
    emitFindFirstSet(p, R1, R_CANDIDATES, R2); // R1 = lowest candidate word in the summary word
    emitClearLowest(p, R_CANDIDATES, R2); // R8 = the other candidates
    p.ldx('u32', R2, R_SCAN, SCAN_SUMMARY); // R2 = summary word
    p.jmp('jge', R2, S, finish); // (bounds for the verifier)
    p.alu64('lsh', R2, 6); // R2 = its first word
    p.alu64('add', R2, R1); // R2 = the candidate word
    p.jmp('jge', R2, W, finish); // (bounds for the verifier)
    p.ldx('u32', R3, R_SCAN, SCAN_LIMIT); // R3 = limit
    p.mov64(R4, R2); // R4 = word
    p.alu64('lsh', R4, 6); // R4 = its first bit
    p.jmp('jge', R4, R3, finish); // at or past the limit: done
    p.stx('u32', R_SCAN, SCAN_WORD, R2); // word = the candidate
    p.mov64(R5, R2); // R5 = word
    p.alu64('lsh', R5, 3); // R5 = its byte offset
    emitAndWords(p, R_MATCHES, slots, R5, wordBase, R4); // R9 = the word across the records
    cutAtLimit(R2, R3, R4);
    countFullLogs(R2);
    p.ja(step(k + 1)); // next step

    // summary: the next summary word (or the floor's), from the floor on.
    const unmasked = p.newLabel(`v${family}_summary_loaded`);
    const past = p.newLabel(`v${family}_summary_next`);
    p.label(summary);
    p.ldx('u32', R1, R_SCAN, SCAN_SUMMARY); // R1 = summary word
    p.alu64('add', R1, 1); // R1 = the next one
    p.ldx('u32', R2, R_SCAN, SCAN_FLOOR); // R2 = floor
    p.mov64(R3, R2); // R3 = floor
    p.alu64('rsh', R3, 6); // R3 = floor's summary word
    p.jmp('jge', R1, R3, past); // the next one is not below the floor's
    p.mov64(R1, R3); // else R1 = the floor's
    p.label(past);
    p.jmp('jge', R1, S, finish); // past the last summary word: done
    p.ldx('u32', R3, R_SCAN, SCAN_LIMIT); // R3 = limit
    p.mov64(R4, R1); // R4 = summary word
    p.alu64('lsh', R4, 12); // R4 = its first bit
    p.jmp('jge', R4, R3, finish); // at or past the limit: done
    p.stx('u32', R_SCAN, SCAN_SUMMARY, R1); // summary = R1
    p.mov64(R4, R1); // R4 = summary word
    p.alu64('lsh', R4, 3); // R4 = its byte offset
    emitAndWords(p, R_CANDIDATES, slots, R4, 0, R5); // R8 = the summary word across the records
    p.mov64(R3, R2); // R3 = floor
    p.alu64('rsh', R3, 6); // R3 = floor's summary word
    p.jmp('jne', R3, R1, unmasked); // the floor is in another summary word
    p.mov64(R3, R2); // R3 = floor
    p.alu64('and', R3, 63); // R3 = floor's bit within the summary word
    p.mov64(R5, -1); // R5 = all ones
    p.alu64('lsh', R5, R3); // R5 = words from the floor on
    p.alu64('and', R_CANDIDATES, R5); // R8 = candidates from the floor on
    p.label(unmasked);
    p.ja(step(k + 1)); // next step
  }

  // Out of steps: save where the scan stands (never below the floor) and continue in the continuation part.
  const saveCandidates = p.newLabel(`v${family}_save_candidates`);
  const saveSummary = p.newLabel(`v${family}_save_summary`);
  const save = p.newLabel(`v${family}_save`);
  const saved = p.newLabel(`v${family}_saved`);
  p.label(step(o.steps)).comment('out of steps: hand the cursor to the continuation part');
  p.jmp('jeq', R_MATCHES, 0, saveCandidates); // no match left in the word
  emitFindFirstSet(p, R1, R_MATCHES, R2); // R1 = lowest matching bit
  p.ldx('u32', R2, R_SCAN, SCAN_WORD); // R2 = word
  p.alu64('lsh', R2, 6); // R2 = its first bit
  p.alu64('add', R2, R1); // R2 = cursor: that match
  p.ja(save);
  p.label(saveCandidates);
  p.jmp('jeq', R_CANDIDATES, 0, saveSummary); // no candidate word left
  emitFindFirstSet(p, R1, R_CANDIDATES, R2); // R1 = lowest candidate word
  p.ldx('u32', R2, R_SCAN, SCAN_SUMMARY); // R2 = summary word
  p.alu64('lsh', R2, 6); // R2 = its first word
  p.alu64('add', R2, R1); // R2 = the candidate word
  p.alu64('lsh', R2, 6); // R2 = cursor: its first bit
  p.ja(save);
  p.label(saveSummary);
  p.ldx('u32', R2, R_SCAN, SCAN_SUMMARY); // R2 = summary word
  p.alu64('add', R2, 1); // R2 = the next one
  p.alu64('lsh', R2, 12); // R2 = cursor: its first bit
  p.label(save);
  p.ldx('u32', R3, R_SCAN, SCAN_FLOOR); // R3 = floor
  p.alu64('lsh', R3, 6); // R3 = floor's first bit
  p.jmp('jge', R2, R3, saved); // the cursor is not below it
  p.mov64(R2, R3); // else cursor = the floor's first bit
  p.label(saved);
  p.stx('u32', R_STATE, SCRATCH_CURSOR, R2); // cursor for the continuation
  p.st('u32', R_STATE, SCRATCH_GENERATION, o.generation | 0); // pending, tagged with this generation
  p.mov64(R_CANDIDATES, JumpSlot.pass); // should the tail call fail: fail as Pass
  p.ldx('u64', R1, FP, STACK_CTX); // R1 = ctx
  p.ldMap(R2, STATIC_MAP_NAMES.jump); // R2 = nt_jump
  p.mov64(R3, JumpSlot.splitFirst); // R3 = the continuation's slot
  p.call('tail_call'); // continue there
  p.ja(o.tailFailed); // the tail call returned

  // The end of the scan: the best deciding entry, or no match.
  p.label(finish);
  p.ldx('u32', R1, R_SCAN, SCAN_BEST); // R1 = the best's original index
  p.jmp32('jeq', R1, NO_BEST, o.noMatch); // none: no match
  p.ldx('u32', R4, R_SCAN, SCAN_BEST_INFO); // R4 = its entry word
  p.ja(o.terminal); // to the verdict
}

// The size limits of the generated policy program, in one place: how many scan steps one part runs, how many
// parts (tail calls) a packet may go through, and the instruction ceiling a part must stay under.
import { NotrackError } from '../../errors.js';
import { Limits } from '../../abi/notrack.js';

/**
 * The most instructions one program part may have. The verifier takes up to 1,000,000; staying far below keeps
 * verification fast whatever the policy, and under 32,767 every conditional jump reaches its label. Program size
 * does not depend on the number of rules (rules live in maps), only on the step budget and the fields used.
 */
export const MAX_PART_INSNS = 32_000;

/**
 * The most bytes of class records one family may need (records x entries bits): the price of bit vectors is
 * memory, and a policy past this is refused rather than allowed to exhaust the host.
 */
export const MAX_RECORD_BYTES = 512 << 20;

/**
 * Scan steps one part runs before it hands the scan position to the next part (see scan.ts for what a step is).
 * A packet that matches the first candidate needs about three; the budget is for the worst case of a policy
 * whose summary words over-approximate badly.
 */
export const DEFAULT_STEP_BUDGET = 24;

/**
 * Parts one packet may run through: the kernel allows 33 tail calls per packet; nt_xdp_entry -> policy uses one,
 * policy -> epilogue one; the rest go to continuation parts, with a margin.
 */
export const MAX_PARTS_PER_PACKET = 28;

/** Log rules the policy program records per packet (the rest are only counted): NT_LOG_MAX. */
export const LOG_RECORDS = Limits.logMax;

/** The raised error when a policy cannot be compiled into a program that the kernel will take. */
export class PolicyProgramError extends NotrackError {
  constructor(code: 'policy-program-too-large' | 'policy-program-bad-input', message: string) {
    super(code, message);
  }
}

/**
 * Steps a family's scan may need in the worst case: one per summary word, one per vector word (a summary bit may be
 * a false positive), one deciding match per group (the rest of a group is skipped after it), one per recorded Log
 * match (past NT_LOG_MAX they are counted a word at a time), and the first positioning.
 */
export function worstCaseSteps(summaryWords: number, words: number, groups: number): number {
  return summaryWords + words + groups + LOG_RECORDS + 2;
}

/**
 * The step budget of one part for a family: the default, or more when the worst case would not finish within
 * MAX_PARTS_PER_PACKET parts. `forced` (tests) fixes the budget and is refused when the worst case could not finish.
 */
export function stepBudget(summaryWords: number, words: number, groups: number, forced?: number): number {
  const worst = worstCaseSteps(summaryWords, words, groups);
  if (forced !== undefined) {
    if (!Number.isInteger(forced) || forced < 1) {
      throw new PolicyProgramError(
        'policy-program-bad-input',
        `a step budget must be a positive integer, not ${forced}`,
      );
    }
    if (Math.ceil(worst / forced) > MAX_PARTS_PER_PACKET) {
      throw new PolicyProgramError(
        'policy-program-too-large',
        `a step budget of ${forced} needs up to ${Math.ceil(worst / forced)} parts for ${words} words in ${groups} groups; ` +
          `at most ${MAX_PARTS_PER_PACKET} fit in the kernel's tail-call limit`,
      );
    }
    return forced;
  }
  return Math.max(DEFAULT_STEP_BUDGET, Math.ceil(worst / MAX_PARTS_PER_PACKET));
}

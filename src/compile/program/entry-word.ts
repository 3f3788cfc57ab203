// What the program needs to know about an entry once its bit matched: the verdict's jump slot and the rule counter.
import type { IngressEntry } from '../desired-state.js';
import { JumpSlot } from '../../abi/notrack.js';
import { PolicyProgramError } from './limits.js';

/** An entry's word in the entry table: the jump slot of its verdict (0 for Log) in the top 4 bits, its counter below. */
export const ENTRY_SLOT_SHIFT = 28;
export const ENTRY_COUNTER_MASK = (1 << ENTRY_SLOT_SHIFT) - 1;
/** The slot value that marks a Log entry (slot 0 is the policy program itself, never a verdict). */
export const ENTRY_LOG = 0;

export function entryWord(entry: Pick<IngressEntry, 'action' | 'counter'>): number {
  if (!Number.isInteger(entry.counter) || entry.counter < 0 || entry.counter > ENTRY_COUNTER_MASK) {
    throw new PolicyProgramError(
      'policy-program-bad-input',
      `rule counter ${entry.counter} is out of range 0..${ENTRY_COUNTER_MASK}`,
    );
  }
  const slot = { Allow: JumpSlot.accept, Deny: JumpSlot.drop, Pass: JumpSlot.pass, Log: ENTRY_LOG }[entry.action];
  if (slot === undefined)
    throw new PolicyProgramError('policy-program-bad-input', `unknown action ${String(entry.action)}`);
  return ((slot << ENTRY_SLOT_SHIFT) | entry.counter) >>> 0;
}

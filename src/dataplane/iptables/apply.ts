// Converges the raw and filter tables of one family to the desired chains, one atomic iptables-restore per table.
import { NotrackError } from '../../errors.js';
import type { CommandRunner } from '../command-runner.js';
import { diffIptables } from './diff.js';
import { observeIptables, restoreTable } from './observe.js';
import { renderChanges } from './restore.js';
import type { Family, IptablesChange, IptablesDesired, TableName } from './types.js';

/** After applying, the tables still differ: usually a match that iptables reads back in another form. */
class IptablesNotConvergedError extends NotrackError {
  readonly changes: IptablesChange[];
  constructor(changes: IptablesChange[]) {
    const first = changes[0]!;
    const detail =
      first.kind === 'rule-mismatch'
        ? `chain ${first.chain} reads back as [${first.actual.join(' | ')}], rendered as [${first.expected.join(' | ')}]; write matches the way iptables-save prints them`
        : JSON.stringify(first);
    super('iptables-not-converged', `iptables still differs after apply (${changes.length} change(s)): ${detail}`);
    this.changes = changes;
  }
}

interface IptablesApplyResult {
  family: Family;
  /** What differed before the apply (and was fixed). Empty: nothing was touched. */
  fixed: IptablesChange[];
  /** The tables that got an iptables-restore, in order. */
  restored: TableName[];
}

/**
 * Makes the raw and filter tables of `family` hold exactly notrack's desired chains and jumps, touching only
 * chains that differ (unchanged chains keep their counters) and nothing that is not notrack's. The filter table
 * goes first: it only accepts packets already marked, so it is harmless before raw starts marking, while the
 * reverse order could leave freshly untracked packets for the host's filter rules to drop. The result is read
 * back and compared; any remaining difference throws IptablesNotConvergedError.
 *
 * Order with ipsets: call applyIpsets first (every set a new rule names exists and is full), then applyIptables
 * for each family, then pruneIpsets (sets no rule uses any more).
 */
export function applyIptables(runner: CommandRunner, desired: IptablesDesired, family: Family): IptablesApplyResult {
  const before = observeIptables(runner, family);
  const fixed = diffIptables(desired, before);
  const inputs = renderChanges(desired, before);
  const restored: TableName[] = [];
  for (const t of ['filter', 'raw'] as const) {
    const input = inputs[t];
    if (input === null) continue;
    restoreTable(runner, family, input);
    restored.push(t);
  }
  if (restored.length > 0) {
    const left = diffIptables(desired, observeIptables(runner, family));
    if (left.length > 0) throw new IptablesNotConvergedError(left);
  }
  return { family, fixed, restored };
}

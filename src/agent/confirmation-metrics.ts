// Metrics of commit confirmation beside the agent's own registry: switches confirmed or rolled back, and which commit
// is marked bad now (a label per commit only on a gauge that holds one series, so the counter's cardinality stays 1).
import { Counter, Gauge, type Registry } from 'prom-client';
import type { ConfirmOutcome } from './reconciler.js';

export class ConfirmationMetrics {
  private readonly confirmations;
  private readonly rollbacks;
  private readonly rolledBack;

  /** `markedCommit`: the commit the host's record marks rolled back when the agent starts (a restart keeps it). */
  constructor(registry: Registry, markedCommit: string | null = null) {
    const registers = [registry];
    this.confirmations = new Counter({
      name: 'notrack_confirmations_total',
      help: 'Switches to a new commit by the end of their confirmation: Confirmed, RolledBack, RollbackFailed.',
      labelNames: ['result'],
      registers,
    });
    this.rollbacks = new Counter({
      name: 'notrack_rollbacks_total',
      help: 'Switches rolled back because a probe that passed before the switch failed after it.',
      registers,
    });
    this.rolledBack = new Gauge({
      name: 'notrack_rolled_back_commit_info',
      help: 'The commit last rolled back on this host (never retried until the head moves); always 1, absent until a rollback.',
      labelNames: ['commit'],
      registers,
    });
    for (const result of ['Confirmed', 'RolledBack', 'RollbackFailed']) this.confirmations.inc({ result }, 0);
    this.rollbacks.inc(0);
    if (markedCommit) this.rolledBack.set({ commit: markedCommit }, 1);
  }

  confirmed(c: ConfirmOutcome): void {
    this.confirmations.inc({ result: c.status });
    if (c.status === 'Confirmed') return;
    this.rollbacks.inc();
    this.rolledBack.reset();
    this.rolledBack.set({ commit: c.commit ?? '' }, 1);
  }
}

// Per-rule packet and byte counters of notrack's chains, read from an observed IptablesActual.
import { CHAIN_PREFIX, parsePolicyRuleComment } from './names.js';
import { TABLES, type Family, type IptablesActual, type TableName } from './types.js';

interface RuleCounter {
  family: Family;
  table: TableName;
  chain: string;
  /** 1-based position in the chain. */
  position: number;
  /** The -j or -g target. */
  target: string | undefined;
  /** The rule's comment: `notrack:<policy>:<index>` on egress policy rules; structural rules have none. */
  comment: string | undefined;
  /** Set for egress policy rules. */
  policy?: string;
  index?: number;
  packets: number;
  bytes: number;
}

/** Counters of every rule in notrack's chains, in table and chain order. */
export function readRuleCounters(actual: IptablesActual): RuleCounter[] {
  const out: RuleCounter[] = [];
  for (const table of TABLES) {
    for (const c of actual.tables[table].chains) {
      if (c.builtin || !c.name.startsWith(CHAIN_PREFIX)) continue;
      for (const r of c.rules) {
        const id = r.comment === undefined ? undefined : parsePolicyRuleComment(r.comment);
        out.push({
          family: actual.family,
          table,
          chain: c.name,
          position: r.position,
          target: r.target,
          comment: r.comment,
          ...(id ?? {}),
          packets: r.packets,
          bytes: r.bytes,
        });
      }
    }
  }
  return out;
}

// Per-rule packet and byte counters of notrack's chains, read from an observed IptablesActual.
import { CHAIN_PREFIX, parsePolicyRuleComment } from './names.js';
import { ownedRule } from './save-parse.js';
import { TABLES, type Family, type IptablesActual, type TableName } from './types.js';

interface RuleCounter {
  family: Family;
  table: TableName;
  chain: string;
  /** The rule's comment without reading into it: `notrack:<policy>:<index>` or `notrack:<purpose>`. */
  comment: string;
  /** Set for egress policy rules. */
  policy?: string;
  index?: number;
  packets: number;
  bytes: number;
}

/** Counters of every rule notrack wrote, in table and chain order. */
export function readRuleCounters(actual: IptablesActual): RuleCounter[] {
  const out: RuleCounter[] = [];
  for (const table of TABLES) {
    for (const c of actual.tables[table].chains) {
      if (c.builtin || !c.name.startsWith(CHAIN_PREFIX)) continue;
      for (const r of c.rules) {
        if (!ownedRule(r)) continue;
        const id = parsePolicyRuleComment(r.comment!);
        out.push({
          family: actual.family,
          table,
          chain: c.name,
          comment: r.comment!,
          ...(id ?? {}),
          packets: r.packets,
          bytes: r.bytes,
        });
      }
    }
  }
  return out;
}

// iptables-restore input (pure): the full ruleset for an empty table, or only the changes an observed table needs.
import { ruleText } from './rule-text.js';
import { desiredTables } from './ruleset.js';
import { diffTable } from './diff.js';
import {
  TABLES,
  type ActualTable,
  type DesiredTable,
  type Family,
  type IptablesActual,
  type IptablesChange,
  type IptablesDesired,
  type TableName,
} from './types.js';

/**
 * Input for `iptables-restore --noflush` that turns `have` into `want`, or null when nothing differs.
 * Chains that already match are left alone, so their counters keep counting. Within the one transaction:
 * declare (and so flush) every chain to rewrite or remove, delete every rule of a built-in chain that jumps to a
 * NOTRACK- chain where the jumps are not exactly right, refill, insert the jumps at position 1, delete stale chains
 * last, once nothing refers to them.
 */
function renderTableChanges(
  name: TableName,
  want: DesiredTable,
  have: ActualTable,
  changes: IptablesChange[],
): string | null {
  if (changes.length === 0) return null;
  const rewrite = new Set<string>();
  const stale: string[] = [];
  const fixJumps = new Set<string>();
  for (const c of changes) {
    switch (c.kind) {
      case 'missing-chain':
      case 'rule-mismatch':
      case 'foreign-rule':
        rewrite.add(c.chain);
        break;
      case 'extra-chain':
        stale.push(c.chain);
        break;
      default:
        fixJumps.add(c.from);
    }
  }
  const lines = [`*${name}`];
  for (const c of want.chains) if (rewrite.has(c.name)) lines.push(`:${c.name} - [0:0]`);
  for (const s of stale) lines.push(`:${s} - [0:0]`);
  for (const j of have.jumps) if (fixJumps.has(j.from)) lines.push(`-D ${j.from} ${j.rule.text}`);
  for (const c of want.chains) {
    if (!rewrite.has(c.name)) continue;
    for (const r of c.rules) lines.push(`-A ${c.name} ${ruleText(r)}`);
  }
  // Inserting at 1 in reverse keeps several jumps from one built-in chain in their listed order.
  for (const j of [...want.jumps].reverse()) if (fixJumps.has(j.from)) lines.push(`-I ${j.from} 1 -j ${j.to}`);
  for (const s of stale) lines.push(`-X ${s}`);
  lines.push('COMMIT', '');
  return lines.join('\n');
}

function emptyTable(name: TableName): ActualTable {
  return { name, chains: [], jumps: [] };
}

/** The complete iptables-restore input per table for a host that has none of notrack's chains yet. */
export function renderRuleset(desired: IptablesDesired, family: Family): Record<TableName, string> {
  const want = desiredTables(desired, family);
  const out = {} as Record<TableName, string>;
  for (const t of TABLES) {
    const empty = emptyTable(t);
    out[t] = renderTableChanges(t, want[t], empty, diffTable(family, t, want[t], empty)) ?? '';
  }
  return out;
}

/** Per table, the iptables-restore input that fixes every difference between `desired` and `actual` (null: none). */
export function renderChanges(desired: IptablesDesired, actual: IptablesActual): Record<TableName, string | null> {
  const want = desiredTables(desired, actual.family);
  const out = {} as Record<TableName, string | null>;
  for (const t of TABLES) {
    out[t] = renderTableChanges(t, want[t], actual.tables[t], diffTable(actual.family, t, want[t], actual.tables[t]));
  }
  return out;
}

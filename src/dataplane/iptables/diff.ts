// Compares notrack's desired chains and jumps with what iptables-save shows, as typed changes (pure).
import { CHAIN_PREFIX } from './names.js';
import { canonicalRule, ruleText } from './rule-text.js';
import { desiredTables } from './ruleset.js';
import { ownedRule } from './save-parse.js';
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

const key = (tokens: readonly string[]): string => JSON.stringify(canonicalRule(tokens));

/** The changes in one table. */
export function diffTable(family: Family, table: TableName, want: DesiredTable, have: ActualTable): IptablesChange[] {
  const at = { family, table };
  const out: IptablesChange[] = [];
  const haveChains = new Map(have.chains.map((c) => [c.name, c]));
  const wanted = new Set(want.chains.map((c) => c.name));

  for (const c of want.chains) {
    const actual = haveChains.get(c.name);
    if (!actual) {
      out.push({ ...at, kind: 'missing-chain', chain: c.name });
      continue;
    }
    for (const r of actual.rules) {
      if (!ownedRule(r)) out.push({ ...at, kind: 'foreign-rule', chain: c.name, position: r.position, rule: r.text });
    }
    const own = actual.rules.filter(ownedRule);
    const same = own.length === c.rules.length && own.every((r, i) => key(r.tokens) === key(c.rules[i]!));
    if (!same) {
      out.push({
        ...at,
        kind: 'rule-mismatch',
        chain: c.name,
        expected: c.rules.map(ruleText),
        actual: own.map((r) => r.text),
      });
    }
  }
  for (const c of have.chains) {
    if (!c.builtin && c.name.startsWith(CHAIN_PREFIX) && !wanted.has(c.name))
      out.push({ ...at, kind: 'extra-chain', chain: c.name });
  }

  const wantedJump = new Map(want.jumps.map((j) => [`${j.from}\0${j.to}`, j]));
  for (const j of want.jumps) {
    const found = have.jumps.filter((h) => h.from === j.from && h.to === j.to);
    if (found.length === 0) out.push({ ...at, kind: 'missing-jump', from: j.from, to: j.to });
    else if (found.length > 1) out.push({ ...at, kind: 'duplicate-jump', from: j.from, to: j.to, count: found.length });
    else if (found[0]!.position !== 1 || !found[0]!.plain || found[0]!.rule.goto) {
      out.push({
        ...at,
        kind: 'misplaced-jump',
        from: j.from,
        to: j.to,
        position: found[0]!.position,
        rule: found[0]!.rule.text,
      });
    }
  }
  for (const h of have.jumps) {
    if (!wantedJump.has(`${h.from}\0${h.to}`))
      out.push({ ...at, kind: 'extra-jump', from: h.from, to: h.to, rule: h.rule.text });
  }
  return out;
}

/** Every way the kernel's raw and filter tables differ from `desired`, for the family `actual` was read in. */
export function diffIptables(desired: IptablesDesired, actual: IptablesActual): IptablesChange[] {
  const want = desiredTables(desired, actual.family);
  return TABLES.flatMap((t) => diffTable(actual.family, t, want[t], actual.tables[t]));
}

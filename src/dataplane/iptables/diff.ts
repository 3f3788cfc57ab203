// Compares notrack's desired chains and jumps with what iptables-save shows, as typed changes (pure).
import { CHAIN_PREFIX } from './names.js';
import { canonicalRule, ruleText } from './rule-text.js';
import { desiredTables } from './ruleset.js';
import { commentedByNotrack } from './save-parse.js';
import {
  TABLES,
  type ActualRule,
  type ActualTable,
  type DesiredTable,
  type Family,
  type IptablesActual,
  type IptablesChange,
  type IptablesDesired,
  type TableName,
} from './types.js';

const key = (tokens: readonly string[]): string => JSON.stringify(canonicalRule(tokens));

const sameRules = (have: readonly ActualRule[], want: readonly string[][]): boolean =>
  have.length === want.length && have.every((r, i) => key(r.tokens) === key(want[i]!));

/**
 * Splits a NOTRACK- chain's rules into notrack's and foreign ones. Every rule in the chain is notrack's to manage,
 * but a rule is reported as foreign (someone else's, slipped in) unless it is one of the wanted rules (each wanted
 * rule claims one equal rule) or carries a `notrack:` comment: a policy rule, possibly altered, or a rule written
 * by an older notrack, whose structural rules all carried a comment. So a host upgraded in place shows its old
 * chains as changed rules, which the next apply rewrites, never as foreign rules.
 */
function splitRules(
  actual: readonly ActualRule[],
  wanted: readonly string[][],
): { own: ActualRule[]; foreign: ActualRule[] } {
  const unclaimed = new Map<string, number>();
  for (const r of wanted) unclaimed.set(key(r), (unclaimed.get(key(r)) ?? 0) + 1);
  const own: ActualRule[] = [];
  const foreign: ActualRule[] = [];
  for (const r of actual) {
    const k = key(r.tokens);
    const left = unclaimed.get(k) ?? 0;
    if (left > 0) unclaimed.set(k, left - 1);
    if (left > 0 || commentedByNotrack(r)) own.push(r);
    else foreign.push(r);
  }
  return { own, foreign };
}

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
    if (sameRules(actual.rules, c.rules)) continue;
    const { own, foreign } = splitRules(actual.rules, c.rules);
    for (const r of foreign)
      out.push({ ...at, kind: 'foreign-rule', chain: c.name, position: r.position, rule: r.text });
    if (!sameRules(own, c.rules)) {
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

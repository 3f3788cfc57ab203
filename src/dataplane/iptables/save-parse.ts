// Parses iptables-save output (with or without -c counters) into typed tables, chains and rules.
import { NotrackError } from '../../errors.js';
import { CHAIN_PREFIX, COMMENT_PREFIX } from './names.js';
import { tokenizeRule } from './rule-text.js';
import type { ActualChain, ActualRule, ActualTable, BuiltinJump, TableName } from './types.js';

export class IptablesParseError extends NotrackError {
  constructor(line: number, message: string) {
    super('iptables-parse', `iptables-save output line ${line}: ${message}`);
  }
}

/**
 * Every table in the text (or only those named in `only`), by name, chains in the order iptables-save declared them.
 * The lines of a table not asked for are passed over without being read.
 */
export function parseIptablesSave(text: string, only?: readonly string[]): Map<string, ActualChain[]> {
  const tables = new Map<string, ActualChain[]>();
  let chains: Map<string, ActualChain> | undefined;
  let tableName: string | undefined;
  let skipping = false;
  const lines = text.split('\n');
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n]!.trim();
    if (skipping) {
      skipping = line !== 'COMMIT';
      continue;
    }
    if (line === '' || line.startsWith('#')) continue;
    if (line.startsWith('*')) {
      tableName = line.slice(1);
      skipping = only !== undefined && !only.includes(tableName);
      chains = skipping ? undefined : new Map();
      continue;
    }
    if (!chains || !tableName) throw new IptablesParseError(n + 1, `"${line}" outside a table`);
    if (line === 'COMMIT') {
      tables.set(tableName, [...chains.values()]);
      chains = undefined;
      tableName = undefined;
      continue;
    }
    if (line.startsWith(':')) {
      const m = /^:(\S+)\s+(\S+)/.exec(line);
      if (!m) throw new IptablesParseError(n + 1, `bad chain line "${line}"`);
      const policy = m[2]!;
      chains.set(m[1]!, {
        name: m[1]!,
        builtin: policy !== '-',
        policy: policy === '-' ? undefined : policy,
        rules: [],
      });
      continue;
    }
    const m = /^(?:\[(\d+):(\d+)\]\s+)?-A\s+(\S+)\s*(.*)$/.exec(line);
    if (!m) throw new IptablesParseError(n + 1, `unexpected line "${line}"`);
    const chain = chains.get(m[3]!);
    if (!chain) throw new IptablesParseError(n + 1, `rule for undeclared chain ${m[3]}`);
    let tokens: string[];
    try {
      tokens = tokenizeRule(m[4]!);
    } catch (e) {
      throw new IptablesParseError(n + 1, (e as Error).message);
    }
    chain.rules.push({
      chain: chain.name,
      position: chain.rules.length + 1,
      text: m[4]!,
      tokens,
      packets: Number(m[1] ?? 0),
      bytes: Number(m[2] ?? 0),
      comment: commentOf(tokens),
      ...targetOf(tokens),
    });
  }
  if (chains || skipping) throw new IptablesParseError(lines.length, `table ${tableName} has no COMMIT`);
  return tables;
}

function commentOf(tokens: string[]): string | undefined {
  for (let i = 0; i + 3 < tokens.length; i++) {
    if (tokens[i] === '-m' && tokens[i + 1] === 'comment' && tokens[i + 2] === '--comment') return tokens[i + 3];
  }
  return undefined;
}

function targetOf(tokens: string[]): { target: string | undefined; goto: boolean } {
  for (let i = tokens.length - 2; i >= 0; i--) {
    if (tokens[i] === '-j' || tokens[i] === '-g') return { target: tokens[i + 1], goto: tokens[i] === '-g' };
  }
  return { target: undefined, goto: false };
}

/**
 * True when the rule carries a `notrack:` comment: an egress policy rule, or any rule an older notrack wrote (they
 * all carried one). Structural rules no longer do; the diff recognises those by their place in a NOTRACK- chain.
 */
export function commentedByNotrack(rule: ActualRule): boolean {
  return rule.comment?.startsWith(COMMENT_PREFIX) ?? false;
}

/** One table's chains plus the jumps from built-in chains to notrack's, recognised by their target. */
export function actualTable(name: TableName, chains: ActualChain[]): ActualTable {
  const jumps: BuiltinJump[] = [];
  for (const c of chains) {
    if (!c.builtin) continue;
    for (const r of c.rules) {
      if (r.target?.startsWith(CHAIN_PREFIX)) {
        const plain = r.tokens.length === 2 && r.tokens[0] === '-j';
        jumps.push({ from: c.name, to: r.target, position: r.position, plain, rule: r });
      }
    }
  }
  return { name, chains, jumps };
}

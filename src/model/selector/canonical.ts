// Writes a selector tree back as text in one canonical form, the one Calico's String() prints.

import type { SelectorNode } from './ast.js';

/** Strings cannot escape, so a value holding a double quote is single-quoted (it cannot hold both). */
function quote(value: string): string {
  return value.includes('"') ? `'${value}'` : `"${value}"`;
}

const VALUE_OPERATOR_TEXT = {
  eq: ' == ',
  ne: ' != ',
  contains: ' contains ',
  startsWith: ' starts with ',
  endsWith: ' ends with ',
} as const;

/**
 * The canonical text of a tree. Every `&&`/`||` group is parenthesised and `!` is written straight before
 * its operand, so the text re-parses to the same tree; set members come out already sorted and unique.
 */
export function formatSelector(node: SelectorNode): string {
  switch (node.kind) {
    case 'all':
      return 'all()';
    case 'global':
      return 'global()';
    case 'has':
      return `has(${node.label})`;
    case 'eq':
    case 'ne':
    case 'contains':
    case 'startsWith':
    case 'endsWith':
      return `${node.label}${VALUE_OPERATOR_TEXT[node.kind]}${quote(node.value)}`;
    case 'in':
    case 'notIn':
      return `${node.label} ${node.kind === 'in' ? 'in' : 'not in'} {${node.values.map(quote).join(', ')}}`;
    case 'not':
      return `!${formatSelector(node.operand)}`;
    case 'and':
      return `(${node.operands.map(formatSelector).join(' && ')})`;
    case 'or':
      return `(${node.operands.map(formatSelector).join(' || ')})`;
  }
}

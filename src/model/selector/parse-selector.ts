// The entry point: selector text in, a frozen Selector out (tree, matcher and canonical text together).

import type { Selector, SelectorNode } from './ast.js';
import { formatSelector } from './canonical.js';
import { compileMatcher, type LabelMatcher } from './evaluator.js';
import { parseSelectorTree } from './parser.js';

function freezeTree(node: SelectorNode): SelectorNode {
  switch (node.kind) {
    case 'in':
    case 'notIn':
      Object.freeze(node.values);
      break;
    case 'not':
      freezeTree(node.operand);
      break;
    case 'and':
    case 'or':
      node.operands.forEach(freezeTree);
      Object.freeze(node.operands);
      break;
    default:
      break;
  }
  return Object.freeze(node);
}

class ParsedSelector implements Selector {
  readonly source: string;
  readonly ast: SelectorNode;
  private readonly matcher: LabelMatcher;
  private canonical: string | undefined;

  constructor(source: string, ast: SelectorNode) {
    this.source = source;
    this.ast = freezeTree(ast);
    this.matcher = compileMatcher(this.ast);
  }

  matches(labels: Readonly<Record<string, string>>): boolean {
    return this.matcher(labels);
  }

  toString(): string {
    this.canonical ??= formatSelector(this.ast);
    return this.canonical;
  }
}

/**
 * Parses a Calico label selector (`selector`, `notSelector`, a GlobalNetworkPolicy's `selector`).
 * Accepts exactly what Calico accepts; throws SelectorSyntaxError (code `selector-syntax`) with the
 * offset of the offending token otherwise. Empty or blank text selects everything, like `all()`.
 */
export function parseSelector(text: string): Selector {
  return new ParsedSelector(text, parseSelectorTree(text));
}

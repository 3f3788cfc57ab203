// Decides whether a set of labels is selected, with Calico's semantics: only "!=" and "not in" hold for an absent label.

import type { SelectorNode } from './ast.js';

export type LabelMatcher = (labels: Readonly<Record<string, string>>) => boolean;

/** A label's value, read as an own property only: a label called `constructor` must not find Object.prototype. */
function labelValue(labels: Readonly<Record<string, string>>, label: string): string | undefined {
  return Object.hasOwn(labels, label) ? labels[label] : undefined;
}

/**
 * Turns a tree into a predicate once, so that matching many endpoints and network sets walks no tree and
 * `in` is a hash lookup.
 */
export function compileMatcher(node: SelectorNode): LabelMatcher {
  switch (node.kind) {
    case 'all':
    case 'global':
      // global() restricts namespaceSelectors to non-namespaced resources; on labels it is always true.
      return () => true;
    case 'has': {
      const { label } = node;
      return (labels) => Object.hasOwn(labels, label);
    }
    case 'eq': {
      const { label, value } = node;
      return (labels) => labelValue(labels, label) === value;
    }
    case 'ne': {
      const { label, value } = node;
      return (labels) => labelValue(labels, label) !== value;
    }
    case 'contains': {
      const { label, value } = node;
      return (labels) => labelValue(labels, label)?.includes(value) ?? false;
    }
    case 'startsWith': {
      const { label, value } = node;
      return (labels) => labelValue(labels, label)?.startsWith(value) ?? false;
    }
    case 'endsWith': {
      const { label, value } = node;
      return (labels) => labelValue(labels, label)?.endsWith(value) ?? false;
    }
    case 'in': {
      const { label } = node;
      const values = new Set(node.values);
      return (labels) => {
        const value = labelValue(labels, label);
        return value !== undefined && values.has(value);
      };
    }
    case 'notIn': {
      const { label } = node;
      const values = new Set(node.values);
      return (labels) => {
        const value = labelValue(labels, label);
        return value === undefined || !values.has(value);
      };
    }
    case 'not': {
      const operand = compileMatcher(node.operand);
      return (labels) => !operand(labels);
    }
    case 'and': {
      const operands = node.operands.map(compileMatcher);
      return (labels) => operands.every((operand) => operand(labels));
    }
    case 'or': {
      const operands = node.operands.map(compileMatcher);
      return (labels) => operands.some((operand) => operand(labels));
    }
  }
}

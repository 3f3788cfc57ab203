// The shape of a parsed Calico label selector: the syntax tree and the Selector value every stage passes around.

/**
 * One node of a selector's syntax tree. Runs of `!` are folded while parsing (an even count cancels out),
 * so a `not` never wraps another `not`; parentheses leave no node of their own; an `in`/`notIn` set is
 * sorted by code point and holds no duplicates.
 */
export type SelectorNode =
  | { kind: 'all' }
  | { kind: 'global' }
  | { kind: 'has'; label: string }
  | { kind: 'eq' | 'ne' | 'contains' | 'startsWith' | 'endsWith'; label: string; value: string }
  | { kind: 'in' | 'notIn'; label: string; values: string[] }
  | { kind: 'not'; operand: SelectorNode }
  | { kind: 'and' | 'or'; operands: SelectorNode[] };

/** A parsed selector. Its tree is frozen, so `matches` and `toString` can never disagree with `ast`. */
export interface Selector {
  /** The text as written in the policy. */
  readonly source: string;
  readonly ast: SelectorNode;
  /** True when an object carrying these labels is selected. */
  matches(labels: Readonly<Record<string, string>>): boolean;
  /**
   * The canonical text: the same form Calico prints (`(a == "x" && has(b))`), stable across spellings of
   * the same selector, and re-parsing it gives an equal tree. Used for hashing and display.
   */
  toString(): string;
}

// Builds the syntax tree of a selector: `||` binds loosest, then `&&`, then prefix `!`, as in Calico's parser.

import type { SelectorNode } from './ast.js';
import { SelectorSyntaxError } from './syntax-error.js';
import { abbreviate, describeToken, SelectorTokenizer, type Token } from './tokenizer.js';

/** How deeply parentheses may nest; deeper input is refused so parsing can never exhaust the stack. */
export const MAX_SELECTOR_NESTING = 256;

const VALUE_OPERATORS = {
  eq: { kind: 'eq', spelled: '==' },
  ne: { kind: 'ne', spelled: '!=' },
  contains: { kind: 'contains', spelled: 'contains' },
  startsWith: { kind: 'startsWith', spelled: 'starts with' },
  endsWith: { kind: 'endsWith', spelled: 'ends with' },
} as const;

const OPERATOR_LIST = '"==", "!=", "in", "not in", "contains", "starts with" or "ends with"';

/** Orders strings by code point, which is the byte order of their UTF-8 (how Calico sorts set members). */
function compareCodePoints(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const ca = a.codePointAt(i) ?? 0;
    const cb = b.codePointAt(j) ?? 0;
    if (ca !== cb) return ca < cb ? -1 : 1;
    i += ca > 0xffff ? 2 : 1;
    j += cb > 0xffff ? 2 : 1;
  }
  return a.length - i - (b.length - j);
}

/** A note on a word that is a common slip for an operator. */
function wordHint(token: Token): string {
  if (token.kind !== 'label') return '';
  const lower = token.value.toLowerCase();
  if (lower === 'and') return `; write "&&" instead of "${token.value}"`;
  if (lower === 'or') return `; write "||" instead of "${token.value}"`;
  return '';
}

/** For a bare word where a value belongs: how to write it, when it is short enough to repeat. */
function quoteHint(word: string): string {
  return word.length <= 40 ? `; write '${word}'` : '';
}

class SelectorParser {
  private readonly tokens: SelectorTokenizer;
  private lookahead: Token | undefined;
  /** Offsets of the "(" not yet closed, innermost last. */
  private readonly open: number[] = [];

  constructor(private readonly source: string) {
    this.tokens = new SelectorTokenizer(source);
  }

  parse(): SelectorNode {
    if (this.peek().kind === 'eof') return { kind: 'all' };
    const node = this.parseOr(undefined);
    const rest = this.peek();
    if (rest.kind !== 'eof') this.failAfterTerm(rest);
    return node;
  }

  private peek(): Token {
    // Lexing lazily keeps errors in reading order: a bad token is only looked at once it is reached.
    this.lookahead ??= this.tokens.next();
    return this.lookahead;
  }

  private take(): Token {
    const token = this.peek();
    this.lookahead = undefined;
    return token;
  }

  private fail(message: string, offset: number): never {
    throw new SelectorSyntaxError(message, offset, this.source);
  }

  private parseOr(after: Token | undefined): SelectorNode {
    const operands = [this.parseAnd(after)];
    while (this.peek().kind === 'or') {
      const operator = this.take();
      operands.push(this.parseAnd(operator));
    }
    return operands.length === 1 ? operands[0]! : { kind: 'or', operands };
  }

  private parseAnd(after: Token | undefined): SelectorNode {
    const operands = [this.parseOperation(after)];
    while (this.peek().kind === 'and') {
      const operator = this.take();
      operands.push(this.parseOperation(operator));
    }
    return operands.length === 1 ? operands[0]! : { kind: 'and', operands };
  }

  /** One possibly negated term; `after` is the token before it, for messages. */
  private parseOperation(after: Token | undefined): SelectorNode {
    let negated = false;
    let previous = after;
    while (this.peek().kind === 'not') {
      previous = this.take();
      negated = !negated;
    }
    const token = this.peek();
    let node: SelectorNode;
    switch (token.kind) {
      case 'has':
        this.take();
        node = { kind: 'has', label: token.value };
        break;
      case 'all':
      case 'global':
        this.take();
        node = { kind: token.kind };
        break;
      case 'label':
        node = this.parseComparison();
        break;
      case 'lparen':
        node = this.parseGroup();
        break;
      default:
        this.failNoTerm(token, previous);
    }
    if (!negated) return node;
    // `!(!x)` is x: folding keeps the canonical text re-parsing to the same tree.
    return node.kind === 'not' ? node.operand : { kind: 'not', operand: node };
  }

  private parseGroup(): SelectorNode {
    const lparen = this.take();
    if (this.open.length >= MAX_SELECTOR_NESTING) {
      this.fail(`parentheses are nested more than ${MAX_SELECTOR_NESTING} deep`, lparen.offset);
    }
    this.open.push(lparen.offset);
    const node = this.parseOr(lparen);
    const close = this.peek();
    if (close.kind !== 'rparen') this.failAfterTerm(close);
    this.take();
    this.open.pop();
    return node;
  }

  private parseComparison(): SelectorNode {
    const label = this.take();
    const operator = this.peek();
    switch (operator.kind) {
      case 'eq':
      case 'ne':
      case 'contains':
      case 'startsWith':
      case 'endsWith': {
        this.take();
        const { kind, spelled } = VALUE_OPERATORS[operator.kind];
        return { kind, label: label.value, value: this.expectString(spelled) };
      }
      case 'in':
      case 'notIn':
        this.take();
        return { kind: operator.kind, label: label.value, values: this.parseSet(operator) };
      default:
        return this.failNoOperator(label, operator);
    }
  }

  private expectString(spelled: string): string {
    const token = this.peek();
    if (token.kind !== 'string') {
      const hint = token.kind === 'label' ? quoteHint(token.value) : '';
      this.fail(`"${spelled}" needs a quoted string but found ${describeToken(token)}${hint}`, token.offset);
    }
    this.take();
    return token.value;
  }

  private parseSet(operator: Token): string[] {
    const spelled = operator.kind === 'in' ? 'in' : 'not in';
    const lbrace = this.peek();
    if (lbrace.kind !== 'lbrace') {
      const hint = lbrace.kind === 'string' && lbrace.text.length <= 40 ? `; write {${lbrace.text}}` : '';
      this.fail(
        `"${spelled}" needs a set of quoted strings in braces, like {'a', 'b'}, but found ${describeToken(lbrace)}${hint}`,
        lbrace.offset,
      );
    }
    this.take();
    const values: string[] = [];
    // Calico allows an empty set and a trailing comma; "in {}" matches nothing and "not in {}" everything.
    for (;;) {
      const item = this.peek();
      if (item.kind === 'rbrace') break;
      if (item.kind !== 'string') {
        const hint = item.kind === 'label' ? quoteHint(item.value) : '';
        this.failInSet(
          item,
          lbrace,
          `expected a quoted string or "}" in the set but found ${describeToken(item)}${hint}`,
        );
      }
      this.take();
      values.push(item.value);
      const separator = this.peek();
      if (separator.kind === 'rbrace') break;
      if (separator.kind !== 'comma') {
        this.failInSet(
          separator,
          lbrace,
          `expected "," or "}" after ${describeToken(item)} in the set but found ${describeToken(separator)}`,
        );
      }
      this.take();
    }
    this.take();
    values.sort(compareCodePoints);
    return values.filter((value, i) => i === 0 || value !== values[i - 1]);
  }

  private failInSet(found: Token, lbrace: Token, message: string): never {
    if (found.kind === 'eof') this.fail(`"{" at offset ${lbrace.offset} is never closed`, lbrace.offset);
    this.fail(message, found.offset);
  }

  private failNoOperator(label: Token, found: Token): never {
    if (label.value === 'not') {
      this.fail('"not" is not an operator here; write "!" to negate', label.offset);
    }
    if ((label.value === 'has' || label.value === 'all' || label.value === 'global') && found.kind === 'lparen') {
      this.fail(`no space is allowed between "${label.value}" and "("`, found.offset);
    }
    this.fail(
      `expected ${OPERATOR_LIST} after label "${abbreviate(label.value)}" but found ${describeToken(found)}`,
      found.offset,
    );
  }

  /** Where a term must start but does not. */
  private failNoTerm(found: Token, previous: Token | undefined): never {
    if (found.kind === 'rparen' && this.open.length === 0 && previous === undefined) {
      this.fail('unexpected ")" without a matching "("', found.offset);
    }
    const hint = found.kind === 'string' ? '; a label name is written without quotes' : '';
    const where = previous === undefined ? 'at the start of the selector' : `after "${previous.text}"`;
    this.fail(`expected an expression ${where} but found ${describeToken(found)}${hint}`, found.offset);
  }

  /** After a complete term, only "&&", "||", a closing ")" (inside parentheses) or the end may follow. */
  private failAfterTerm(found: Token): never {
    const innermost = this.open[this.open.length - 1];
    if (innermost === undefined) {
      if (found.kind === 'rparen') this.fail('unexpected ")" without a matching "("', found.offset);
      this.fail(
        `expected "&&", "||" or end of selector but found ${describeToken(found)}${wordHint(found)}`,
        found.offset,
      );
    }
    if (found.kind === 'eof') this.fail(`"(" at offset ${innermost} is never closed`, innermost);
    this.fail(`expected "&&", "||" or ")" but found ${describeToken(found)}${wordHint(found)}`, found.offset);
  }
}

/** Parses selector text into its tree; throws SelectorSyntaxError. Whitespace-only text selects everything. */
export function parseSelectorTree(text: string): SelectorNode {
  return new SelectorParser(text).parse();
}

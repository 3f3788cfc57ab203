// Splits selector text into tokens, one at a time, the way Calico's tokenizer does (libcalico-go/lib/selector).

import { SelectorSyntaxError } from './syntax-error.js';

/** Calico's tokenizer rejects longer label names. */
export const MAX_LABEL_LENGTH = 512;

type TokenKind =
  | 'label'
  | 'string'
  | 'eq'
  | 'ne'
  | 'in'
  | 'notIn'
  | 'contains'
  | 'startsWith'
  | 'endsWith'
  | 'has'
  | 'all'
  | 'global'
  | 'not'
  | 'and'
  | 'or'
  | 'lparen'
  | 'rparen'
  | 'lbrace'
  | 'rbrace'
  | 'comma'
  | 'eof';

export interface Token {
  readonly kind: TokenKind;
  /** Index of the token's first character in the selector text. */
  readonly offset: number;
  /** The token exactly as written, quotes included. */
  readonly text: string;
  /** The label name (label, has) or the string's content (string); otherwise the text. */
  readonly value: string;
}

const SPACE = 0x20;
const TAB = 0x09;

/** Calico's label alphabet: ASCII letters and digits, `_`, `.`, `/` and `-`. */
function isLabelChar(code: number): boolean {
  return (
    (code >= 0x61 && code <= 0x7a) ||
    (code >= 0x41 && code <= 0x5a) ||
    (code >= 0x30 && code <= 0x39) ||
    code === 0x5f ||
    code === 0x2e ||
    code === 0x2f ||
    code === 0x2d
  );
}

/** Shortens what an error quotes so that a long label or string does not swamp the message. */
export function abbreviate(text: string): string {
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

/** Quotes one character for a message; invisible ones (controls, odd spaces) are named by code point. */
function showChar(char: string): string {
  if (/[\p{C}\p{Z}]/u.test(char)) {
    return `U+${(char.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`;
  }
  return JSON.stringify(char);
}

/** How an error message names a token it did not expect. */
export function describeToken(token: Token): string {
  if (token.kind === 'eof') return 'end of selector';
  if (token.kind === 'string') return `string ${abbreviate(token.text)}`;
  return JSON.stringify(abbreviate(token.text));
}

/**
 * Produces tokens on demand, so the parser reports the first problem in reading order. Words are
 * contextual, as in Calico: right after a label, `contains`, `in`, `not in`, `starts with` and `ends with`
 * are operators (`notin`, `startswith` and `endswith` too); anywhere else a word is a label, so a label
 * may itself be called `in` or `contains`.
 */
export class SelectorTokenizer {
  private pos = 0;
  private previous: TokenKind | undefined;

  constructor(private readonly source: string) {}

  next(): Token {
    const token = this.scan();
    this.previous = token.kind;
    return token;
  }

  private fail(message: string, offset: number): never {
    throw new SelectorSyntaxError(message, offset, this.source);
  }

  private skipBlanks(): void {
    // Calico separates tokens with spaces and tabs only; anything else is an error there too.
    const s = this.source;
    while (this.pos < s.length) {
      const c = s.charCodeAt(this.pos);
      if (c !== SPACE && c !== TAB) break;
      this.pos++;
    }
  }

  private readWord(): string {
    const s = this.source;
    const start = this.pos;
    while (this.pos < s.length && isLabelChar(s.charCodeAt(this.pos))) this.pos++;
    return s.slice(start, this.pos);
  }

  /** Names whatever starts at `offset`, for "but found ..." without consuming it. */
  private foundAt(offset: number): string {
    const s = this.source;
    if (offset >= s.length) return 'end of selector';
    let end = offset;
    while (end < s.length && isLabelChar(s.charCodeAt(end))) end++;
    if (end > offset) return JSON.stringify(abbreviate(s.slice(offset, end)));
    return showChar(String.fromCodePoint(s.codePointAt(offset) ?? 0));
  }

  private make(kind: TokenKind, start: number, value?: string): Token {
    const text = this.source.slice(start, this.pos);
    return { kind, offset: start, text, value: value ?? text };
  }

  private scan(): Token {
    const s = this.source;
    this.skipBlanks();
    const start = this.pos;
    if (start >= s.length) return { kind: 'eof', offset: s.length, text: '', value: '' };
    const ch = s[start];
    const nextCh = s[start + 1];
    switch (ch) {
      case '(':
        this.pos++;
        return this.make('lparen', start);
      case ')':
        this.pos++;
        return this.make('rparen', start);
      case '{':
        this.pos++;
        return this.make('lbrace', start);
      case '}':
        this.pos++;
        return this.make('rbrace', start);
      case ',':
        this.pos++;
        return this.make('comma', start);
      case '"':
      case "'": {
        // No escapes: a string runs to the next quote of the kind that opened it.
        const close = s.indexOf(ch, start + 1);
        if (close < 0) this.fail(`unterminated string starting at offset ${start}`, start);
        this.pos = close + 1;
        return this.make('string', start, s.slice(start + 1, close));
      }
      case '=':
        if (nextCh !== '=') this.fail('"=" is not an operator; write "==" to test a label\'s value', start);
        this.pos += 2;
        return this.make('eq', start);
      case '!':
        if (nextCh === '=') {
          this.pos += 2;
          return this.make('ne', start);
        }
        this.pos++;
        return this.make('not', start);
      case '&':
        if (nextCh !== '&') this.fail('"&" is not an operator; write "&&" for "and"', start);
        this.pos += 2;
        return this.make('and', start);
      case '|':
        if (nextCh !== '|') this.fail('"|" is not an operator; write "||" for "or"', start);
        this.pos += 2;
        return this.make('or', start);
      default:
        break;
    }
    if (!isLabelChar(s.charCodeAt(start))) this.unexpectedCharacter(start);
    const word = this.readWord();
    if (this.previous === 'label') return this.operatorAfterLabel(word, start);
    if ((word === 'has' || word === 'all' || word === 'global') && s[this.pos] === '(') {
      return this.call(word, start);
    }
    return this.label(word, start);
  }

  private label(word: string, start: number): Token {
    if (word.length > MAX_LABEL_LENGTH) {
      this.fail(`label name is ${word.length} characters long; the limit is ${MAX_LABEL_LENGTH}`, start);
    }
    return this.make('label', start, word);
  }

  private operatorAfterLabel(word: string, start: number): Token {
    switch (word) {
      case 'contains':
        return this.make('contains', start);
      case 'in':
        return this.make('in', start);
      case 'notin':
        return this.make('notIn', start);
      case 'startswith':
        return this.make('startsWith', start);
      case 'endswith':
        return this.make('endsWith', start);
      case 'not':
        return this.twoWordOperator(word, 'in', 'notIn', start);
      case 'starts':
        return this.twoWordOperator(word, 'with', 'startsWith', start);
      case 'ends':
        return this.twoWordOperator(word, 'with', 'endsWith', start);
      default:
        // Not an operator: hand it on as a word, and let the parser say what it expected instead.
        return this.make('label', start, word);
    }
  }

  private twoWordOperator(first: string, second: string, kind: TokenKind, start: number): Token {
    this.skipBlanks();
    const secondStart = this.pos;
    if (this.readWord() !== second) {
      this.fail(`expected "${second}" after "${first}" but found ${this.foundAt(secondStart)}`, secondStart);
    }
    return this.make(kind, start);
  }

  /** `has(label)`, `all()` and `global()`; like Calico, blanks are allowed inside the parentheses but not before. */
  private call(name: 'has' | 'all' | 'global', start: number): Token {
    this.pos++; // the "("
    this.skipBlanks();
    let label = '';
    if (name === 'has') {
      const labelStart = this.pos;
      if (!isLabelChar(this.source.charCodeAt(labelStart))) {
        this.fail(`expected a label name after "has(" but found ${this.foundAt(labelStart)}`, labelStart);
      }
      label = this.label(this.readWord(), labelStart).value;
      this.skipBlanks();
    }
    if (this.source[this.pos] !== ')') {
      const opened = name === 'has' ? `has(${abbreviate(label)}` : `${name}(`;
      this.fail(`expected ")" after "${opened}" but found ${this.foundAt(this.pos)}`, this.pos);
    }
    this.pos++;
    return this.make(name, start, name === 'has' ? label : undefined);
  }

  private unexpectedCharacter(offset: number): never {
    const char = String.fromCodePoint(this.source.codePointAt(offset) ?? 0);
    if (char === '\n' || char === '\r') {
      // Calico rejects these too; in YAML they usually come from a ">" or "|" block scalar's final newline.
      this.fail(
        'unexpected line break: a selector must be on one line, with only spaces and tabs between its parts (in YAML, use ">-" rather than ">" or "|")',
        offset,
      );
    }
    if (/\s/u.test(char)) {
      this.fail(
        `unexpected whitespace ${showChar(char)}: only spaces and tabs may separate the parts of a selector`,
        offset,
      );
    }
    if (/[\p{L}\p{N}]/u.test(char)) {
      this.fail(
        `unexpected character ${showChar(char)}: label names may use only ASCII letters, digits, "_", ".", "/" and "-"`,
        offset,
      );
    }
    this.fail(`unexpected character ${showChar(char)}`, offset);
  }
}

// The selector language as a policy author meets it: what a selector selects, its canonical text, and its errors.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { NotrackError } from '../../src/errors.js';
import { mulberry32 } from '../support/seeded-random.js';
import {
  MAX_LABEL_LENGTH,
  MAX_SELECTOR_NESTING,
  parseSelector,
  SelectorSyntaxError,
  type SelectorNode,
} from '../../src/model/selector/index.js';

type Labels = Record<string, string>;

/** Asserts which label sets `text` selects and which it does not. */
function selects(text: string, matching: Labels[], notMatching: Labels[]): void {
  const selector = parseSelector(text);
  for (const labels of matching) {
    assert.ok(selector.matches(labels), `${text} should select ${JSON.stringify(labels)}`);
  }
  for (const labels of notMatching) {
    assert.not.ok(selector.matches(labels), `${text} should not select ${JSON.stringify(labels)}`);
  }
}

/** Parses text that must fail, and returns the error. */
function syntaxError(text: string): SelectorSyntaxError {
  try {
    parseSelector(text);
  } catch (error) {
    if (error instanceof SelectorSyntaxError) return error;
    throw error;
  }
  throw new Error(`expected ${JSON.stringify(text)} to be rejected`);
}

function rejects(text: string, message: string, offset: number): void {
  const error = syntaxError(text);
  assert.is(error.message, message, `message for ${JSON.stringify(text)}`);
  assert.is(error.offset, offset, `offset for ${JSON.stringify(text)}`);
}

// ---- operators -------------------------------------------------------------------------------------------

test('== selects only the exact value and never an absent label', () => {
  selects(
    `role == 'db'`,
    [{ role: 'db' }, { role: 'db', zone: 'a' }],
    [{ role: 'web' }, { role: 'db2' }, {}, { zone: 'db' }],
  );
});

test('!= selects a different value and an absent label', () => {
  selects(`role != 'db'`, [{ role: 'web' }, {}, { zone: 'db' }], [{ role: 'db' }]);
});

test('in selects a listed value; not in selects an unlisted value and an absent label', () => {
  selects(`zone in { 'a', "b" }`, [{ zone: 'a' }, { zone: 'b' }], [{ zone: 'c' }, {}, { a: 'zone' }]);
  selects(`zone not in { 'a', "b" }`, [{ zone: 'c' }, {}], [{ zone: 'a' }, { zone: 'b' }]);
});

test('an empty set is allowed: in {} selects nothing and not in {} selects everything', () => {
  selects(`zone in {}`, [], [{ zone: '' }, { zone: 'a' }, {}]);
  selects(`zone not in {}`, [{ zone: '' }, { zone: 'a' }, {}], []);
});

test('has() selects any value of the label, including the empty string', () => {
  selects(`has(role)`, [{ role: 'db' }, { role: '' }], [{}, { rolex: 'db' }]);
  selects(`!has(role)`, [{}, { other: 'x' }], [{ role: '' }]);
});

test('contains, starts with and ends with test substrings of a present label only', () => {
  selects(`name contains 'eth'`, [{ name: 'eth0' }, { name: 'veth1' }], [{ name: 'en0' }, {}]);
  selects(`name starts with 'eth'`, [{ name: 'eth0' }, { name: 'eth' }], [{ name: 'veth1' }, {}]);
  selects(`name ends with '0'`, [{ name: 'eth0' }], [{ name: 'eth1' }, {}]);
  selects(`!name contains 'x'`, [{ name: 'abc' }, {}], [{ name: 'xyz' }]);
});

test('an empty needle matches every present value but still not an absent label', () => {
  selects(`name contains ''`, [{ name: '' }, { name: 'x' }], [{}]);
  selects(`name starts with ""`, [{ name: 'x' }], [{}]);
});

test('all(), global() and an empty or blank selector select everything', () => {
  for (const text of ['all()', 'global()', '', '   ', '\t', ' all( ) ', '(all())']) {
    selects(text, [{}, { role: 'db' }], []);
  }
  selects('!all()', [], [{}, { role: 'db' }]);
});

test('a label named like an inherited object property is absent unless really set', () => {
  selects(`has(constructor)`, [{ constructor: 'x' }], [{}]);
  selects(`toString != 'x'`, [{}], [{ toString: 'x' }]);
  selects(`__proto__ in {'a'}`, [], [{}]);
});

// ---- boolean structure -----------------------------------------------------------------------------------

test('&& binds tighter than ||', () => {
  const selector = parseSelector(`a == 'x' || b == 'y' && c == 'z'`);
  assert.equal(selector.ast, {
    kind: 'or',
    operands: [
      { kind: 'eq', label: 'a', value: 'x' },
      {
        kind: 'and',
        operands: [
          { kind: 'eq', label: 'b', value: 'y' },
          { kind: 'eq', label: 'c', value: 'z' },
        ],
      },
    ],
  });
  assert.ok(selector.matches({ a: 'x' }));
  assert.ok(selector.matches({ b: 'y', c: 'z' }));
  assert.not.ok(selector.matches({ b: 'y' }));
  assert.not.ok(selector.matches({ c: 'z' }));
});

test('parentheses override precedence', () => {
  const text = `(a == 'x' || b == 'y') && c == 'z'`;
  selects(
    text,
    [
      { a: 'x', c: 'z' },
      { b: 'y', c: 'z' },
    ],
    [{ a: 'x' }, { c: 'z' }],
  );
  assert.is(parseSelector(text).toString(), '((a == "x" || b == "y") && c == "z")');
});

test('! negates the term after it, not the whole && chain', () => {
  selects(`!a == 'x' && b == 'y'`, [{ b: 'y' }, { a: 'z', b: 'y' }], [{ a: 'x', b: 'y' }, {}]);
  selects(`!(a == 'x' && b == 'y')`, [{ a: 'x' }, {}], [{ a: 'x', b: 'y' }]);
});

test('repeated ! toggles, with or without blanks between', () => {
  assert.equal(parseSelector('!!has(a)').ast, { kind: 'has', label: 'a' });
  assert.equal(parseSelector('!!!has(a)').ast, { kind: 'not', operand: { kind: 'has', label: 'a' } });
  assert.equal(parseSelector('! ! !  has(a)').ast, parseSelector('!has(a)').ast);
  assert.equal(parseSelector('!(!has(a))').ast, { kind: 'has', label: 'a' });
  selects('!!!!has(a)', [{ a: '' }], [{}]);
});

test('redundant parentheses leave no trace in the tree', () => {
  assert.equal(parseSelector(`((((has(a)))))`).ast, { kind: 'has', label: 'a' });
});

// ---- lexical details --------------------------------------------------------------------------------------

test('both quote styles work and each may hold the other quote character', () => {
  assert.equal(parseSelector(`a == 'x'`).ast, parseSelector(`a == "x"`).ast);
  selects(`a == '"'`, [{ a: '"' }], [{ a: "'" }]);
  selects(`a == "'"`, [{ a: "'" }], [{ a: '"' }]);
  selects(`a in {"it's", 'say "hi"'}`, [{ a: "it's" }, { a: 'say "hi"' }], [{ a: 'its' }]);
});

test('strings have no escapes: a backslash is an ordinary character', () => {
  selects(`a == 'x\\'`, [{ a: 'x\\' }], [{ a: 'x' }]);
});

test('label keys may carry a DNS prefix and use digits, ".", "_", "-" and "/"', () => {
  selects(`projectcalico.org/name == 'host-1'`, [{ 'projectcalico.org/name': 'host-1' }], [{ name: 'host-1' }]);
  selects(
    `has(kubernetes.io/hostname) && app.kubernetes.io/part-of in {'edge'}`,
    [{ 'kubernetes.io/hostname': 'n1', 'app.kubernetes.io/part-of': 'edge' }],
    [{ 'kubernetes.io/hostname': 'n1' }],
  );
  selects(`my_label-2.x == '1'`, [{ 'my_label-2.x': '1' }], []);
});

test(`label keys up to ${MAX_LABEL_LENGTH} characters are accepted`, () => {
  const key = 'k'.repeat(MAX_LABEL_LENGTH);
  selects(`has(${key})`, [{ [key]: 'v' }], [{}]);
  selects(`${key} == 'v'`, [{ [key]: 'v' }], [{}]);
});

test('operator words are only operators right after a label, so labels may be called in, contains or not', () => {
  selects(`contains contains 'contains'`, [{ contains: 'xcontainsx' }], [{ contains: 'x' }]);
  selects(`in in {'in'}`, [{ in: 'in' }], [{}]);
  selects(`not == 'x' && has == 'y'`, [{ not: 'x', has: 'y' }], [{ not: 'x' }]);
});

test('Calico spellings without blanks are accepted: startswith, endswith, notin, and no space before a quote or brace', () => {
  assert.equal(parseSelector(`a startswith 'x'`).ast, parseSelector(`a starts with 'x'`).ast);
  assert.equal(parseSelector(`a endswith'x'`).ast, parseSelector(`a ends with 'x'`).ast);
  assert.equal(parseSelector(`a notin{'x'}`).ast, parseSelector(`a not in {'x'}`).ast);
  assert.equal(parseSelector(`a=="x"&&!has(b)||c!='d'`).ast, parseSelector(`a == "x" && !has(b) || c != 'd'`).ast);
});

test('spaces and tabs are ignored between tokens and inside has(), all() and global()', () => {
  const spaced = parseSelector(`\t a  ==\t'x'  &&   has(  b\t)  ||  all(\t)  || global( ) `);
  const tight = parseSelector(`a=='x'&&has(b)||all()||global()`);
  assert.equal(spaced.ast, tight.ast);
  assert.is(spaced.source, `\t a  ==\t'x'  &&   has(  b\t)  ||  all(\t)  || global( ) `);
});

test('blanks inside a string are part of the value', () => {
  selects(`a == ' x '`, [{ a: ' x ' }], [{ a: 'x' }]);
});

test('set members are sorted and de-duplicated, a trailing comma allowed', () => {
  assert.equal(parseSelector(`a in {'z', "b", 'z', 'a',}`).ast, { kind: 'in', label: 'a', values: ['a', 'b', 'z'] });
  // By code point (Calico's UTF-8 byte order), not by UTF-16 unit: U+FFFF sorts before U+1F600.
  assert.is(parseSelector(`a in {'\u{1F600}', '\uFFFF'}`).toString(), `a in {"\uFFFF", "\u{1F600}"}`);
});

// ---- canonical text ----------------------------------------------------------------------------------------

test("toString gives Calico's canonical form", () => {
  const cases: [string, string][] = [
    ['', 'all()'],
    [' ( all() ) ', 'all()'],
    ['global()', 'global()'],
    [`! (has( b)||! has(a ))`, '!(has(b) || !has(a))'],
    [`! (a == "b"&&! c != "d")`, '!(a == "b" && !c != "d")'],
    [`a == '"'`, `a == '"'`],
    [`a contains "'"`, `a contains "'"`],
    [`a startswith 'x'`, 'a starts with "x"'],
    [`a endswith 'x'`, 'a ends with "x"'],
    [`a in {"d", "a", "b", "a"}`, 'a in {"a", "b", "d"}'],
    [`a not in {}`, 'a not in {}'],
    [`a in {'"', "'"}`, `a in {'"', "'"}`],
    [`!(k == 'v')`, '!k == "v"'],
    [`a == 'x' || b == 'y' && c == 'z'`, '(a == "x" || (b == "y" && c == "z"))'],
  ];
  for (const [input, canonical] of cases) {
    assert.is(parseSelector(input).toString(), canonical, `canonical form of ${JSON.stringify(input)}`);
  }
});

test('toString re-parses to an equal tree and is a fixed point', () => {
  const inputs = [
    `a == 'x' || b == 'y' && c == 'z'`,
    `(a == 'x' || b == 'y') && (c in {'q', 'p'} || !has(d))`,
    `!(!(k == 'v' && has(t) || all()) && (a in {'b', 'c'}))`,
    `!!!(x not in {"'"}) && y ends with '"' && z starts with 'p' && w contains ''`,
    `((a == 'x') || (b == 'y')) || c == 'z'`,
    `!global() || projectcalico.org/name != 'n'`,
  ];
  for (const input of inputs) {
    const first = parseSelector(input);
    const second = parseSelector(first.toString());
    assert.equal(second.ast, first.ast, `tree of ${JSON.stringify(input)} after a round trip`);
    assert.is(second.toString(), first.toString());
  }
});

test('different spellings of one selector share one canonical text', () => {
  const spellings = [
    `a=="x"&&b in{'q','p'}`,
    ` a == 'x' && b in { "p" , "q" , "p" } `,
    `(a == "x" && b in {'p', 'q',})`,
  ];
  const canonical = spellings.map((text) => parseSelector(text).toString());
  assert.equal(canonical, Array(3).fill('(a == "x" && b in {"p", "q"})'));
});

test('the parsed tree is frozen, so it cannot drift from what matches() does', () => {
  const selector = parseSelector(`a in {'x'} && has(b)`);
  const and = selector.ast as Extract<SelectorNode, { kind: 'and' | 'or' }>;
  assert.ok(Object.isFrozen(and));
  assert.ok(Object.isFrozen(and.operands));
  assert.throws(() => {
    (and.operands[0] as Extract<SelectorNode, { kind: 'in' | 'notIn' }>).values.push('y');
  });
  assert.not.ok(selector.matches({ a: 'y', b: '' }));
});

// ---- generated inputs ---------------------------------------------------------------------------------------

test('generated selectors keep their meaning through the canonical text', () => {
  const next = mulberry32(7);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!;
  const labels = ['a', 'b', 'x.io/c'];
  const values = ['', 'p', 'q', "it's", 'say "x"'];
  const quoted = (v: string): string => (v.includes("'") ? `"${v}"` : `'${v}'`);
  const term = (depth: number): string => {
    const bang = '!'.repeat(Math.floor(next() * 3));
    const roll = next();
    if (depth > 0 && roll < 0.25) {
      const op = pick([' && ', ' || ', '&&', '||']);
      return `${bang}(${term(depth - 1)}${op}${term(depth - 1)})`;
    }
    const label = pick(labels);
    switch (pick(['eq', 'ne', 'in', 'notin', 'has', 'contains', 'starts', 'ends', 'all', 'global'])) {
      case 'eq':
        return `${bang}${label} == ${quoted(pick(values))}`;
      case 'ne':
        return `${bang}${label}!=${quoted(pick(values))}`;
      case 'in':
        return `${bang}${label} in {${[pick(values), pick(values)].map(quoted).join(', ')}}`;
      case 'notin':
        return `${bang}${label} not in {${quoted(pick(values))},}`;
      case 'has':
        return `${bang}has( ${label})`;
      case 'contains':
        return `${bang}${label} contains ${quoted(pick(values))}`;
      case 'starts':
        return `${bang}${label} startswith ${quoted(pick(values))}`;
      case 'ends':
        return `${bang}${label} ends  with ${quoted(pick(values))}`;
      case 'all':
        return `${bang}all()`;
      default:
        return `${bang}global()`;
    }
  };
  const labelSets: Labels[] = [];
  for (let i = 0; i < 40; i++) {
    const set: Labels = {};
    for (const label of labels) if (next() < 0.6) set[label] = pick(values.concat(['pq', 'xqx']));
    labelSets.push(set);
  }
  for (let i = 0; i < 1500; i++) {
    const text = `${term(3)} ${pick(['&&', '||'])} ${term(2)}`;
    const selector = parseSelector(text);
    const again = parseSelector(selector.toString());
    assert.equal(again.ast, selector.ast, text);
    for (const set of labelSets)
      assert.is(again.matches(set), selector.matches(set), `${text} on ${JSON.stringify(set)}`);
  }
});

test('arbitrary text either parses or fails with a SelectorSyntaxError inside the text', () => {
  const next = mulberry32(11);
  const alphabet = [
    'a',
    'b',
    ' ',
    '\t',
    '(',
    ')',
    '{',
    '}',
    ',',
    "'",
    '"',
    '=',
    '!',
    '&',
    '|',
    'in',
    'not',
    'has(',
    'all(',
    'starts',
    'with',
    '\n',
    'é',
    '%',
  ];
  let parsed = 0;
  for (let i = 0; i < 3000; i++) {
    const length = Math.floor(next() * 14);
    const text = Array.from({ length }, () => alphabet[Math.floor(next() * alphabet.length)]).join('');
    try {
      const selector = parseSelector(text);
      assert.equal(parseSelector(selector.toString()).ast, selector.ast, text);
      parsed++;
    } catch (error) {
      assert.instance(error, SelectorSyntaxError, JSON.stringify(text));
      const { offset } = error as SelectorSyntaxError;
      assert.ok(offset >= 0 && offset <= text.length, `offset ${offset} for ${JSON.stringify(text)}`);
    }
  }
  assert.ok(parsed > 0, 'some generated text parses');
});

// ---- size limits --------------------------------------------------------------------------------------------

test(`parentheses may nest ${MAX_SELECTOR_NESTING} deep`, () => {
  const depth = MAX_SELECTOR_NESTING;
  selects(`${'('.repeat(depth)}has(a)${')'.repeat(depth)}`, [{ a: '' }], [{}]);
  selects(`${'!('.repeat(depth)}has(a)${')'.repeat(depth)}`, [{ a: '' }], [{}]);
});

test('deeper nesting is refused with a clear error instead of exhausting the stack', () => {
  rejects(
    `${'('.repeat(100_000)}has(a)${')'.repeat(100_000)}`,
    `parentheses are nested more than ${MAX_SELECTOR_NESTING} deep`,
    MAX_SELECTOR_NESTING,
  );
});

test('long flat selectors and long runs of ! parse without recursion trouble', () => {
  const terms = Array.from({ length: 50_000 }, (_, i) => `l${i} == 'v${i}'`);
  const chain = parseSelector(terms.join(' && '));
  assert.ok(chain.matches(Object.fromEntries(terms.map((_, i) => [`l${i}`, `v${i}`]))));
  assert.not.ok(chain.matches({ l0: 'v0' }));
  assert.equal(parseSelector(`${'!'.repeat(100_001)}has(a)`).ast, {
    kind: 'not',
    operand: { kind: 'has', label: 'a' },
  });
});

// ---- errors ---------------------------------------------------------------------------------------------------

test('a syntax error is a NotrackError with code selector-syntax and carries the selector text', () => {
  const error = syntaxError(`a = 'x'`);
  assert.ok(error instanceof NotrackError);
  assert.is(error.code, 'selector-syntax');
  assert.is(error.name, 'SelectorSyntaxError');
  assert.is(error.selector, `a = 'x'`);
});

test('errors name the problem and point at the offending token', () => {
  const cases: [string, string, number][] = [
    [`has('a')`, `expected a label name after "has(" but found "'"`, 4],
    [`has(a`, `expected ")" after "has(a" but found end of selector`, 5],
    [`has(a b)`, `expected ")" after "has(a" but found "b"`, 6],
    [`role == 'db' && zone == 'a`, 'unterminated string starting at offset 24', 24],
    [`a == "x'`, 'unterminated string starting at offset 5', 5],
    [`a starts 'x'`, `expected "with" after "starts" but found "'"`, 9],
    [`a ends wiht 'x'`, `expected "with" after "ends" but found "wiht"`, 7],
    [`a not on {'x'}`, `expected "in" after "not" but found "on"`, 6],
    [`a starts with b`, `"starts with" needs a quoted string but found "b"; write 'b'`, 14],
    [`role == db`, `"==" needs a quoted string but found "db"; write 'db'`, 8],
    [`a != `, `"!=" needs a quoted string but found end of selector`, 5],
    [`a contains {'x'}`, `"contains" needs a quoted string but found "{"`, 11],
    [`a = 'x'`, `"=" is not an operator; write "==" to test a label's value`, 2],
    [`has(a) & has(b)`, `"&" is not an operator; write "&&" for "and"`, 7],
    [`has(a) | has(b)`, `"|" is not an operator; write "||" for "or"`, 7],
    [`a == 'x' and b == 'y'`, `expected "&&", "||" or end of selector but found "and"; write "&&" instead of "and"`, 9],
    [`a == 'x' OR b == 'y'`, `expected "&&", "||" or end of selector but found "OR"; write "||" instead of "OR"`, 9],
    [`has(a) foo`, `expected "&&", "||" or end of selector but found "foo"`, 7],
    [`(has(a) foo)`, `expected "&&", "||" or ")" but found "foo"`, 8],
    [`has(a) 'x'`, `expected "&&", "||" or end of selector but found string 'x'`, 7],
    [`a == 'x' &&`, `expected an expression after "&&" but found end of selector`, 11],
    [`a == 'x' || `, `expected an expression after "||" but found end of selector`, 12],
    [`has(a) && || has(b)`, `expected an expression after "&&" but found "||"`, 10],
    [`&& has(a)`, `expected an expression at the start of the selector but found "&&"`, 0],
    [`!`, `expected an expression after "!" but found end of selector`, 1],
    [
      `'role' == 'db'`,
      `expected an expression at the start of the selector but found string 'role'; a label name is written without quotes`,
      0,
    ],
    [`)`, 'unexpected ")" without a matching "("', 0],
    [`has(a))`, 'unexpected ")" without a matching "("', 6],
    [`()`, `expected an expression after "(" but found ")"`, 1],
    [`(has(a) && (has(b))`, '"(" at offset 0 is never closed', 0],
    [
      `a b`,
      `expected "==", "!=", "in", "not in", "contains", "starts with" or "ends with" after label "a" but found "b"`,
      2,
    ],
    [
      `role`,
      `expected "==", "!=", "in", "not in", "contains", "starts with" or "ends with" after label "role" but found end of selector`,
      4,
    ],
    [`not has(a)`, '"not" is not an operator here; write "!" to negate', 0],
    [`has (a)`, 'no space is allowed between "has" and "("', 4],
    [`all(x)`, `expected ")" after "all(" but found "x"`, 4],
    [`global(a)`, `expected ")" after "global(" but found "a"`, 7],
    [`a in 'x'`, `"in" needs a set of quoted strings in braces, like {'a', 'b'}, but found string 'x'; write {'x'}`, 5],
    [`a not in ('x')`, `"not in" needs a set of quoted strings in braces, like {'a', 'b'}, but found "("`, 9],
    [`a in {x}`, `expected a quoted string or "}" in the set but found "x"; write 'x'`, 6],
    [`a in {'x' 'y'}`, `expected "," or "}" after string 'x' in the set but found string 'y'`, 10],
    [`a in {,}`, `expected a quoted string or "}" in the set but found ","`, 6],
    [`a in {'x',,}`, `expected a quoted string or "}" in the set but found ","`, 10],
    [`a in {'x', 'y'`, '"{" at offset 5 is never closed', 5],
    [`a == 'x' % b`, 'unexpected character "%"', 9],
    [
      `café == 'x'`,
      `unexpected character "é": label names may use only ASCII letters, digits, "_", ".", "/" and "-"`,
      3,
    ],
    [
      `a == 'x'\n`,
      'unexpected line break: a selector must be on one line, with only spaces and tabs between its parts (in YAML, use ">-" rather than ">" or "|")',
      8,
    ],
    [`a ==\u00a0'x'`, 'unexpected whitespace U+00A0: only spaces and tabs may separate the parts of a selector', 4],
    [
      `has(${'k'.repeat(MAX_LABEL_LENGTH + 1)})`,
      `label name is ${MAX_LABEL_LENGTH + 1} characters long; the limit is ${MAX_LABEL_LENGTH}`,
      4,
    ],
    [`a == 'x' && ${'k'.repeat(600)} == 'y'`, 'label name is 600 characters long; the limit is 512', 12],
  ];
  for (const [text, message, offset] of cases) rejects(text, message, offset);
});

test('the first problem in reading order is the one reported', () => {
  // The unterminated string comes later; the bare value before it is what the author needs to fix first.
  rejects(`a == b && c == 'x`, `"==" needs a quoted string but found "b"; write 'b'`, 5);
});

test('long words are shortened in messages', () => {
  const long = 'v'.repeat(100);
  rejects(`a == ${long}`, `"==" needs a quoted string but found "${'v'.repeat(37)}..."`, 5);
});

test.run();

// A rule's line read from the file's lines is the YAML parser's line for it, on random policies written in block
// style with comments, blank lines, both sequence indentations, a leading `---` and CRLF; anything the line reader
// cannot be sure of (flow style, several documents, multi-line values, an item starting on the next line) is left to
// the parser, and the plan's locator then gives the parser's answer.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { stringify } from 'yaml';
import { parseDocuments, type PolicyFile } from '../../src/model/documents.js';
import { loadResources } from '../../src/model/load-resources.js';
import { PlanRuleLocator, ruleLine } from '../../src/report/rule-lines.js';
import { policyFile } from '../support/policy-files.js';
import { randomPolicyPair } from '../support/random-policies.js';
import { mulberry32, type Rng } from '../support/seeded-random.js';

const SEED = Number(process.env['NOTRACK_SEED'] ?? Date.now() % 1e9);

/** The parser's line for spec.<direction>[index] of the file's first document. */
function parserLine(file: PolicyFile, direction: 'ingress' | 'egress', index: number): number {
  return parseDocuments([file]).documents[0]!.locate(['spec', direction, index]).line;
}

/** A policy document as a person might write it: block style, with comments and blank lines here and there. */
function written(r: Rng, doc: object): string {
  let text = stringify(doc, { indentSeq: r() < 0.5, lineWidth: r() < 0.5 ? 0 : 60 });
  const lines = text.split('\n');
  const out: string[] = [];
  for (const l of lines) {
    if (r() < 0.1) out.push('');
    if (r() < 0.1) out.push(`${' '.repeat(Math.floor(r() * 6))}# a comment: - not an item`);
    out.push(l && r() < 0.1 ? `${l} # trailing` : l);
  }
  text = out.join('\n');
  if (r() < 0.3) text = `---\n${text}`;
  if (r() < 0.2) text = text.replace(/\n/g, '\r\n');
  return text;
}

test(`a rule's line from the file's lines is the parser's, on random block-style policies (seed ${SEED})`, () => {
  const r = mulberry32(SEED);
  let asked = 0,
    answered = 0;
  for (let round = 0; round < 30; round++) {
    const { head } = randomPolicyPair(r);
    for (const f of head) {
      for (const doc of parseDocuments([f]).documents) {
        const value = doc.value as { kind?: string; spec?: { ingress?: unknown[]; egress?: unknown[] } };
        if (value.kind !== 'GlobalNetworkPolicy') continue;
        const file = policyFile('p.yaml', written(r, value));
        const text = new TextDecoder().decode(file.content);
        for (const direction of ['ingress', 'egress'] as const) {
          for (let i = 0; i <= (value.spec?.[direction]?.length ?? 0); i++) {
            const line = ruleLine(text, direction, i);
            asked++;
            if (line === null) continue;
            answered++;
            assert.is(line, parserLine(file, direction, i), `${direction}[${i}] of:\n${text}`);
          }
        }
      }
    }
  }
  // Most of what people write is answered without the parser.
  assert.ok(answered > asked / 2, `${answered} of ${asked} answered`);
});

const POLICY = `apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: p
spec:
  selector: all()
  doNotTrack: true
  applyOnForward: true
  ingress:
    - action: Deny
      source: { nets: [10.0.0.0/8] }
    - action: Allow
`;

test('what the line reader cannot be sure of is left to the parser', () => {
  assert.is(ruleLine(POLICY, 'ingress', 1), 12);
  assert.is(ruleLine(POLICY, 'ingress', 2), null, 'no such item');
  assert.is(ruleLine(POLICY, 'egress', 0), null, 'no such key');
  const unsure: Record<string, string> = {
    'two documents': `${POLICY}---\n${POLICY}`,
    'flow sequence': POLICY.replace(/ingress:[^]*$/, 'ingress: [{action: Deny}, {action: Allow}]\n'),
    'item content on the next line': POLICY.replace('    - action: Deny', '    -\n      action: Deny'),
    'a block scalar': POLICY.replace('  selector: all()', '  selector: |\n    all()'),
    'a quote open at the line end': POLICY.replace('  selector: all()', '  selector: "all(\n    )"'),
    'a flow collection over lines': POLICY.replace(
      '{ nets: [10.0.0.0/8] }',
      '{ nets: [10.0.0.0/8,\n    - 10.1.0.0/16] }',
    ),
    tabs: POLICY.replace('- action: Allow', '- action:\tAllow'),
  };
  for (const [what, text] of Object.entries(unsure)) assert.is(ruleLine(text, 'ingress', 1), null, what);
});

test("the plan's locator reads lines where it can and asks the parser elsewhere, with the same answers", () => {
  const other = POLICY.replace('name: p', 'name: q');
  const files = [
    policyFile('one.yaml', POLICY),
    policyFile('two.yaml', `${POLICY.replace('name: p', 'name: o')}---\n${other}`),
  ];
  const loaded = loadResources(files);
  assert.ok(loaded.valid);
  const locator = new PlanRuleLocator(files, loaded.resources);
  assert.equal(locator.locate({ policy: 'p', direction: 'ingress', index: 1 }), { file: 'one.yaml', line: 12 });
  // The second document of a file: the parser's position (12 lines of the first document, the marker, then its line 12).
  const q = locator.locate({ policy: 'q', direction: 'ingress', index: 1 });
  assert.equal({ file: q.file, line: q.line }, { file: 'two.yaml', line: 25 });
});

test.run();

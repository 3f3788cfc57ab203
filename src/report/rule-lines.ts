// The line a policy rule starts on, read from the file's lines when it is written in plain block style (the common
// case), so a plan that names one rule of a 1,000-rule policy does not build the YAML parser's position map of the
// whole file (half a second for one such file). Anything unusual answers null, and the caller asks the parser.
import type { RuleRef } from '../compile/desired-state.js';
import { RuleLocator } from '../compile/explain.js';
import type { PolicyFile } from '../model/documents.js';
import type { Direction, ResourceSet } from '../model/resources.js';

/** Lines that could hold a multi-line value (a block scalar, or a quote or flow collection open at the line's end). */
function mayContinue(line: string): boolean {
  if (/[:-]\s+[|>][-+0-9]*\s*(#.*)?$/.test(line) || /^\s*[|>][-+0-9]*\s*$/.test(line)) return true;
  let depth = 0,
    double = false,
    single = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (double) {
      if (c === '\\') i++;
      else if (c === '"') double = false;
    } else if (single) {
      if (c === "'") single = false;
    } else if (c === '"') double = true;
    else if (c === "'") single = true;
    else if (c === '#' && (i === 0 || line[i - 1] === ' ')) break;
    else if (c === '[' || c === '{') depth++;
    else if (c === ']' || c === '}') depth--;
  }
  return double || single || depth !== 0;
}

const indentOf = (line: string): number => line.length - line.trimStart().length;
const isBlank = (line: string): boolean => /^\s*(#.*)?$/.test(line);

/**
 * The 1-based line of `spec.<direction>[index]` in `text` when the file holds one document in plain block style:
 * `spec:` at the left edge, `<direction>:` alone on its line, then block sequence items `- key: …` that each start
 * on their dash's line. Null for anything else (several documents, flow style, tabs, multi-line values, an item whose
 * content starts on the next line, fewer items), where the YAML parser decides.
 */
export function ruleLine(text: string, direction: Direction, index: number): number | null {
  if (text.includes('\t') || /\r(?!\n)/.test(text)) return null;
  const lines = text.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  // One document: a marker anywhere but a leading `---` may start another, or end this one.
  if (lines.some((l, i) => /^(\.\.\.|---)(\s|$)/.test(l) && !(i === 0 && l.startsWith('---')))) return null;
  if (lines.some((l) => /^%/.test(l) || (!isBlank(l) && mayContinue(l)))) return null;
  const spec = lines.findIndex((l) => /^spec:\s*(#.*)?$/.test(l));
  if (spec < 0 || lines.findIndex((l, i) => i > spec && /^spec\s*:/.test(l)) >= 0) return null;
  // The spec's keys, at the indentation of its first one, until the next line at the left edge.
  let keyIndent = -1;
  let key = -1;
  let i = spec + 1;
  for (; i < lines.length; i++) {
    const l = lines[i]!;
    if (isBlank(l)) continue;
    const indent = indentOf(l);
    if (indent === 0) break;
    if (keyIndent < 0) keyIndent = indent;
    if (indent === keyIndent && new RegExp(`^ *${direction}:\\s*(#.*)?$`).test(l)) {
      if (key >= 0) return null;
      key = i;
    }
    if (indent < keyIndent) return null;
  }
  if (key < 0) return null;
  // The items: `- ` at one indentation (the key's own or deeper), until a line less indented, or one at that
  // indentation that is no item.
  let itemIndent = -1;
  let n = 0;
  for (i = key + 1; i < lines.length; i++) {
    const l = lines[i]!;
    if (isBlank(l)) continue;
    const indent = indentOf(l);
    if (itemIndent < 0) {
      if (indent < keyIndent || !/^ *- /.test(l)) return null;
      itemIndent = indent;
    }
    if (indent < itemIndent) return null;
    if (indent > itemIndent) continue;
    if (!/^ *- /.test(l)) return null;
    // The item's content must start on its dash's line (then the parser places it there too).
    if (isBlank(l.slice(indent + 1)) || /^ *- +[-&!*|>]/.test(l)) return null;
    if (n === index) return i + 1;
    n++;
  }
  return null;
}

/** Where a rule is written: its file and line (0 when the revision does not hold it). */
export interface RuleLineLocator {
  locate(ref: RuleRef): { file: string; line: number };
}

/**
 * Rules located from their files' lines where ruleLine can, else by the YAML parser's positions (RuleLocator, which
 * parses a file on its first question).
 */
export class PlanRuleLocator implements RuleLineLocator {
  private readonly policies: Map<string, ResourceSet['policies'][number]>;
  private readonly texts = new Map<string, string | null>();
  private parsed: RuleLocator | null = null;

  constructor(
    private readonly files: readonly PolicyFile[],
    private readonly resources: ResourceSet,
  ) {
    this.policies = new Map(resources.policies.map((p) => [p.name, p]));
  }

  private text(path: string): string | null {
    if (!this.texts.has(path)) {
      const f = this.files.find((x) => x.path === path);
      this.texts.set(path, f && !f.tooLarge ? decoder.decode(f.content).replace(/^\uFEFF/, '') : null);
    }
    return this.texts.get(path)!;
  }

  locate(ref: RuleRef): { file: string; line: number } {
    const policy = this.policies.get(ref.policy);
    if (policy && policy.source.document === 0) {
      const text = this.text(policy.source.file);
      const line = text === null ? null : ruleLine(text, ref.direction, ref.index);
      if (line !== null) return { file: policy.source.file, line };
    }
    this.parsed ??= new RuleLocator(this.files, this.resources);
    return this.parsed.locate(ref);
  }
}

const decoder = new TextDecoder();

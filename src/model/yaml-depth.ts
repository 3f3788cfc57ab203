// Bounds the nesting depth of a YAML text before any parser sees it: a 500 KB file of `[[[[…` or `- - - -…` nests
// 250,000 levels and takes a recursive parser down (stack or heap). Policy YAML nests a dozen levels at most.
export const MAX_YAML_DEPTH = 100;

/**
 * Where the text first nests deeper than `limit` (1-based line and column), or null. Depth counts block levels (a
 * stack of indentations), block sequence entries that open on one line (`- - x`) and flow brackets outside quotes
 * and comments. It over-counts nothing a policy writes, and a false alarm could only come past `limit`.
 */
export function deepestNesting(text: string, limit = MAX_YAML_DEPTH): { line: number; col: number } | null {
  const indents: number[] = [];
  let flow = 0;
  let lineNo = 0;
  for (const line of text.split('\n')) {
    lineNo += 1;
    let i = 0;
    while (line[i] === ' ') i++;
    const content = line.slice(i);
    if (flow === 0 && content !== '' && !content.startsWith('#')) {
      while (indents.length && indents[indents.length - 1]! > i) indents.pop();
      if (!indents.length || indents[indents.length - 1]! < i) indents.push(i);
    }
    let depth = indents.length;
    // Compact block sequences: each "- " that opens the line's content is one more level.
    let j = i;
    while (line[j] === '-' && (line[j + 1] === ' ' || j + 1 === line.length)) {
      depth += 1;
      j += 2;
      while (line[j] === ' ') j++;
    }
    if (depth + flow > limit) return { line: lineNo, col: j + 1 };
    let quote: string | null = null;
    for (let k = j; k < line.length; k++) {
      const c = line[k]!;
      if (quote) {
        if (c === quote) quote = null;
        continue;
      }
      if (c === '"' || c === "'") quote = c;
      else if (c === '#' && (k === 0 || line[k - 1] === ' ')) break;
      else if (c === '[' || c === '{') {
        flow += 1;
        if (depth + flow > limit) return { line: lineNo, col: k + 1 };
      } else if ((c === ']' || c === '}') && flow > 0) flow -= 1;
    }
  }
  return null;
}

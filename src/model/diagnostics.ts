// Validation findings (errors, warnings, notices) with file, line, column and JSON path, in one stable form.

type Severity = 'error' | 'warning' | 'notice';

/** One finding. Lines and columns are 1-based; `path` is a JSON path inside the document, e.g. spec.ingress[0].action. */
export interface Diagnostic {
  severity: Severity;
  /** Stable identifier of the check, e.g. `unknown-field`, `selector-syntax`. */
  code: string;
  message: string;
  file: string;
  line: number;
  col: number;
  endLine?: number;
  endCol?: number;
  /** Index of the YAML document within the file (0-based). */
  document?: number;
  path: string;
}

export type PathSegment = string | number;

/** Renders path segments as `spec.ingress[0].source.nets[2]` (keys that are not identifiers are quoted). */
export function formatPath(segments: readonly PathSegment[]): string {
  let out = '';
  for (const s of segments) {
    if (typeof s === 'number') out += `[${s}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(s)) out += out ? `.${s}` : s;
    else out += `[${JSON.stringify(s)}]`;
  }
  return out;
}

const severityRank: Record<Severity, number> = { error: 0, warning: 1, notice: 2 };

/** Sorts by file, line, column, then severity and code, so output is stable run to run. */
export function sortDiagnostics(list: Diagnostic[]): Diagnostic[] {
  return [...list].sort(
    (a, b) =>
      a.file.localeCompare(b.file) ||
      a.line - b.line ||
      a.col - b.col ||
      severityRank[a.severity] - severityRank[b.severity] ||
      a.code.localeCompare(b.code) ||
      a.message.localeCompare(b.message),
  );
}

/** The one-line text form: `file:line:col: severity[code]: message (at path)`. */
export function formatDiagnostic(d: Diagnostic): string {
  const at = d.path ? ` (at ${d.path})` : '';
  return printable(`${d.file}:${d.line}:${d.col}: ${d.severity}[${d.code}]: ${d.message}${at}`);
}

/**
 * Control characters shown as escapes (\n, \x1b ...): a file name is text an attacker chooses, and raw, a newline
 * starts a new line that CI runners read as a workflow command ("::warning::") and an ESC drives the terminal.
 */
export function printable(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => {
    if (c === '\n') return '\\n';
    if (c === '\r') return '\\r';
    if (c === '\t') return '\\t';
    const code = c.charCodeAt(0);
    return code > 0xff ? `\\u${code.toString(16).padStart(4, '0')}` : `\\x${code.toString(16).padStart(2, '0')}`;
  });
}

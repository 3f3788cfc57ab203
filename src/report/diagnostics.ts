// Renders validation diagnostics as text, versioned JSON, GitHub workflow annotations and a Markdown summary.
import { formatDiagnostic, type Diagnostic } from '../model/diagnostics.js';
import { githubAnnotation } from './github.js';

/** What a validation run looked at, for the report header. */
interface ValidationSubject {
  repo: string;
  ref: string | null;
  commit: string | null;
  path: string;
  counts: { files: number; documents: number; kinds: Record<string, number> };
}

/** Version of the JSON report; bumped on incompatible changes, documented in docs/json-formats.md. */
const VALIDATE_JSON_VERSION = 1;

export function summarize(diags: readonly Diagnostic[]): { errors: number; warnings: number; notices: number } {
  return {
    errors: diags.filter((d) => d.severity === 'error').length,
    warnings: diags.filter((d) => d.severity === 'warning').length,
    notices: diags.filter((d) => d.severity === 'notice').length,
  };
}

/** "1 file", "2 files". */
export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function summaryLine(subject: ValidationSubject, diags: readonly Diagnostic[]): string {
  const s = summarize(diags);
  const kinds =
    Object.entries(subject.counts.kinds)
      .sort()
      .map(([k, n]) => `${n} ${k}`)
      .join(', ') || 'no resources';
  const at = subject.commit ? ` at ${subject.commit.slice(0, 12)}` : '';
  const verdict = s.errors ? 'invalid' : 'valid';
  return (
    `${verdict}: ${plural(subject.counts.files, 'file')}, ${plural(subject.counts.documents, 'document')} (${kinds})${at}: ` +
    `${plural(s.errors, 'error')}, ${plural(s.warnings, 'warning')}, ${plural(s.notices, 'notice')}`
  );
}

export function renderText(subject: ValidationSubject, diags: readonly Diagnostic[]): string {
  return [...diags.map(formatDiagnostic), summaryLine(subject, diags)].join('\n') + '\n';
}

export function renderJson(subject: ValidationSubject, diags: readonly Diagnostic[]): string {
  const summary = summarize(diags);
  return (
    JSON.stringify(
      {
        formatVersion: VALIDATE_JSON_VERSION,
        kind: 'notrack.validate',
        valid: summary.errors === 0,
        source: { repo: subject.repo, ref: subject.ref, commit: subject.commit, path: subject.path },
        counts: subject.counts,
        summary,
        diagnostics: diags,
      },
      null,
      2,
    ) + '\n'
  );
}

export function renderGithub(subject: ValidationSubject, diags: readonly Diagnostic[]): string {
  return [...diags.map((d) => githubAnnotation(d, { detailed: true })), summaryLine(subject, diags)].join('\n') + '\n';
}

/** A Markdown summary for $GITHUB_STEP_SUMMARY or a pull-request comment; long tables collapse. */
export function renderMarkdown(subject: ValidationSubject, diags: readonly Diagnostic[]): string {
  const s = summarize(diags);
  const icon = s.errors ? '❌' : s.warnings ? '⚠️' : '✅';
  let out = `### ${icon} notrack validate\n\n${summaryLine(subject, diags)}\n`;
  if (diags.length) {
    const rows = diags.map(
      (d) => `| ${d.severity} | \`${d.file}:${d.line}:${d.col}\` | ${d.code} | ${d.message.replace(/\|/g, '\\|')} |`,
    );
    const table = ['| severity | where | check | message |', '|---|---|---|---|', ...rows].join('\n');
    out +=
      diags.length > 12
        ? `\n<details><summary>${diags.length} findings</summary>\n\n${table}\n\n</details>\n`
        : `\n${table}\n`;
  }
  return out;
}

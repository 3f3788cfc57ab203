// Renders a run of the repository's policy tests (`notrack test`) as text, versioned JSON, GitHub annotations and a
// Markdown summary.
import type { TestRun } from '../compile/policy-test.js';
import { describeActual } from '../compile/policy-test.js';
import { formatDiagnostic } from '../model/diagnostics.js';
import { plural } from './diagnostics.js';
import { githubAnnotation } from './github.js';

/** Version of the JSON report (kind notrack.test); bumped on incompatible changes, documented in docs/json-formats.md. */
const TEST_JSON_VERSION = 1;

/** What the tests ran against, for the JSON report. */
interface TestSubject {
  repo: string;
  ref: string | null;
  commit: string | null;
  path: string;
  /** The tests folder, as the source reports paths. */
  tests: string;
}

/** True when a case failed, a test file is invalid or the policy is. */
export function testRunFailed(run: TestRun): boolean {
  return run.diagnostics.some((d) => d.severity === 'error');
}

function testSummary(run: TestRun): string {
  if (run.policyInvalid) {
    const n = run.diagnostics.filter((d) => d.severity === 'error').length;
    return `failed: the policy has ${plural(n, 'error')} (see "notrack validate"), so none of the cases in ${plural(run.files, 'test file')} ran`;
  }
  const passed = run.results.filter((r) => r.passed).length;
  const failed = run.results.length - passed;
  const invalid = run.diagnostics.filter((d) => d.severity === 'error' && d.code !== 'test-failed').length;
  const ok = failed === 0 && invalid === 0;
  return (
    `${ok ? 'passed' : 'failed'}: ${plural(run.files, 'file')}, ${plural(run.tests, 'test')}, ${plural(run.results.length, 'case')}: ` +
    `${passed} passed, ${failed} failed${invalid ? `, ${plural(invalid, 'error')} in the test files` : ''}`
  );
}

/** Findings, then (with `verbose`) the cases that passed, then the summary line. */
export function renderTestText(run: TestRun, options: { verbose: boolean }): string {
  const lines = run.diagnostics.map(formatDiagnostic);
  if (options.verbose) {
    for (const r of run.results.filter((x) => x.passed))
      lines.push(
        `${r.file}:${r.line}:${r.col}: ok: ${r.test} case ${r.index}: ${r.packet}: ${describeActual(r.actual)}`,
      );
  }
  return [...lines, testSummary(run)].join('\n') + '\n';
}

export function renderTestJson(subject: TestSubject, run: TestRun): string {
  return (
    JSON.stringify(
      {
        formatVersion: TEST_JSON_VERSION,
        kind: 'notrack.test',
        passed: !testRunFailed(run),
        policyValid: !run.policyInvalid,
        source: subject,
        summary: {
          files: run.files,
          tests: run.tests,
          cases: run.results.length,
          passed: run.results.filter((r) => r.passed).length,
          failed: run.results.filter((r) => !r.passed).length,
          errors: run.diagnostics.filter((d) => d.severity === 'error' && d.code !== 'test-failed').length,
        },
        results: run.results,
        diagnostics: run.diagnostics,
      },
      null,
      2,
    ) + '\n'
  );
}

export function renderTestGithub(run: TestRun): string {
  return [...run.diagnostics.map((d) => githubAnnotation(d, { detailed: false })), testSummary(run)].join('\n') + '\n';
}

/** A Markdown summary for $GITHUB_STEP_SUMMARY. */
export function renderTestMarkdown(run: TestRun): string {
  const failures = run.diagnostics.filter((d) => d.severity === 'error');
  let out = `### ${failures.length ? '❌' : '✅'} notrack test\n\n${testSummary(run)}\n`;
  if (failures.length) {
    out += '\n| where | check | message |\n|---|---|---|\n';
    out +=
      failures
        .map((d) => `| \`${d.file}:${d.line}:${d.col}\` | ${d.code} | ${d.message.replace(/\|/g, '\\|')} |`)
        .join('\n') + '\n';
  }
  return out;
}

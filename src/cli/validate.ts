// `notrack validate`: schema, semantic and lint checks of a policy repository, for people and for CI.
import { UsageError } from '../errors.js';
import { appendFileSync } from 'node:fs';
import { fetchSource } from '../source/index.js';
import { validatePolicy } from '../traffic/validate-policy.js';
import { DEFAULT_DOCUMENT_LIMITS } from '../model/documents.js';
import { renderGithub, renderJson, renderMarkdown, renderText, summarize } from '../report/diagnostics.js';
import { SOURCE_HELP, SOURCE_OPTIONS, oneOf, parseCommandArgs } from './args.js';
import { readPolicyFiles } from './read-policy.js';

const VALIDATE_HELP = `Usage: notrack validate [--repo URL|PATH] [--ref REF] [--path DIR] [--format text|json|github] [--strict]

Checks every policy file under --path: YAML, JSON Schema, semantic checks and lint warnings (from the exact
packet space: shadowed rules, rules that match nothing, missing return paths, selectors and named ports that
match nothing). Policy files are the *.yaml/*.yml files below --path, except those in hidden (dot) folders such as
.github/ and those the path's .notrackignore names (gitignore syntax); a path with none is an error.
Exit status: 0 valid (warnings allowed unless --strict), 1 invalid, warnings with --strict, or error; 64 bad usage.

Options:
${SOURCE_HELP}
  --format FORMAT     text (default), json (versioned, see docs/json-formats.md) or github
                      (workflow annotations; also writes a summary to $GITHUB_STEP_SUMMARY when set)
  --strict            exit 1 when there are warnings too (for CI); --warnings-as-errors is the same
  --max-file-bytes N  refuse files larger than N bytes (default ${DEFAULT_DOCUMENT_LIMITS.maxFileBytes})
  -h, --help          show this help
`;

export async function validateCommand(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(argv, {
    ...SOURCE_OPTIONS,
    format: { type: 'string' },
    strict: { type: 'boolean' },
    'warnings-as-errors': { type: 'boolean' },
    'max-file-bytes': { type: 'string' },
  });
  if (values.help) {
    process.stdout.write(VALIDATE_HELP);
    return 0;
  }
  const format = oneOf('format', values.format, ['text', 'json', 'github'] as const, 'text');
  const limits = { ...DEFAULT_DOCUMENT_LIMITS };
  const max = values['max-file-bytes'];
  if (max !== undefined) {
    if (!/^[1-9]\d{0,9}$/.test(max.trim()))
      throw new UsageError(`--max-file-bytes takes a whole number of bytes (e.g. 4194304), not "${max}"`);
    limits.maxFileBytes = Number(max.trim());
  }

  const snapshot = await readPolicyFiles(values, limits.maxFileBytes, fetchSource);
  const result = validatePolicy(snapshot.files, limits);
  const subject = {
    repo: snapshot.repo,
    ref: snapshot.ref,
    commit: snapshot.commit,
    path: snapshot.subPath,
    counts: result.counts,
  };
  const render = { text: renderText, json: renderJson, github: renderGithub }[format];
  for (const w of snapshot.warnings ?? []) process.stderr.write(`warning: ${w}\n`);
  process.stdout.write(render(subject, result.diagnostics));
  if (format === 'github' && process.env['GITHUB_STEP_SUMMARY']) {
    appendFileSync(process.env['GITHUB_STEP_SUMMARY'], renderMarkdown(subject, result.diagnostics));
  }
  const s = summarize(result.diagnostics);
  const strict = values.strict === true || values['warnings-as-errors'] === true;
  return s.errors > 0 || (strict && s.warnings > 0) ? 1 : 0;
}

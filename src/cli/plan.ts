// `notrack plan`: for every host in the repository, what would change between two revisions (a pull request's review).
import { appendFileSync } from 'node:fs';
import { formatDiagnostic } from '../model/diagnostics.js';
import { fetchSource, SourceError, type SourceOptions, type SourceSnapshot } from '../source/index.js';
import { buildPlan, planHasChanges } from '../report/plan-report.js';
import { loadPlanRevisions } from '../report/plan-revisions.js';
import { knownHeadFile } from '../report/plan-share.js';
import { renderPlanJson, renderPlanMarkdown, renderPlanText, type PlanSubject } from '../report/plan-render.js';
import { UsageError } from '../errors.js';
import { SOURCE_OPTIONS, oneOf, parseCommandArgs, sourceHelp } from './args.js';
import { sourceOptions } from './read-policy.js';
import { withShallowHint } from './shallow-hint.js';

const PLAN_HELP = `Usage: notrack plan --base REF --head REF [--repo URL|PATH] [--path DIR] [--format text|markdown|json]
                    [--verbose] [--detailed-exitcode]

Compiles both revisions for every host named by a HostEndpoint and shows what would change:
  traffic     for every host, interface and direction, each region of packets whose outcome or deciding rule
              changes: the region in words, before and after (outcome, rule, file:line), an example packet
              (explain's notation) and the region's size; hosts that change alike are grouped
  resources   policies, sets, endpoints and settings added, removed or edited, field by field
  dataplane   (--verbose) rebuilt policy programs, classifier entries and lowered rules per host
Exit status (Terraform's convention): 0 success, with or without changes; 1 error (e.g. the head revision is
invalid); with --detailed-exitcode 2 when something changes; 64 bad usage.

Options:
  --base REF          the revision to compare from (e.g. origin/main, a tag or a commit)
  --head REF          the revision to compare to (e.g. the pull request's commit)
${sourceHelp({ ref: false, repoDefault: 'the Git repository in the current directory' })}
  --format FORMAT     text (default), markdown (for a pull-request comment or a CI job summary: always within
                      GitHub's 65,536-character limit, summary first) or json (versioned, see docs/json-formats.md)
  --verbose           also the dataplane detail: programs, classifier entries, lowered rules
  --detailed-exitcode exit 2 when the plan has changes (0 when it has none)
  --show-unchanged    also list hosts without changes (text)
  -h, --help          show this help

With GITHUB_STEP_SUMMARY set, the Markdown plan is also appended to it.
`;

export async function planCommand(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(argv, {
    ...SOURCE_OPTIONS,
    base: { type: 'string' },
    head: { type: 'string' },
    format: { type: 'string' },
    'show-unchanged': { type: 'boolean' },
    verbose: { type: 'boolean' },
    'detailed-exitcode': { type: 'boolean' },
  });
  if (values.help) {
    process.stdout.write(PLAN_HELP);
    return 0;
  }
  if (!values.base || !values.head) throw new UsageError('both --base and --head are required');
  if (values.ref !== undefined) throw new UsageError('plan takes --base and --head instead of --ref');
  const format = oneOf('format', values.format, ['text', 'markdown', 'json'] as const, 'text');
  const common = { ...values, repo: values.repo ?? '.' };

  const read = async (ref: string, known?: SourceOptions['knownFile']): Promise<SourceSnapshot> =>
    withShallowHint(common.repo, ref, () =>
      fetchSource({ ...sourceOptions({ ...common, ref }), ...(known ? { knownFile: known } : {}) }),
    );
  const head = await read(values.head);
  let base: SourceSnapshot;
  try {
    // The files the head holds alike are the head's: not read twice.
    base = await read(values.base, knownHeadFile(head));
  } catch (e) {
    // The pull request that adds the first policy files: the base holds none.
    if (!(e instanceof SourceError && e.code === 'source-no-policy-files')) throw e;
    process.stderr.write(`warning: ${e.message}; planning against nothing, so every host shows as new\n`);
    base = { ...head, commit: null, files: [] };
  }
  const revisions = loadPlanRevisions(base, head);
  if (!revisions.baseValid) {
    process.stderr.write(
      `warning: the base revision ${values.base} is invalid; planning against nothing, so every host shows as new\n`,
    );
  }
  const plan = buildPlan(revisions.base, revisions.head);
  const warnings = revisions.headDiagnostics.filter((d) => d.severity === 'warning').map(formatDiagnostic);
  const subject: PlanSubject = {
    repo: head.repo,
    base: { ref: values.base, commit: base.commit },
    head: { ref: values.head, commit: head.commit },
  };
  const options = { verbose: values.verbose ?? false, showUnchanged: values['show-unchanged'] ?? false, warnings };
  const out =
    format === 'json'
      ? renderPlanJson(subject, plan, warnings)
      : format === 'markdown'
        ? renderPlanMarkdown(subject, plan, options)
        : renderPlanText(subject, plan, options);
  process.stdout.write(out);
  if (format === 'text') for (const w of warnings) process.stderr.write(`${w}\n`);
  if (process.env['GITHUB_STEP_SUMMARY'])
    appendFileSync(process.env['GITHUB_STEP_SUMMARY'], renderPlanMarkdown(subject, plan, options));
  return values['detailed-exitcode'] && planHasChanges(plan) ? 2 : 0;
}

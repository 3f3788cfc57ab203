// `notrack test`: reads the policy and the repository's PolicyTest files, runs the cases (compile/policy-test.ts) and
// renders the run (report/policy-tests.ts).
import { appendFileSync } from 'node:fs';
import path from 'node:path';
import { NotrackError } from '../errors.js';
import { fetchSource, isYamlFile, type SourceFile, type SourceSnapshot } from '../source/index.js';
import { normalizeSubPath } from '../source/sub-path.js';
import { loadResources } from '../model/load-resources.js';
import { loadPolicyTests } from '../model/policy-tests.js';
import { runPolicyTests, type TestRun } from '../compile/policy-test.js';
import {
  renderTestGithub,
  renderTestJson,
  renderTestMarkdown,
  renderTestText,
  testRunFailed,
} from '../report/policy-tests.js';
import { SOURCE_HELP, SOURCE_OPTIONS, oneOf, parseCommandArgs } from './args.js';
import { isInFolder, sourceOptions, testsFolder } from './read-policy.js';

const TEST_HELP = `Usage: notrack test [--repo URL|PATH] [--ref REF] [--path DIR] [--tests DIR] [--format text|json|github]

Runs the policy repository's own test cases: PolicyTest files (apiVersion notrack.dev/v1alpha1) under the tests
folder of the policy path, each with packets arriving on one interface of one host and the verdict the policy
must give them (allow, deny or pass; optionally the deciding rule, the reason and the Log rules that match).
The tests folder is never read as policy. Schema: schema/policytest.schema.json.
Exit status: 0 every case passed, 1 a case failed or a file is invalid (or the policy is), 64 bad usage.

Options:
${SOURCE_HELP}
  --tests DIR         folder of test files, inside the repository like --path (default: <path>/tests)
  --format FORMAT     text (default), json (kind notrack.test) or github (workflow annotations;
                      also writes a summary to $GITHUB_STEP_SUMMARY when set)
  --verbose           also list the cases that passed (text)
  -h, --help          show this help
`;

/** The test folder as the source reports paths, from --tests (repository-relative; in directory mode, a folder). */
function requestedTestsFolder(values: {
  repo?: string | undefined;
  path?: string | undefined;
  tests?: string | undefined;
}): string | null {
  if (values.tests === undefined) return testsFolder(values);
  if (values.repo !== undefined && values.repo !== '') return normalizeSubPath(values.tests, values.repo);
  const rel = path.relative(process.cwd(), path.resolve(values.tests)).split(path.sep).join('/');
  return rel === '' ? '.' : rel;
}

/** Reads policy and test files: one read when the tests lie inside the policy path, else a second at the same commit. */
async function readPolicyAndTests(
  values: Parameters<typeof sourceOptions>[0] & { tests?: string | undefined },
): Promise<{ snapshot: SourceSnapshot; policy: SourceFile[]; tests: SourceFile[]; folder: string }> {
  const defaultTests = testsFolder(values);
  const folder = requestedTestsFolder(values);
  const opts = { ...sourceOptions(values), include: isYamlFile };
  const snapshot = await fetchSource(opts);
  if (process.stderr.isTTY) process.stderr.write('\r\x1b[K');
  const policy = snapshot.files.filter((f) => defaultTests === null || !isInFolder(defaultTests, f.path));
  if (folder === null) return { snapshot, policy, tests: [], folder: values.tests ?? 'tests' };
  const inside = snapshot.subPath === '.' || isInFolder(snapshot.subPath, folder);
  let tests: SourceFile[];
  if (inside) {
    tests = snapshot.files.filter((f) => isInFolder(folder, f.path));
  } else {
    const again: typeof opts = { ...opts, path: folder };
    if (snapshot.commit) again.ref = snapshot.commit;
    tests = (await fetchSource(again)).files;
  }
  return { snapshot, policy, tests, folder };
}

export async function testCommand(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(argv, {
    ...SOURCE_OPTIONS,
    tests: { type: 'string' },
    format: { type: 'string' },
    verbose: { type: 'boolean' },
  });
  if (values.help) {
    process.stdout.write(TEST_HELP);
    return 0;
  }
  const format = oneOf('format', values.format, ['text', 'json', 'github'] as const, 'text');
  const { snapshot, policy, tests, folder } = await readPolicyAndTests(values);
  for (const w of snapshot.warnings ?? []) process.stderr.write(`warning: ${w}\n`);

  const loaded = loadResources(policy);
  let run: TestRun;
  if (!loaded.valid) {
    // Cases mean nothing against policy that does not validate: report why, run none.
    run = {
      files: tests.length,
      tests: 0,
      results: [],
      diagnostics: loaded.diagnostics.filter((d) => d.severity === 'error'),
      policyInvalid: true,
    };
  } else if (tests.length === 0) {
    throw new NotrackError(
      'no-tests',
      `no test files under ${folder}; write PolicyTest files there (see "notrack test --help") or point --tests at them`,
    );
  } else {
    run = runPolicyTests(loadPolicyTests(tests), loaded.resources);
  }

  if (format === 'json') {
    const subject = {
      repo: snapshot.repo,
      ref: snapshot.ref,
      commit: snapshot.commit,
      path: snapshot.subPath,
      tests: folder,
    };
    process.stdout.write(renderTestJson(subject, run));
  } else if (format === 'github') {
    process.stdout.write(renderTestGithub(run));
    if (process.env['GITHUB_STEP_SUMMARY']) appendFileSync(process.env['GITHUB_STEP_SUMMARY'], renderTestMarkdown(run));
  } else {
    process.stdout.write(renderTestText(run, { verbose: values.verbose ?? false }));
  }
  return testRunFailed(run) ? 1 : 0;
}

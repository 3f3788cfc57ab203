// `notrack test`: runs the policy repository's own test cases (PolicyTest files) through the reference evaluator.
import { appendFileSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { fetchSource, isYamlFile, type SourceFile, type SourceSnapshot } from '../source/index.js';
import { normalizeSubPath } from '../source/sub-path.js';
import { loadResources } from '../model/load-resources.js';
import { parseCidr, parseIp } from '../net/cidr.js';
import { parseDocuments, diagnosticAt, type SourceDocument } from '../model/documents.js';
import { formatDiagnostic, sortDiagnostics, type Diagnostic, type PathSegment } from '../model/diagnostics.js';
import { SCHEMA_DIR } from '../model/schemas.js';
import { didYouMean } from '../model/suggest.js';
import type { ResourceSet } from '../model/resources.js';
import { NotrackError } from '../errors.js';
import { compileHost } from '../compile/compile-host.js';
import type { DesiredState } from '../compile/desired-state.js';
import { interfaceState } from '../compile/evaluate.js';
import { parsePacket, PacketSyntaxError } from '../compile/packet-text.js';
import { caseProblem, describeActual, runCase, type CaseActual, type CaseExpectation } from '../compile/policy-test.js';
import { SOURCE_HELP, SOURCE_OPTIONS, oneOf, parseCommandArgs } from './args.js';
import { isInFolder, sourceOptions, testsFolder } from './read-policy.js';

export const TEST_HELP = `Usage: notrack test [--repo URL|PATH] [--ref REF] [--path DIR] [--tests DIR] [--format text|json|github]

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

export const TEST_JSON_VERSION = 1;

const KIND = 'PolicyTest';
const API_VERSION = 'notrack.dev/v1alpha1';

/** The schema-valid shape of a PolicyTest document (schema/policytest.schema.json). */
interface PolicyTestDocument {
  apiVersion: typeof API_VERSION;
  kind: typeof KIND;
  metadata: { name: string };
  spec: {
    description?: string;
    host: string;
    interface: string;
    cases: { name?: string; packet: string; expect: CaseExpectation['outcome']; reason?: CaseExpectation['reason']; rule?: string; logged?: string[] }[];
  };
}

let validator: ValidateFunction | null = null;

function policyTestValidator(): ValidateFunction {
  if (validator) return validator;
  // The same formats and keywords as the resource schemas, so the shared definitions compile the same way.
  const ajv = new Ajv({ allErrors: true, verbose: true, strict: true, allowUnionTypes: true });
  ajv.addFormat('cidr', { type: 'string', validate: (s: string) => parseCidr(s) !== null });
  ajv.addFormat('ip', { type: 'string', validate: (s: string) => parseIp(s) !== null });
  ajv.addKeyword({ keyword: 'tsType', schemaType: 'string' });
  ajv.addKeyword({ keyword: 'x-notrack-unsupported', schemaType: 'string', validate: () => false, errors: false });
  ajv.addSchema(JSON.parse(readFileSync(path.join(SCHEMA_DIR, 'common.schema.json'), 'utf8')));
  validator = ajv.compile(JSON.parse(readFileSync(path.join(SCHEMA_DIR, 'policytest.schema.json'), 'utf8')));
  return validator;
}

function pointerPath(pointer: string): PathSegment[] {
  if (pointer === '') return [];
  return pointer.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~')).map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

function fieldName(p: PathSegment[]): string {
  const last = [...p].reverse().find((s) => typeof s === 'string');
  return last === undefined ? 'value' : String(last);
}

/** ajv's findings as positioned diagnostics, one per problem, in the words of the other schema messages. */
function schemaDiagnostics(doc: SourceDocument, errors: ErrorObject[]): Diagnostic[] {
  const out: Diagnostic[] = [];
  const seen = new Set<string>();
  for (const e of errors) {
    const p = pointerPath(e.instancePath);
    const field = fieldName(p);
    const params = e.params as Record<string, unknown>;
    let d: Diagnostic;
    switch (e.keyword) {
      case 'additionalProperties': {
        const name = String(params['additionalProperty']);
        const known = Object.keys((e.parentSchema as { properties?: object } | undefined)?.properties ?? {});
        d = diagnosticAt(doc, [...p, name], 'error', 'unknown-field', `unknown field "${name}" in ${p.length ? field : 'the document'}${didYouMean(name, known)}`, { key: true });
        break;
      }
      case 'required':
        d = diagnosticAt(doc, p, 'error', 'missing-field', `missing required field "${String(params['missingProperty'])}"${p.length ? ` in ${field}` : ''}`);
        break;
      case 'enum': {
        const allowed = (params['allowedValues'] as unknown[]).map(String);
        d = diagnosticAt(doc, p, 'error', 'invalid-value', `${field} is ${JSON.stringify(e.data)}; expected one of ${allowed.join(', ')}${didYouMean(String(e.data), allowed)}`);
        break;
      }
      case 'type':
        d = diagnosticAt(doc, p, 'error', 'wrong-type', `${field} must be ${String(params['type']).replace('array', 'a list').replace('object', 'a mapping').replace(/^(string|integer|number|boolean)$/, 'a $1')}`);
        break;
      case 'pattern': {
        const description = (e.parentSchema as { description?: string } | undefined)?.description;
        d = diagnosticAt(doc, p, 'error', 'invalid-value', `${field} ${JSON.stringify(e.data)} is not valid${description ? `: ${description}` : ''}`);
        break;
      }
      case 'x-notrack-unsupported':
        d = diagnosticAt(doc, p, 'error', 'unsupported-field', `${field}: ${String(e.schema)}`, { key: true });
        break;
      case 'minItems': case 'minLength':
        d = diagnosticAt(doc, p, 'error', 'out-of-range', `${field} must not be empty`);
        break;
      default:
        d = diagnosticAt(doc, p, 'error', 'schema', `${field} ${e.message ?? 'is invalid'}`);
    }
    const id = `${d.path}|${d.message}`;
    if (!seen.has(id)) { seen.add(id); out.push(d); }
  }
  return out;
}

/** One case and how it went. */
export interface CaseResult {
  file: string;
  line: number;
  col: number;
  test: string;
  host: string;
  interface: string;
  index: number;
  name?: string;
  packet: string;
  expected: CaseExpectation;
  actual: CaseActual;
  passed: boolean;
  problem: string | null;
}

export interface TestRun {
  files: number;
  tests: number;
  results: CaseResult[];
  /** Invalid test files and cases, policy errors, and failed cases (code test-failed). */
  diagnostics: Diagnostic[];
  /** The policy did not validate, so no case ran; `diagnostics` holds its errors. */
  policyInvalid?: boolean;
}

/** Checks and runs every PolicyTest document of `testFiles` against valid resources. Pure apart from reading the schema. */
export function runPolicyTests(testFiles: readonly SourceFile[], resources: ResourceSet): TestRun {
  const parsed = parseDocuments(testFiles);
  const diagnostics: Diagnostic[] = [...parsed.diagnostics];
  const results: CaseResult[] = [];
  const states = new Map<string, DesiredState | Error>();
  const nodes = [...new Set(resources.hostEndpoints.map((h) => h.node))].sort();
  let tests = 0;
  for (const doc of parsed.documents) {
    const v = doc.value as Record<string, unknown> | null;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) {
      diagnostics.push(diagnosticAt(doc, [], 'error', 'not-a-policy-test', `a test document must be a mapping with apiVersion ${API_VERSION} and kind ${KIND}`));
      continue;
    }
    if (v['kind'] !== KIND) {
      diagnostics.push(diagnosticAt(doc, v['kind'] === undefined ? [] : ['kind'], 'error', 'not-a-policy-test',
        `the tests folder holds ${KIND} documents only${v['kind'] === undefined ? '; this one has no kind' : `, not ${String(v['kind'])}`} (policy belongs outside it)`));
      continue;
    }
    if (v['apiVersion'] !== API_VERSION) {
      diagnostics.push(diagnosticAt(doc, v['apiVersion'] === undefined ? [] : ['apiVersion'], 'error', 'api-version', `${KIND} needs apiVersion: ${API_VERSION}`));
      continue;
    }
    const validate = policyTestValidator();
    if (!validate(v)) {
      diagnostics.push(...schemaDiagnostics(doc, validate.errors ?? []));
      continue;
    }
    const t = v as unknown as PolicyTestDocument;
    tests++;
    const { host, interface: iface } = t.spec;
    if (!nodes.includes(host)) {
      diagnostics.push(diagnosticAt(doc, ['spec', 'host'], 'error', 'unknown-host',
        `no HostEndpoint has node "${host}"${didYouMean(host, nodes)}${nodes.length ? ` (hosts: ${nodes.join(', ')})` : ''}`));
      continue;
    }
    let state = states.get(host);
    if (!state) {
      try {
        state = compileHost(resources, host);
      } catch (e) {
        if (!(e instanceof NotrackError)) throw e;
        state = e;
      }
      states.set(host, state);
    }
    if (state instanceof Error) {
      diagnostics.push(diagnosticAt(doc, ['spec', 'host'], 'error', (state as NotrackError).code, state.message));
      continue;
    }
    const ifc = interfaceState(state, iface);
    if (!ifc) {
      const names = state.interfaces.map((i) => i.name);
      diagnostics.push(diagnosticAt(doc, ['spec', 'interface'], 'error', 'unknown-interface',
        `host ${host} has no HostEndpoint on interface ${iface}${didYouMean(iface, names)}${names.length ? ` (interfaces: ${names.join(', ')})` : ''}`));
      continue;
    }
    t.spec.cases.forEach((c, i) => {
      const where: PathSegment[] = ['spec', 'cases', i];
      const refs = [...(c.rule !== undefined ? [{ ref: c.rule, at: [...where, 'rule'] }] : []),
        ...(c.logged ?? []).map((ref, k) => ({ ref, at: [...where, 'logged', k] }))];
      const egress = refs.find((r) => r.ref.includes('/egress/'));
      if (egress) {
        diagnostics.push(diagnosticAt(doc, egress.at, 'error', 'invalid-value',
          `${egress.ref}: test cases check ingress (XDP); egress rules are iptables rules on packets the host sends and never decide a case`));
        return;
      }
      let packet;
      try {
        packet = parsePacket(c.packet);
      } catch (e) {
        if (!(e instanceof PacketSyntaxError)) throw e;
        diagnostics.push(diagnosticAt(doc, [...where, 'packet'], 'error', 'invalid-packet', e.message));
        return;
      }
      const expected: CaseExpectation = { outcome: c.expect };
      if (c.reason !== undefined) expected.reason = c.reason;
      if (c.rule !== undefined) expected.rule = c.rule;
      if (c.logged !== undefined) expected.logged = c.logged;
      const actual = runCase(state as DesiredState, ifc, iface, packet);
      const problem = caseProblem(expected, actual);
      const at = doc.locate(where);
      const label = `${t.metadata.name} case ${i}${c.name ? ` (${c.name})` : ''}`;
      const result: CaseResult = {
        file: doc.file, line: at.line, col: at.col, test: t.metadata.name, host, interface: iface, index: i,
        packet: c.packet, expected, actual, passed: problem === null, problem,
      };
      if (c.name !== undefined) result.name = c.name;
      results.push(result);
      if (problem) diagnostics.push(diagnosticAt(doc, where, 'error', 'test-failed', `${label}: ${c.packet}: ${problem}`));
    });
  }
  return { files: testFiles.length, tests, results, diagnostics: sortDiagnostics(diagnostics) };
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

export function testSummary(run: TestRun): string {
  if (run.policyInvalid) {
    const n = run.diagnostics.filter((d) => d.severity === 'error').length;
    return `failed: the policy has ${plural(n, 'error')} (see "notrack validate"), so none of the cases in ${plural(run.files, 'test file')} ran`;
  }
  const passed = run.results.filter((r) => r.passed).length;
  const failed = run.results.length - passed;
  const invalid = run.diagnostics.filter((d) => d.severity === 'error' && d.code !== 'test-failed').length;
  const ok = failed === 0 && invalid === 0;
  return `${ok ? 'passed' : 'failed'}: ${plural(run.files, 'file')}, ${plural(run.tests, 'test')}, ${plural(run.results.length, 'case')}: ` +
    `${passed} passed, ${failed} failed${invalid ? `, ${plural(invalid, 'error')} in the test files` : ''}`;
}

function escapeData(s: string): string {
  return s.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}
function escapeProperty(s: string): string {
  return escapeData(s).replace(/:/g, '%3A').replace(/,/g, '%2C');
}

function renderGithubLines(diags: readonly Diagnostic[]): string[] {
  return diags.map((d) => `::${d.severity} file=${escapeProperty(d.file)},line=${d.line},col=${d.col},title=${escapeProperty(`notrack ${d.code}`)}::${escapeData(d.message)}`);
}

function renderMarkdown(run: TestRun): string {
  const failures = run.diagnostics.filter((d) => d.severity === 'error');
  let out = `### ${failures.length ? '❌' : '✅'} notrack test\n\n${testSummary(run)}\n`;
  if (failures.length) {
    out += '\n| where | check | message |\n|---|---|---|\n';
    out += failures.map((d) => `| \`${d.file}:${d.line}:${d.col}\` | ${d.code} | ${d.message.replace(/\|/g, '\\|')} |`).join('\n') + '\n';
  }
  return out;
}

/** The test folder as the source reports paths, from --tests (repository-relative; in directory mode, a folder). */
function requestedTestsFolder(values: { repo?: string | undefined; path?: string | undefined; tests?: string | undefined }): string | null {
  if (values.tests === undefined) return testsFolder(values);
  if (values.repo !== undefined && values.repo !== '') return normalizeSubPath(values.tests, values.repo);
  const rel = path.relative(process.cwd(), path.resolve(values.tests)).split(path.sep).join('/');
  return rel === '' ? '.' : rel;
}

/** Reads policy and test files: one read when the tests lie inside the policy path, else a second at the same commit. */
async function readPolicyAndTests(values: Parameters<typeof sourceOptions>[0] & { tests?: string | undefined }):
Promise<{ snapshot: SourceSnapshot; policy: SourceFile[]; tests: SourceFile[]; folder: string }> {
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
  if (values.help) { process.stdout.write(TEST_HELP); return 0; }
  const format = oneOf('format', values.format, ['text', 'json', 'github'] as const, 'text');
  const { snapshot, policy, tests, folder } = await readPolicyAndTests(values);
  for (const w of snapshot.warnings ?? []) process.stderr.write(`warning: ${w}\n`);

  const loaded = loadResources(policy);
  let run: TestRun;
  if (!loaded.valid) {
    // Cases mean nothing against policy that does not validate: report why, run none.
    run = { files: tests.length, tests: 0, results: [], diagnostics: loaded.diagnostics.filter((d) => d.severity === 'error'), policyInvalid: true };
  } else if (tests.length === 0) {
    throw new NotrackError('no-tests', `no test files under ${folder}; write PolicyTest files there (see "notrack test --help") or point --tests at them`);
  } else {
    run = runPolicyTests(tests, loaded.resources);
  }

  const failed = run.diagnostics.some((d) => d.severity === 'error');
  if (format === 'json') {
    process.stdout.write(JSON.stringify({
      formatVersion: TEST_JSON_VERSION,
      kind: 'notrack.test',
      passed: !failed,
      policyValid: !run.policyInvalid,
      source: { repo: snapshot.repo, ref: snapshot.ref, commit: snapshot.commit, path: snapshot.subPath, tests: folder },
      summary: {
        files: run.files, tests: run.tests, cases: run.results.length,
        passed: run.results.filter((r) => r.passed).length, failed: run.results.filter((r) => !r.passed).length,
        errors: run.diagnostics.filter((d) => d.severity === 'error' && d.code !== 'test-failed').length,
      },
      results: run.results,
      diagnostics: run.diagnostics,
    }, null, 2) + '\n');
  } else if (format === 'github') {
    process.stdout.write([...renderGithubLines(run.diagnostics), testSummary(run)].join('\n') + '\n');
    if (process.env['GITHUB_STEP_SUMMARY']) appendFileSync(process.env['GITHUB_STEP_SUMMARY'], renderMarkdown(run));
  } else {
    const lines = run.diagnostics.map(formatDiagnostic);
    if (values.verbose) {
      for (const r of run.results.filter((x) => x.passed)) lines.push(`${r.file}:${r.line}:${r.col}: ok: ${r.test} case ${r.index}: ${r.packet}: ${describeActual(r.actual)}`);
    }
    process.stdout.write([...lines, testSummary(run)].join('\n') + '\n');
  }
  return failed ? 1 : 0;
}

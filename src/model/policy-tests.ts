// PolicyTest documents (the repository's own test cases): parsed with positions, checked for kind and apiVersion, and
// validated against schema/policytest.schema.json with the same Ajv and messages as the policy resources.
import { diagnosticAt, parseDocuments, type PolicyFile, type SourceDocument } from './documents.js';
import type { Diagnostic } from './diagnostics.js';
import type { PolicyTest } from './schema-types.gen.js';
import { schemaDiagnostics } from './schemas.js';

export type { PolicyTest, PolicyTestCase } from './schema-types.gen.js';

const KIND = 'PolicyTest';
const API_VERSION = 'notrack.dev/v1alpha1';
const SCHEMA = 'policytest.schema.json';

/** A schema-valid PolicyTest and the document it was read from (for positions). */
interface LoadedPolicyTest {
  doc: SourceDocument;
  test: PolicyTest;
}

export interface PolicyTestLoad {
  /** How many files were read. */
  files: number;
  tests: LoadedPolicyTest[];
  /** Unparsable files, documents that are not PolicyTests, schema errors. */
  diagnostics: Diagnostic[];
}

/** Reads every PolicyTest document of `files`; the tests folder holds nothing else. */
export function loadPolicyTests(files: readonly PolicyFile[]): PolicyTestLoad {
  const parsed = parseDocuments(files);
  const diagnostics: Diagnostic[] = [...parsed.diagnostics];
  const tests: LoadedPolicyTest[] = [];
  for (const doc of parsed.documents) {
    const v = doc.value as Record<string, unknown> | null;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) {
      diagnostics.push(
        diagnosticAt(
          doc,
          [],
          'error',
          'not-a-policy-test',
          `a test document must be a mapping with apiVersion ${API_VERSION} and kind ${KIND}`,
        ),
      );
      continue;
    }
    if (v['kind'] !== KIND) {
      diagnostics.push(
        diagnosticAt(
          doc,
          v['kind'] === undefined ? [] : ['kind'],
          'error',
          'not-a-policy-test',
          `the tests folder holds ${KIND} documents only${v['kind'] === undefined ? '; this one has no kind' : `, not ${String(v['kind'])}`} (policy belongs outside it)`,
        ),
      );
      continue;
    }
    if (v['apiVersion'] !== API_VERSION) {
      diagnostics.push(
        diagnosticAt(
          doc,
          v['apiVersion'] === undefined ? [] : ['apiVersion'],
          'error',
          'api-version',
          `${KIND} needs apiVersion: ${API_VERSION}`,
        ),
      );
      continue;
    }
    const problems = schemaDiagnostics(doc, SCHEMA);
    if (problems.length > 0) {
      diagnostics.push(...problems);
      continue;
    }
    tests.push({ doc, test: v as unknown as PolicyTest });
  }
  return { files: files.length, tests, diagnostics };
}

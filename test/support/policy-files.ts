// Policy files as a source hands them to the model stage, built from YAML text or resource objects, and loaded
// into resources that must validate (the tests that compile them are about compiling, not about validation).
import * as assert from 'uvu/assert';
import { loadResources } from '../../src/model/load-resources.js';
import { formatDiagnostic } from '../../src/model/diagnostics.js';
import type { PolicyFile } from '../../src/model/documents.js';
import type { ResourceSet } from '../../src/model/resources.js';

const encoder = new TextEncoder();

/** One file: YAML text is encoded as UTF-8, bytes are taken as they are (for BOMs and broken encodings). */
export function policyFile(path: string, content: string | Uint8Array): PolicyFile {
  const bytes = typeof content === 'string' ? encoder.encode(content) : content;
  return { path, content: bytes, size: bytes.length };
}

/** Resource objects as one YAML stream: JSON is YAML, and `---` separates the documents. */
export function documentsFile(path: string, docs: readonly object[]): PolicyFile {
  return policyFile(path, docs.map((d) => JSON.stringify(d)).join('\n---\n'));
}

/** The resources of files that must load without errors; any error fails the test, printed as the CLI prints it. */
export function validResources(files: readonly PolicyFile[]): ResourceSet {
  const r = loadResources(files);
  assert.equal(r.diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic), []);
  return r.resources;
}

/** Resource objects in one file, `fixture.yaml`, that must load without errors. */
export function validDocuments(...docs: object[]): ResourceSet {
  return validResources([documentsFile('fixture.yaml', docs)]);
}

/** YAML text in one file that must load without errors. */
export function validYaml(path: string, yaml: string): ResourceSet {
  return validResources([policyFile(path, yaml)]);
}

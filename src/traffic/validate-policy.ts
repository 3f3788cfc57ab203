// Validation with every lint: the model's checks (schema, semantics, resource-level lint), then the traffic engine's
// exact lints (rules that match nothing, shadowed rules, missing return paths) over the valid resources.
import type { DocumentLimits, PolicyFile } from '../model/documents.js';
import { sortDiagnostics } from '../model/diagnostics.js';
import { loadResources, type LoadResult } from '../model/load-resources.js';
import { lintTraffic } from './lint.js';

/** Parses, validates and lints one revision's policy files. Pure: no I/O. */
export function validatePolicy(files: readonly PolicyFile[], limits?: DocumentLimits): LoadResult {
  const result = loadResources(files, limits);
  if (!result.valid) return result;
  const lints = lintTraffic(result.resources, result.policyDocuments, result.diagnostics);
  return { ...result, diagnostics: sortDiagnostics([...result.diagnostics, ...lints]) };
}

// Validation with every lint: the model's checks (schema, semantics, resource-level lint), then the traffic engine's
// exact lints (rules that match nothing, shadowed rules, missing return paths) over the valid resources.
import type { DesiredState } from '../compile/desired-state.js';
import type { DocumentLimits, PolicyFile } from '../model/documents.js';
import { sortDiagnostics } from '../model/diagnostics.js';
import { loadResources, type LoadResult } from '../model/load-resources.js';
import { lintTraffic } from './lint.js';

/** Parses, validates and lints one revision's policy files. Pure: no I/O. */
export function validatePolicy(files: readonly PolicyFile[], limits?: DocumentLimits): LoadResult {
  return lintLoaded(loadResources(files, limits));
}

/**
 * The traffic engine's lints added to a loaded revision; `compiled`: hosts' states already compiled from its
 * resources (plan compiles the head's hosts anyway: the lint reads them instead of compiling them again).
 */
export function lintLoaded(result: LoadResult, compiled?: ReadonlyMap<string, DesiredState>): LoadResult {
  if (!result.valid) return result;
  const lints = lintTraffic(result.resources, result.policyDocuments, result.diagnostics, compiled);
  return { ...result, diagnostics: sortDiagnostics([...result.diagnostics, ...lints]) };
}

// A plan's two revisions loaded, linted (the head) and compiled, with what they hold alike read once: files both hold
// (the same blob at the same path) are parsed once, the base's sets from them are the head's objects.
import { NotrackError } from '../errors.js';
import { compileAll } from '../compile/compile-host.js';
import type { ParseCache, PolicyFile } from '../model/documents.js';
import { formatDiagnostic, type Diagnostic } from '../model/diagnostics.js';
import { loadResources, type LoadResult } from '../model/load-resources.js';
import type { ResourceSet } from '../model/resources.js';
import { lintLoaded } from '../traffic/validate-policy.js';
import type { PlanRevision } from './plan-report.js';
import { baseFilesSharedWithHead, shareUnchangedResources, type RevisionFiles } from './plan-share.js';

export class InvalidRevisionError extends NotrackError {
  constructor(which: string, result: LoadResult) {
    const errors = result.diagnostics.filter((d) => d.severity === 'error');
    super(
      'plan-invalid-revision',
      `the ${which} revision is invalid (${errors.length} error${errors.length === 1 ? '' : 's'}):\n` +
        errors
          .slice(0, 20)
          .map((d) => `  ${formatDiagnostic(d)}`)
          .join('\n') +
        (errors.length > 20 ? `\n  … and ${errors.length - 20} more (run notrack validate)` : ''),
    );
  }
}

export interface PlanRevisions {
  base: PlanRevision;
  head: PlanRevision & { resources: ResourceSet };
  /** The head's diagnostics, the traffic engine's lints included: its warnings go in the plan. */
  headDiagnostics: Diagnostic[];
  /** False when the base is invalid: it is then planned against as if empty. */
  baseValid: boolean;
}

/** The steps of loadPlanRevisions, in order, as its `onStage` names them when each is done. */
export type PlanStage = 'load head' | 'compile head' | 'lint head' | 'load base' | 'compile base';

/**
 * Loads, lints and compiles the head (an invalid head throws InvalidRevisionError), then loads and compiles the
 * base. Only what each later step needs is kept: the base's documents and diagnostics are dropped once its resources
 * are read, so a large set's parse does not live through the plan. `onStage` is told as each step ends.
 */
export function loadPlanRevisions(
  base: RevisionFiles,
  head: RevisionFiles,
  onStage: (stage: PlanStage) => void = () => {},
): PlanRevisions {
  const parsed: ParseCache = new WeakMap();
  const headLoaded = loadResources(head.files, undefined, parsed);
  if (!headLoaded.valid) throw new InvalidRevisionError('head', headLoaded);
  onStage('load head');
  // Compiled once: the plan and the head's lints read the same states.
  const headStates = compileAll(headLoaded.resources);
  onStage('compile head');
  const headLinted = lintLoaded(headLoaded, headStates);
  onStage('lint head');
  const baseFiles = baseFilesSharedWithHead(base, head);
  const baseResources = baseResourcesOf(baseFiles, head.files, headLinted.resources, parsed);
  onStage('load base');
  const baseStates = baseResources ? compileAll(baseResources) : new Map<string, never>();
  onStage('compile base');
  return {
    base: { states: baseStates, resources: baseResources, files: baseFiles },
    head: { states: headStates, resources: headLinted.resources, files: head.files },
    headDiagnostics: headLinted.diagnostics,
    baseValid: baseResources !== null,
  };
}

/** The base's resources, or null when it is invalid; only they outlive this call (not the documents). */
function baseResourcesOf(
  baseFiles: readonly PolicyFile[],
  headFiles: readonly PolicyFile[],
  head: ResourceSet,
  parsed: ParseCache,
): ResourceSet | null {
  const loaded = loadResources(baseFiles, undefined, parsed);
  return loaded.valid ? shareUnchangedResources(loaded.resources, baseFiles, head, headFiles) : null;
}

// Errors of the compile stage: a host's policy that the dataplane could not hold, or input it cannot mean.
import { NotrackError } from '../errors.js';

type CompileErrorCode = 'compile-limit' | 'compile-conflict';

/** What limit was passed, where, and by how much: for messages and for callers that report it as data. */
interface LimitDetails {
  host: string;
  interface: string;
  limit: 'maxRulesPerInterface' | 'maxSetPrefixes';
  actual: number;
  max: number;
}

export class CompileError extends NotrackError {
  declare readonly code: CompileErrorCode;
  readonly details: LimitDetails | undefined;
  constructor(code: CompileErrorCode, message: string, details?: LimitDetails) {
    super(code, message);
    this.details = details;
  }
}

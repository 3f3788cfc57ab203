// Errors of posting reports: the forge refused a request, or the CI environment does not say where to post.
import { NotrackError } from '../errors.js';

export type PublishErrorCode = 'publish-request-failed' | 'publish-no-target' | 'publish-no-token';

export class PublishError extends NotrackError {
  constructor(code: PublishErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

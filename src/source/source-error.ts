// The errors the source stage raises: one stable code per thing a person can fix, messages free of credentials.
import { NotrackError } from '../errors.js';

export type SourceErrorCode =
  /** Connection refused, name not resolved, TLS failure or no answer in time; the message names host:port. */
  | 'source-unreachable'
  /** The server sent below the minimum rate (a trickle), or the fetch passed its total deadline. */
  | 'source-too-slow'
  /** The server answered 401 or 403; the message says whether a token was sent and from where. */
  | 'source-auth'
  /** A token would go over plain http:// without --allow-insecure-http. */
  | 'source-insecure-http'
  /** The branch, tag or commit does not exist; the message lists some that do. */
  | 'source-ref-not-found'
  /** The repository has no commits at all. */
  | 'source-empty-repo'
  /** HEAD names a branch that does not exist, so there is no default branch to read. */
  | 'source-dangling-head'
  /** The sub-path is not in that commit (or the directory does not exist), or it is empty. */
  | 'source-path-not-found'
  /** The sub-path holds no policy file (none at all, or only hidden or ignored ones). */
  | 'source-no-policy-files'
  /** The location is not a Git repository (no repository at the URL, or a folder without .git). */
  | 'source-not-a-repo'
  /** The repository location is not something notrack can read (bad URL, SSH, git://). */
  | 'source-bad-url'
  /** The commit brings an object (or a pack) larger than the bounds that keep a fetch's memory bounded. */
  | 'source-too-large'
  /** --verify-signatures: a commit the host would newly run is unsigned or not signed by a trusted key. */
  | 'source-signature-invalid'
  /** The server broke the Git protocol or failed in a way that is not about access. */
  | 'source-remote-error'
  /** A local repository's object store is damaged (a missing or unreadable object). */
  | 'source-corrupt-repo'
  /** Another process holds the cache folder's lock for longer than the wait allows. */
  | 'source-cache-locked'
  /** The cache folder cannot be written (permissions, read-only file system, disk full, a file in the way). */
  | 'source-cache-unusable';

/** A source failure with a stable code; `repo` is the location in display form (no credentials). */
export class SourceError extends NotrackError {
  declare readonly code: SourceErrorCode;
  readonly repo: string | undefined;

  constructor(code: SourceErrorCode, message: string, options: { repo?: string; cause?: unknown } = {}) {
    super(code, message, options.cause === undefined ? undefined : { cause: options.cause });
    this.repo = options.repo;
  }
}

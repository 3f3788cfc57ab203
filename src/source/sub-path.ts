// Normalises the sub-path option into repository-relative form, refusing paths that climb out of the repository.
import { posix } from 'node:path';
import { SourceError } from './source-error.js';

/** 'policies/', './policies', '/policies' -> 'policies'; '' and '/' -> '.'. Throws for '..' escapes. */
export function normalizeSubPath(raw: string | undefined, repo: string): string {
  const given = raw ?? '.';
  const normal = posix.normalize(given.replace(/^\/+/, '') || '.').replace(/\/+$/, '');
  if (normal === '..' || normal.startsWith('../')) {
    throw new SourceError('source-path-not-found', `path "${given}" points outside the repository ${repo}`, { repo });
  }
  return normal === '' ? '.' : normal;
}

/** The path segments of a normalised sub-path; none for the root. */
export function subPathSegments(subPath: string): string[] {
  return subPath === '.' ? [] : subPath.split('/');
}

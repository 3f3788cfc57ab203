// When a ref is missing from a CI checkout, say why and what to do: CI systems clone shallow and single-branch, so
// the base branch of a pull request is often simply not there.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { SourceError } from '../source/index.js';

const HINT =
  'a CI checkout is usually shallow and holds only the pull request branch: fetch the base first ' +
  '(`git fetch --no-tags origin main:refs/remotes/origin/main`), or check out full history ' +
  '(GitHub: actions/checkout with fetch-depth: 0; GitLab: GIT_DEPTH: 0). The notrack action and GitLab template fetch it for you.';

/** Runs `read`; a ref-not-found error of a local repository gets the hint above (and says when the clone is shallow). */
export async function withShallowHint<T>(repo: string, ref: string, read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (e) {
    if (!(e instanceof SourceError) || e.code !== 'source-ref-not-found' || /^https?:\/\//.test(repo)) throw e;
    const shallow = existsSync(path.join(repo, '.git', 'shallow')) || existsSync(path.join(repo, 'shallow'));
    throw new SourceError('source-ref-not-found', `${e.message}.\n${shallow ? 'This clone is shallow: ' : ''}${HINT}`, {
      cause: e,
    });
  }
}

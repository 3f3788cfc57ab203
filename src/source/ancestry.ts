// Whether a commit descends from another in an object store: the provenance check that refuses a rewind (a
// force-push back to an older commit) before it is applied. A shallow store says "unknown" rather than guess.
import fs from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { git, Errors } from './git-library.js';
import type { TreeMemo } from './tree-memo.js';

/** `descends`: `ancestor` is reachable from `head`; `same`: the same commit; `not`: the whole history was walked
 *  without meeting it (a rewind, or unrelated history); `unknown`: the walk reached the edge of a shallow fetch. */
export type Ancestry = 'descends' | 'same' | 'not' | 'unknown';

async function shallowCommits(gitdir: string): Promise<Set<string>> {
  try {
    return new Set((await readFile(path.join(gitdir, 'shallow'), 'utf8')).split('\n').filter((l) => l !== ''));
  } catch {
    return new Set();
  }
}

/** Walks `head`'s history breadth first, at most `limit` commits; the memo's commits (checked) are not read again. */
export async function commitAncestry(
  gitdir: string,
  head: string,
  ancestor: string,
  cache: object,
  memo?: TreeMemo,
  limit = 100_000,
): Promise<Ancestry> {
  if (head === ancestor) return 'same';
  const shallow = await shallowCommits(gitdir);
  const queue = [head];
  const seen = new Set(queue);
  let edge = false;
  for (let walked = 0; queue.length; walked++) {
    if (walked >= limit) return 'unknown';
    const oid = queue.shift()!;
    let parents: string[];
    try {
      parents = memo?.commitParents(oid) ?? (await git.readCommit({ fs, gitdir, oid, cache })).commit.parent;
    } catch (e) {
      if (e instanceof Errors.NotFoundError) {
        edge = true;
        continue;
      }
      throw e;
    }
    if (parents.includes(ancestor)) return 'descends';
    if (shallow.has(oid)) {
      edge = true;
      continue;
    }
    for (const p of parents) if (!seen.has(p)) (seen.add(p), queue.push(p));
  }
  return edge ? 'unknown' : 'not';
}

// How many commits each applied commit is behind the head, from the policy repository's history (the local
// repository, or notrack's cache of a remote one). Shallow history gives "unknown" rather than a wrong number.
import { existsSync, statSync } from 'node:fs';
import fs from 'node:fs';
import path from 'node:path';
import git from 'isomorphic-git';
import { cacheFolderFor, defaultCacheDir } from '../source/index.js';

/** Commits looked at, at most: a host further behind than this is reported as unknown. */
const MAX_DEPTH = 5000;

function gitdirOf(repo: string, cacheDir: string | undefined): string | null {
  if (/^https?:\/\//.test(repo)) return cacheFolderFor(cacheDir ?? defaultCacheDir(), repo);
  const dotGit = path.join(repo, '.git');
  if (existsSync(dotGit) && statSync(dotGit).isDirectory()) return dotGit;
  return existsSync(path.join(repo, 'objects')) ? repo : null;
}

/** For each commit: the number of first-parent commits from `head` back to it, or null when not found. */
export async function commitsBehind(opts: {
  repo: string;
  cacheDir?: string;
  head: string;
  commits: readonly string[];
}): Promise<Map<string, number | null>> {
  const out = new Map<string, number | null>(opts.commits.map((c) => [c, null]));
  const gitdir = gitdirOf(opts.repo, opts.cacheDir);
  if (!gitdir) return out;
  let log: Awaited<ReturnType<typeof git.log>>;
  try {
    log = await git.log({ fs, gitdir, ref: opts.head, depth: MAX_DEPTH });
  } catch {
    return out;
  }
  log.forEach((entry, i) => {
    if (out.has(entry.oid)) out.set(entry.oid, i);
  });
  return out;
}

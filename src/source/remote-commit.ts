// Gets the commit a ref names into the cache folder: shallow at first, then what is new, deeper only when needed.
import fs from 'node:fs';
import type { HttpClient } from 'isomorphic-git';
import { git, Errors } from './git-library.js';
import { hasObject, peelToCommit } from './commit-files.js';
import { redact } from './credentials.js';
import type { RefChoice } from './ref-choice.js';
import { remoteFailure, type RemoteContext } from './remote-failure.js';
import type { SourceProgress } from './snapshot.js';
import { SourceError } from './source-error.js';
import type { TreeMemo } from './tree-memo.js';

/** How far back the default branch is fetched when a commit cannot be fetched by its id. */
export const FALLBACK_DEPTH = 100;

export interface RemoteFetch {
  gitdir: string;
  http: HttpClient;
  /** A fresh headers object per call: isomorphic-git adds to the one it is given. */
  headers: () => Record<string, string>;
  /** The branch the remote's HEAD names (refs/heads/...), if it names one. */
  defaultRef: string | undefined;
  remote: RemoteContext;
  onProgress: ((e: SourceProgress) => void) | undefined;
  /** isomorphic-git's object cache for this attempt. */
  cache: object;
  /** The commits and trees earlier reads went through (tree-memo.ts). */
  memo: TreeMemo;
  /** After a failed fetch: whether the pack was refused as too large (and that refusal is now forgotten). */
  forgetOversized: () => boolean;
}

/** Where a remote branch is kept in the cache, so the next fetch can tell the server what it already has. */
function trackingRef(fullRef: string | undefined): string | undefined {
  return fullRef?.startsWith('refs/heads/') ? `refs/remotes/origin/${fullRef.slice('refs/heads/'.length)}` : undefined;
}

/** The first line of an error's message with every secret masked. */
export function describeFailure(err: unknown, secrets: readonly string[]): string {
  const text = err instanceof Error ? err.message : String(err);
  return redact(text.split('\n')[0] ?? '', secrets);
}

async function fetchInto(f: RemoteFetch, remoteRef: string, depth: number | undefined, haveRef: string | undefined) {
  return git.fetch({
    fs,
    http: f.http,
    gitdir: f.gitdir,
    url: f.remote.url,
    cache: f.cache,
    remoteRef,
    ...(depth !== undefined ? { depth } : {}),
    ...(haveRef !== undefined ? { ref: haveRef } : {}),
    singleBranch: true,
    tags: false,
    headers: f.headers(),
    ...(f.onProgress !== undefined ? { onProgress: f.onProgress } : {}),
  });
}

/** Fetches more of the default branch, for commits the server will not send by id. */
async function deepenDefault(f: RemoteFetch): Promise<void> {
  if (f.defaultRef !== undefined) await fetchInto(f, f.defaultRef, FALLBACK_DEPTH, trackingRef(f.defaultRef));
}

function defaultName(f: RemoteFetch): string {
  return f.defaultRef?.replace(/^refs\/heads\//, '') ?? 'the default branch';
}

async function byName(f: RemoteFetch, kind: 'branch' | 'tag', fullRef: string, listedOid: string): Promise<string> {
  let oid = listedOid;
  const tracking = kind === 'branch' ? trackingRef(fullRef) : trackingRef(f.defaultRef);
  if (!(await hasObject(f.gitdir, oid, f.cache, f.memo))) {
    const result = await fetchNew(f, fullRef, tracking);
    // The ref may have moved between listing and fetching; what was fetched is what is read.
    if (result.fetchHead !== null) oid = result.fetchHead;
  } else if (kind === 'branch' && tracking !== undefined) {
    await git.writeRef({ fs, gitdir: f.gitdir, ref: tracking, value: oid, force: true });
  }
  return peelToCommit(f.gitdir, oid, f.cache, f.remote.url, f.memo);
}

/**
 * Fetches a branch or tag tip. With the previous tip of the tracked branch in the cache, no depth is asked for: the
 * server then sends only what is new since that tip (a README commit is a pack of a few hundred bytes). A shallow
 * fetch (deepen 1) makes git send the commit's whole tree again however little changed, 20 MB of YAML for a
 * 1M-prefix deny list. A rewound branch shares no history with the old tip and the server would send all of it: a
 * pack over the bounds is then fetched shallow after all.
 */
async function fetchNew(f: RemoteFetch, fullRef: string, tracking: string | undefined) {
  let previous: string | undefined;
  try {
    previous = tracking === undefined ? undefined : await git.resolveRef({ fs, gitdir: f.gitdir, ref: tracking });
  } catch {
    previous = undefined;
  }
  if (previous === undefined || !(await hasObject(f.gitdir, previous, f.cache, f.memo)))
    return fetchInto(f, fullRef, 1, tracking);
  try {
    return await fetchInto(f, fullRef, undefined, tracking);
  } catch (err) {
    if (!f.forgetOversized()) throw err;
    return fetchInto(f, fullRef, 1, tracking);
  }
}

async function byId(f: RemoteFetch, oid: string): Promise<string> {
  const { gitdir, cache } = f;
  const url = f.remote.url;
  if (await hasObject(gitdir, oid, cache)) return peelToCommit(gitdir, oid, cache, url);
  let refusal = '';
  try {
    await fetchInto(f, oid, 1, trackingRef(f.defaultRef));
  } catch (err) {
    const failure = remoteFailure(err, f.remote);
    if (failure !== undefined) throw failure;
    refusal = ` (it answered: ${describeFailure(err, f.remote.auth.secrets)})`;
  }
  if (await hasObject(gitdir, oid, cache)) return peelToCommit(gitdir, oid, cache, url);
  await deepenDefault(f);
  if (await hasObject(gitdir, oid, cache)) return peelToCommit(gitdir, oid, cache, url);
  throw new SourceError(
    'source-ref-not-found',
    `commit ${oid} not found in ${url}: the server did not send it when asked by id${refusal}, and it is not among ` +
      `the last ${FALLBACK_DEPTH} commits of ${defaultName(f)}. Servers send only commits that a branch or tag reaches ` +
      'unless uploadpack.allowAnySHA1InWant is set; check the id, or name a branch or tag',
    { repo: url },
  );
}

async function expandInCache(f: RemoteFetch, prefix: string): Promise<string | undefined> {
  try {
    return await git.expandOid({ fs, gitdir: f.gitdir, oid: prefix, cache: f.cache });
  } catch (err) {
    if (err instanceof Errors.NotFoundError) return undefined;
    if (err instanceof Errors.AmbiguousError) {
      throw new SourceError(
        'source-ref-not-found',
        `the abbreviated commit id ${prefix} matches several objects in ${f.remote.url}: give more digits`,
        { repo: f.remote.url },
      );
    }
    throw err;
  }
}

/** A server cannot be asked for an abbreviated id, so it is looked up in what has been fetched, then in more. */
async function byPrefix(f: RemoteFetch, prefix: string): Promise<string> {
  const cached = await expandInCache(f, prefix);
  if (cached !== undefined) return peelToCommit(f.gitdir, cached, f.cache, f.remote.url);
  await deepenDefault(f);
  const found = await expandInCache(f, prefix);
  if (found !== undefined) return peelToCommit(f.gitdir, found, f.cache, f.remote.url);
  throw new SourceError(
    'source-ref-not-found',
    `no commit whose id starts with ${prefix} among the last ${FALLBACK_DEPTH} commits of ${defaultName(f)} in ` +
      `${f.remote.url}: an abbreviated id can only be looked up in fetched history; give the full 40-digit id, or a ` +
      'branch or tag',
    { repo: f.remote.url },
  );
}

/**
 * Fetches `depth` commits of history behind what `choice` names (the default branch for a commit id), so that an
 * ancestry walk can reach further back than the shallow fetch did.
 */
export async function deepen(f: RemoteFetch, choice: RefChoice, depth: number): Promise<void> {
  if (choice.kind === 'branch' || choice.kind === 'tag') {
    const tracking = choice.kind === 'branch' ? trackingRef(choice.fullRef) : trackingRef(f.defaultRef);
    await fetchInto(f, choice.fullRef, depth, tracking);
  } else if (f.defaultRef !== undefined) {
    await fetchInto(f, f.defaultRef, depth, trackingRef(f.defaultRef));
  }
}

/** Makes sure the cache folder holds the commit `choice` names (fetching only what is missing) and returns its id. */
export async function fetchCommit(f: RemoteFetch, choice: RefChoice): Promise<string> {
  switch (choice.kind) {
    case 'branch':
    case 'tag':
      return byName(f, choice.kind, choice.fullRef, choice.oid);
    case 'commit':
      return byId(f, choice.oid);
    case 'abbreviated':
      return byPrefix(f, choice.prefix);
  }
}

// Reads one commit of an HTTP(S) remote: lists its refs, fetches shallowly into the cache folder, reads the files.
import fs from 'node:fs';
import git, { type HttpClient } from 'isomorphic-git';
import { cacheFolderFor, cacheState, createCache, withCacheLock } from './cache-folder.js';
import { hasObject, peelToCommit, readCommitFiles } from './commit-files.js';
import { redact, remoteAuth } from './credentials.js';
import { silenceLimitedHttp } from './http-client.js';
import { chooseRef, type RefChoice, type RefTable } from './ref-choice.js';
import { remoteFailure, type RemoteContext } from './remote-failure.js';
import type { RemoteLocation } from './repo-location.js';
import type { SourceSettings } from './settings.js';
import type { SourceSnapshot } from './snapshot.js';
import { SourceError } from './source-error.js';
import { normalizeSubPath } from './sub-path.js';

/** How far back the default branch is fetched when a commit cannot be fetched by its id. */
export const FALLBACK_DEPTH = 100;

/** The refs the server advertises (protocol v1, which is what isomorphic-git fetches with). */
async function advertisedRefs(http: HttpClient, url: string, headers: Record<string, string>): Promise<RefTable> {
  const listed = await git.listServerRefs({ http, url, headers, protocolVersion: 1, symrefs: true, peelTags: true });
  const table: RefTable = { refs: new Map(), peeled: new Map(), head: null };
  for (const entry of listed) {
    if (entry.ref === 'HEAD') {
      table.head = entry.target !== undefined ? { target: entry.target, oid: entry.oid } : { oid: entry.oid };
    } else if (!entry.ref.endsWith('^{}')) {
      table.refs.set(entry.ref, entry.oid);
      if (entry.peeled !== undefined) table.peeled.set(entry.ref, entry.peeled);
    }
  }
  return table;
}

/** Where a remote branch is kept in the cache, so the next fetch can tell the server what it already has. */
function trackingRef(fullRef: string | undefined): string | undefined {
  return fullRef?.startsWith('refs/heads/') ? `refs/remotes/origin/${fullRef.slice('refs/heads/'.length)}` : undefined;
}

function describe(err: unknown, secrets: readonly string[]): string {
  const text = err instanceof Error ? err.message : String(err);
  return redact(text.split('\n')[0] ?? '', secrets);
}

export async function readRemote(loc: RemoteLocation, settings: SourceSettings): Promise<SourceSnapshot> {
  const { url } = loc;
  const auth = remoteAuth({ urlCredentials: loc.urlCredentials, tokenEnv: settings.tokenEnv, username: settings.username });
  const ctx: RemoteContext = { url, hostPort: loc.hostPort, auth, tokenEnv: settings.tokenEnv };
  const http = silenceLimitedHttp(settings.timeoutMs);
  // isomorphic-git adds headers to the object it is given, so each call gets its own.
  const headers = (): Record<string, string> => (auth.header === undefined ? {} : { Authorization: auth.header });
  const subPath = normalizeSubPath(settings.path, url);
  const known = (err: unknown): SourceError | undefined => (err instanceof SourceError ? err : remoteFailure(err, ctx));

  let table: RefTable;
  try {
    table = await advertisedRefs(http, url, headers());
  } catch (err) {
    throw known(err) ?? new SourceError('source-remote-error',
      `listing the refs of ${url} failed: ${describe(err, auth.secrets)}`, { repo: url });
  }
  const { choice, warnings } = chooseRef(settings.ref, table, url);
  const defaultRef = table.head?.target;
  if (table.head === null) {
    throw new SourceError('source-dangling-head',
      `the HEAD of ${url} names a branch that does not exist; isomorphic-git, which notrack fetches with, cannot ` +
      `fetch from a repository in that state even for ref "${settings.ref}": fix HEAD on the server ` +
      '(git symbolic-ref HEAD refs/heads/<branch>)', { repo: url });
  }

  const gitdir = cacheFolderFor(settings.cacheDir, url);

  async function fetchInto(cache: object, remoteRef: string, depth: number, haveRef: string | undefined) {
    return git.fetch({
      fs, http, gitdir, url, cache, remoteRef, depth,
      ...(haveRef !== undefined ? { ref: haveRef } : {}),
      singleBranch: true, tags: false, headers: headers(),
      ...(settings.onProgress !== undefined ? { onProgress: settings.onProgress } : {}),
    });
  }

  /** Fetches more of the default branch, for commits the server will not send by id. */
  async function deepenDefault(cache: object): Promise<void> {
    if (defaultRef !== undefined) await fetchInto(cache, defaultRef, FALLBACK_DEPTH, trackingRef(defaultRef));
  }

  const defaultName = defaultRef?.replace(/^refs\/heads\//, '') ?? 'the default branch';

  async function commitById(cache: object, oid: string): Promise<string> {
    if (await hasObject(gitdir, oid, cache)) return peelToCommit(gitdir, oid, cache, url);
    let refusal = '';
    try {
      await fetchInto(cache, oid, 1, trackingRef(defaultRef));
    } catch (err) {
      const failure = remoteFailure(err, ctx);
      if (failure !== undefined) throw failure;
      refusal = ` (it answered: ${describe(err, auth.secrets)})`;
    }
    if (await hasObject(gitdir, oid, cache)) return peelToCommit(gitdir, oid, cache, url);
    await deepenDefault(cache);
    if (await hasObject(gitdir, oid, cache)) return peelToCommit(gitdir, oid, cache, url);
    throw new SourceError('source-ref-not-found',
      `commit ${oid} not found in ${url}: the server did not send it when asked by id${refusal}, and it is not among ` +
      `the last ${FALLBACK_DEPTH} commits of ${defaultName}. Servers send only commits that a branch or tag reaches ` +
      'unless uploadpack.allowAnySHA1InWant is set; check the id, or name a branch or tag', { repo: url });
  }

  async function expandInCache(cache: object, prefix: string): Promise<string | undefined> {
    try {
      return await git.expandOid({ fs, gitdir, oid: prefix, cache });
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === 'NotFoundError') return undefined;
      if (code === 'AmbiguousError') {
        throw new SourceError('source-ref-not-found',
          `the abbreviated commit id ${prefix} matches several objects in ${url}: give more digits`, { repo: url });
      }
      throw err;
    }
  }

  async function commitByPrefix(cache: object, prefix: string): Promise<string> {
    const cached = await expandInCache(cache, prefix);
    if (cached !== undefined) return peelToCommit(gitdir, cached, cache, url);
    await deepenDefault(cache);
    const found = await expandInCache(cache, prefix);
    if (found !== undefined) return peelToCommit(gitdir, found, cache, url);
    throw new SourceError('source-ref-not-found',
      `no commit whose id starts with ${prefix} among the last ${FALLBACK_DEPTH} commits of ${defaultName} in ${url}: ` +
      'an abbreviated id can only be looked up in fetched history; give the full 40-digit id, or a branch or tag',
      { repo: url });
  }

  async function resolveCommit(cache: object, wanted: RefChoice): Promise<string> {
    switch (wanted.kind) {
      case 'branch':
      case 'tag': {
        let oid = wanted.oid;
        const tracking = wanted.kind === 'branch' ? trackingRef(wanted.fullRef) : trackingRef(defaultRef);
        if (!(await hasObject(gitdir, oid, cache))) {
          const result = await fetchInto(cache, wanted.fullRef, 1, tracking);
          // The ref may have moved between listing and fetching; what was fetched is what is read.
          if (result.fetchHead !== null) oid = result.fetchHead;
        } else if (wanted.kind === 'branch' && tracking !== undefined) {
          await git.writeRef({ fs, gitdir, ref: tracking, value: oid, force: true });
        }
        return peelToCommit(gitdir, oid, cache, url);
      }
      case 'commit':
        return commitById(cache, wanted.oid);
      case 'abbreviated':
        return commitByPrefix(cache, wanted.prefix);
    }
  }

  const label = choice.kind === 'branch' || choice.kind === 'tag' ? `${choice.kind} ${choice.name}` : 'commit';
  async function attempt(): Promise<{ commit: string; files: SourceSnapshot['files']; warnings: string[] }> {
    const cache = {};
    const commit = await resolveCommit(cache, choice);
    const read = await readCommitFiles({
      gitdir, commit, subPath, include: settings.include, maxFileBytes: settings.maxFileBytes, cache, repo: url, label,
    });
    return { commit, ...read };
  }

  return withCacheLock(gitdir, settings.timeoutMs * 2, async () => {
    const state = await cacheState(gitdir);
    if (state.state === 'damaged') {
      warnings.push(`the cache folder ${gitdir} was damaged (${state.problem}) and was rebuilt`);
    }
    if (state.state !== 'healthy') await createCache(gitdir, url);
    let result;
    try {
      result = await attempt();
    } catch (err) {
      const failure = known(err);
      if (failure !== undefined) throw failure;
      // Anything else came out of the object store: start the cache afresh once rather than fail.
      warnings.push(`the cache folder ${gitdir} could not be read (${describe(err, auth.secrets)}) and was rebuilt`);
      await createCache(gitdir, url);
      try {
        result = await attempt();
      } catch (again) {
        throw known(again) ?? new SourceError('source-remote-error',
          `reading ${label} of ${url} failed even after rebuilding the cache folder ${gitdir}: ` +
          describe(again, auth.secrets), { repo: url });
      }
    }
    return {
      repo: url,
      kind: 'remote',
      ref: choice.kind === 'branch' || choice.kind === 'tag' ? choice.name : null,
      refKind: choice.kind === 'abbreviated' ? 'commit' : choice.kind,
      commit: result.commit,
      subPath,
      files: result.files,
      warnings: [...warnings, ...result.warnings],
    };
  });
}

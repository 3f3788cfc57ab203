// Reads one commit of an HTTP(S) remote: lists its refs, fetches shallowly into the cache folder, reads the files.
import type { HttpClient } from 'isomorphic-git';
import { git } from './git-library.js';
import { cacheFolderFor, cacheFsFailure, cacheState, createCache, withCacheLock } from './cache-folder.js';
import { readCommitFiles, type CommitFiles } from './commit-files.js';
import { packStore, type FetchedObjects } from './fetched-pack.js';
import { remoteAuth } from './credentials.js';
import { limitedHttp } from './http-client.js';
import { OversizedPackError } from './pack-guard.js';
import { verifyCommits } from './commit-signatures.js';
import { chooseRef, type RefTable } from './ref-choice.js';
import { commitAncestry, type Ancestry } from './ancestry.js';
import { deepen, describeFailure, fetchCommit, type RemoteFetch } from './remote-commit.js';

/** How far back the history is fetched, in turn, to prove that a new commit descends from the applied one. */
const ANCESTRY_DEPTHS = [64, 1024, 16384];
import { remoteFailure, type RemoteContext } from './remote-failure.js';
import type { RemoteLocation } from './repo-location.js';
import type { SourceSettings } from './settings.js';
import type { SourceSnapshot } from './snapshot.js';
import { SourceError } from './source-error.js';
import { normalizeSubPath } from './sub-path.js';
import { TreeMemo } from './tree-memo.js';

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

export async function readRemote(loc: RemoteLocation, settings: SourceSettings): Promise<SourceSnapshot> {
  const { url } = loc;
  const auth = remoteAuth({
    urlCredentials: loc.urlCredentials,
    tokenEnv: settings.tokenEnv,
    username: settings.username,
  });
  const ctx: RemoteContext = { url, hostPort: loc.hostPort, auth, tokenEnv: settings.tokenEnv };
  if (auth.provided && url.startsWith('http://') && !settings.allowInsecureHttp) {
    throw new SourceError(
      'source-insecure-http',
      `refusing to send ${auth.description} to ${url} over plain http: anyone on the path can read it and push ` +
        'policy in your name. Use https://, or pass --allow-insecure-http if the path is trusted',
      { repo: url },
    );
  }
  const subPath = normalizeSubPath(settings.path, url);
  const gitdir = cacheFolderFor(settings.cacheDir, url);
  // The objects of what this read fetches, inflated once by the pack guard: the commit, trees and files are taken
  // from here.
  const fetched: FetchedObjects = new Map();
  const http = limitedHttp(
    {
      idleMs: settings.timeoutMs,
      deadlineMs: settings.deadlineMs,
      minBytesPerSecond: settings.minBytesPerSecond,
      rateWindowMs: settings.rateWindowMs,
      pack: { maxObjectBytes: settings.maxObjectBytes, maxPackBytes: settings.maxPackBytes },
    },
    { storePack: packStore(gitdir, fetched) },
  );
  // isomorphic-git adds headers to the object it is given, so each call gets its own.
  const headers = (): Record<string, string> => (auth.header === undefined ? {} : { Authorization: auth.header });
  // A request cut off by the client's limits explains whatever isomorphic-git made of it (often "empty response").
  const known = (err: unknown): SourceError | undefined => {
    const cut = http.failure();
    if (cut instanceof OversizedPackError) return tooLarge(cut);
    if (cut !== undefined) return remoteFailure(cut, ctx);
    return err instanceof SourceError ? err : (remoteFailure(err, ctx) ?? cacheFsFailure(err, gitdir));
  };

  let table: RefTable;
  try {
    table = await advertisedRefs(http, url, headers());
  } catch (err) {
    throw (
      known(err) ??
      new SourceError(
        'source-remote-error',
        `listing the refs of ${url} failed: ${describeFailure(err, auth.secrets)}`,
        { repo: url },
      )
    );
  }
  const { choice, warnings } = chooseRef(settings.ref, table, url);
  if (table.head === null) {
    throw new SourceError(
      'source-dangling-head',
      `the HEAD of ${url} names a branch that does not exist; isomorphic-git, which notrack fetches with, cannot ` +
        `fetch from a repository in that state even for ref "${settings.ref}": fix HEAD on the server ` +
        '(git symbolic-ref HEAD refs/heads/<branch>)',
      { repo: url },
    );
  }

  const label = choice.kind === 'branch' || choice.kind === 'tag' ? `${choice.kind} ${choice.name}` : 'commit';
  // Set while older history is fetched to show that the head descends from the applied commit.
  let provingAncestry = false;
  function tooLarge(cut: OversizedPackError): SourceError {
    const wanted = choice.kind === 'abbreviated' ? choice.prefix : choice.oid;
    const why = provingAncestry
      ? `; the object is in the history between the applied commit and the head, which is fetched to show that ` +
        'the head descends from it: a commit that deletes the file does not take it out of history, rewriting ' +
        'the history does (or raise the limit)'
      : '. notrack fetches every object of a commit, wherever it lies, and bounds each to keep its memory ' +
        'bounded: take large files out of the policy repository, or raise the limit';
    return new SourceError(
      'source-too-large',
      `refused to fetch ${wanted.slice(0, 12)} (${label}) of ${url}: ${cut.message}${why}`,
      { repo: url, cause: cut },
    );
  }
  async function attempt(): Promise<CommitFiles & { commit: string; ancestry?: Ancestry }> {
    const cache = {};
    const memo = await TreeMemo.load(gitdir, fetched);
    const f: RemoteFetch = {
      gitdir,
      http,
      headers,
      defaultRef: table.head?.target,
      remote: ctx,
      onProgress: settings.onProgress,
      cache,
      memo,
      forgetOversized: () => http.forgetOversized(),
    };
    const commit = await fetchCommit(f, choice);
    let ancestry: Ancestry | undefined;
    if (settings.ancestor !== undefined) {
      // A shallow fetch holds only the tip: fetch further back until the walk meets the applied commit or the root.
      ancestry = await commitAncestry(gitdir, commit, settings.ancestor, cache, memo);
      for (const depth of ANCESTRY_DEPTHS) {
        if (ancestry !== 'unknown') break;
        provingAncestry = true;
        await deepen(f, choice, depth);
        ancestry = await commitAncestry(gitdir, commit, settings.ancestor, cache, memo);
      }
    }
    if (settings.signatures !== undefined) {
      // Only what descends from the applied commit has a range to verify; a rewind is refused on its own.
      const applied = ancestry === 'descends' ? settings.ancestor : undefined;
      await verifyCommits({ gitdir, head: commit, applied, cache, keys: settings.signatures, repo: url });
    }
    const read = await readCommitFiles({
      gitdir,
      commit,
      subPath,
      include: settings.include,
      maxFileBytes: settings.maxFileBytes,
      cache,
      memo,
      repo: url,
      label,
      skipContent: settings.skipContent,
      knownFile: settings.knownFile,
      fetched,
    });
    await memo.save();
    return { commit, ...read, ...(ancestry !== undefined ? { ancestry } : {}) };
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
      warnings.push(
        `the cache folder ${gitdir} could not be read (${describeFailure(err, auth.secrets)}) and was rebuilt`,
      );
      await createCache(gitdir, url);
      try {
        result = await attempt();
      } catch (again) {
        throw (
          known(again) ??
          new SourceError(
            'source-remote-error',
            `reading ${label} of ${url} failed even after rebuilding the cache folder ${gitdir}: ` +
              describeFailure(again, auth.secrets),
            { repo: url },
          )
        );
      }
    }
    return {
      ...(result.ancestry !== undefined ? { ancestry: result.ancestry } : {}),
      repo: url,
      kind: 'remote',
      ref: choice.kind === 'branch' || choice.kind === 'tag' ? choice.name : null,
      refKind: choice.kind === 'abbreviated' ? 'commit' : choice.kind,
      commit: result.commit,
      subPath,
      files: result.files,
      blobs: result.blobs,
      ...(result.unread ? { unread: true as const } : {}),
      warnings: [...warnings, ...result.warnings],
    };
  });
}

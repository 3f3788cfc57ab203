// Reads one commit of a repository on this machine straight from its object store (no clone, no checkout).
import fs from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { git, Errors } from './git-library.js';
import { commitAncestry } from './ancestry.js';
import { hasObject, peelToCommit, readCommitFiles } from './commit-files.js';
import { chooseRef, type RefTable } from './ref-choice.js';
import type { LocalLocation } from './repo-location.js';
import type { SourceSettings } from './settings.js';
import type { SourceSnapshot } from './snapshot.js';
import { SourceError } from './source-error.js';
import { verifyCommits } from './commit-signatures.js';
import { normalizeSubPath } from './sub-path.js';

async function kindOf(path: string): Promise<'dir' | 'file' | null> {
  try {
    const s = await stat(path);
    return s.isDirectory() ? 'dir' : 'file';
  } catch {
    return null;
  }
}

/** The git directory of a working tree (its .git folder or .git file) or of a bare repository. */
async function findGitdir(path: string): Promise<string> {
  const notRepo = (why: string) => new SourceError('source-not-a-repo', `${path} ${why}`, { repo: path });
  const kind = await kindOf(path);
  if (kind === null) throw notRepo('does not exist');
  if (kind === 'file') throw notRepo('is a file, not a Git repository');
  const dotGit = join(path, '.git');
  let gitdir: string | undefined;
  const dotKind = await kindOf(dotGit);
  if (dotKind === 'dir') {
    gitdir = dotGit;
  } else if (dotKind === 'file') {
    const pointer = /^gitdir:\s*(.+?)\s*$/m.exec(await readFile(dotGit, 'utf8'))?.[1];
    if (pointer === undefined) throw notRepo('has a .git file that does not name a git directory');
    gitdir = resolve(path, pointer);
  } else if ((await kindOf(join(path, 'HEAD'))) === 'file' && (await kindOf(join(path, 'objects'))) === 'dir') {
    gitdir = path;
  }
  if (gitdir === undefined) {
    throw notRepo(
      'is not a Git repository (no .git folder, and not a bare repository); to read the files of a plain ' +
        'folder, leave the repository option out and give the folder as the path',
    );
  }
  if ((await kindOf(join(gitdir, 'commondir'))) === 'file') {
    throw notRepo(
      'is a linked worktree (git worktree add), which notrack cannot read; give the main repository instead',
    );
  }
  if ((await kindOf(join(gitdir, 'objects'))) !== 'dir') throw notRepo(`has a git directory ${gitdir} without objects`);
  return gitdir;
}

async function localRefTable(gitdir: string): Promise<RefTable> {
  const table: RefTable = { refs: new Map(), peeled: new Map(), head: null };
  for (const space of ['refs/heads', 'refs/tags', 'refs/remotes']) {
    for (const name of await git.listRefs({ fs, gitdir, filepath: space })) {
      const full = `${space}/${name}`;
      try {
        table.refs.set(full, await git.resolveRef({ fs, gitdir, ref: full }));
      } catch {
        // A symbolic ref to nothing (origin/HEAD after a branch was deleted) names no commit; leave it out.
      }
    }
  }
  const head = (await readFile(join(gitdir, 'HEAD'), 'utf8').catch(() => '')).trim();
  const target = /^ref:\s*(\S+)$/.exec(head)?.[1];
  if (target !== undefined) {
    const oid = table.refs.get(target);
    table.head = oid !== undefined ? { target, oid } : { target };
  } else if (/^[0-9a-f]{40}$/.test(head)) {
    table.head = { oid: head };
  }
  return table;
}

export async function readLocal(loc: LocalLocation, settings: SourceSettings): Promise<SourceSnapshot> {
  const repo = loc.path;
  const gitdir = await findGitdir(repo);
  const subPath = normalizeSubPath(settings.path, repo);
  const table = await localRefTable(gitdir);
  const { base, back } = splitAncestry(settings.ref);
  const { choice, warnings } = chooseRef(base, table, repo);
  const cache = {};

  const damaged = (err: unknown, what: string) =>
    new SourceError(
      'source-corrupt-repo',
      `cannot read ${what} from ${repo}: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}; ` +
        `the repository looks damaged (try git fsck)`,
      { repo, cause: err },
    );

  let oid: string;
  if (choice.kind === 'abbreviated') {
    try {
      oid = await git.expandOid({ fs, gitdir, oid: choice.prefix, cache });
    } catch (err) {
      if (err instanceof Errors.AmbiguousError) {
        throw new SourceError(
          'source-ref-not-found',
          `the abbreviated commit id ${choice.prefix} matches several objects in ${repo}: give more digits`,
          { repo },
        );
      }
      if (err instanceof Errors.NotFoundError) {
        throw new SourceError('source-ref-not-found', `no commit whose id starts with ${choice.prefix} in ${repo}`, {
          repo,
        });
      }
      throw damaged(err, `commit ${choice.prefix}`);
    }
  } else {
    oid = choice.oid;
    if (choice.kind === 'commit' && !(await hasObject(gitdir, oid, cache))) {
      throw new SourceError('source-ref-not-found', `commit ${oid} is not in ${repo}`, { repo });
    }
  }
  const label = choice.kind === 'branch' || choice.kind === 'tag' ? `${choice.kind} ${choice.name}` : 'commit';
  let commit: string;
  let read: Awaited<ReturnType<typeof readCommitFiles>>;
  try {
    commit = await firstParentAncestor(
      gitdir,
      await peelToCommit(gitdir, oid, cache, repo),
      back,
      cache,
      repo,
      settings.ref,
    );
    read = await readCommitFiles({
      gitdir,
      commit,
      subPath,
      include: settings.include,
      maxFileBytes: settings.maxFileBytes,
      cache,
      repo,
      label,
      skipContent: settings.skipContent,
      knownFile: settings.knownFile,
    });
  } catch (err) {
    if (err instanceof SourceError) throw err;
    throw damaged(err, label);
  }
  const ancestry =
    settings.ancestor === undefined ? undefined : await commitAncestry(gitdir, commit, settings.ancestor, cache);
  if (settings.signatures !== undefined) {
    const applied = ancestry === 'descends' ? settings.ancestor : undefined;
    await verifyCommits({ gitdir, head: commit, applied, cache, keys: settings.signatures, repo });
  }
  return {
    ...(ancestry !== undefined ? { ancestry } : {}),
    repo,
    kind: 'local',
    ref: back === 0 && (choice.kind === 'branch' || choice.kind === 'tag') ? choice.name : null,
    refKind: back > 0 || choice.kind === 'abbreviated' ? 'commit' : choice.kind,
    commit,
    subPath,
    files: read.files,
    blobs: read.blobs,
    ...(read.unread ? { unread: true as const } : {}),
    warnings: [...warnings, ...read.warnings],
  };
}

/**
 * `main~2`, `HEAD^`, `v1^^`: git's first-parent ancestry suffixes, which pull-request jobs use for the base
 * revision. Returns the ref without them and how many first parents to go back.
 */
function splitAncestry(ref: string | undefined): { base: string | undefined; back: number } {
  if (ref === undefined) return { base: undefined, back: 0 };
  const m = /^(.+?)((?:~\d*|\^)+)$/.exec(ref);
  if (!m) return { base: ref, back: 0 };
  let back = 0;
  for (const step of m[2]!.match(/~\d*|\^/g) ?? []) back += step === '^' || step === '~' ? 1 : Number(step.slice(1));
  return { base: m[1]!, back };
}

async function firstParentAncestor(
  gitdir: string,
  commit: string,
  back: number,
  cache: object,
  repo: string,
  ref: string | undefined,
): Promise<string> {
  let oid = commit;
  for (let i = 0; i < back; i++) {
    const { commit: c } = await git.readCommit({ fs, gitdir, oid, cache });
    const parent = c.parent[0];
    if (parent === undefined) {
      throw new SourceError(
        'source-ref-not-found',
        `${ref} goes back ${back} commits, but ${repo} has only ${i} before that one`,
        { repo },
      );
    }
    oid = parent;
  }
  return oid;
}

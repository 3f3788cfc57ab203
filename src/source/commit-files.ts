// Reads the files under a sub-path of one commit straight from a Git object store: no checkout, no working tree.
import fs from 'node:fs';
import type { TagObject, TreeEntry } from 'isomorphic-git';
import { git, Errors } from './git-library.js';
import { objectSize, type PackIndexes } from './object-size.js';
import type { FetchedObject } from './pack-index.js';
import { byPath, type PolicyBlob, type SourceFile } from './snapshot.js';
import { SourceError } from './source-error.js';
import { subPathSegments } from './sub-path.js';
import type { TreeMemo } from './tree-memo.js';

interface CommitFilesInput {
  gitdir: string;
  /** 40-hex commit id, already known to be a commit. */
  commit: string;
  /** Normalised sub-path ('.' for the root). */
  subPath: string;
  include: (relPath: string) => boolean;
  maxFileBytes: number;
  /** isomorphic-git's object cache, shared by the calls of one read. */
  cache: object;
  /** For messages: the repository in display form and how the commit was named. */
  repo: string;
  label: string;
  /** Commits and trees an earlier read went through (a remote's cache folder): listed without opening a pack. */
  memo?: TreeMemo;
  /** Given the blob ids of the files to read, says they need not be read (SourceOptions.skipContent). */
  skipContent?: ((read: { subPath: string; blobs: readonly PolicyBlob[] }) => boolean | Promise<boolean>) | undefined;
  /** A file read already, by path and blob id (SourceOptions.knownFile). */
  knownFile?: ((blob: PolicyBlob) => SourceFile | undefined) | undefined;
  /** Objects this read fetched, by id (fetched-pack.ts): a blob's content is taken from here, not the store. */
  fetched?: ReadonlyMap<string, FetchedObject>;
}

/** What readCommitFiles returns: the files read, or none when `skipContent` accepted their blob ids. */
export interface CommitFiles {
  files: SourceFile[];
  warnings: string[];
  blobs: PolicyBlob[];
  unread?: true;
}

const SYMLINK = '120000';

/** Follows annotated tags down to the commit they name; refuses refs that name a tree or a blob. */
export async function peelToCommit(
  gitdir: string,
  oid: string,
  cache: object,
  repo: string,
  memo?: TreeMemo,
): Promise<string> {
  if (memo?.knowsCommit(oid)) return oid;
  let current = oid;
  for (let hops = 0; hops < 16; hops += 1) {
    const obj = await git.readObject({ fs, gitdir, oid: current, format: 'parsed', cache });
    if (obj.type === 'commit') return current;
    if (obj.type !== 'tag') {
      throw new SourceError('source-ref-not-found', `${oid} in ${repo} names a ${obj.type}, not a commit`, { repo });
    }
    current = (obj.object as TagObject).object;
  }
  throw new SourceError('source-ref-not-found', `tag ${oid} in ${repo} is nested too deeply`, { repo });
}

/** Whether the object store holds `oid` (without reading more than its header). */
export async function hasObject(gitdir: string, oid: string, cache: object, memo?: TreeMemo): Promise<boolean> {
  if (memo?.knowsCommit(oid)) return true;
  try {
    await git.readObject({ fs, gitdir, oid, format: 'deflated', cache });
    return true;
  } catch (err) {
    if (err instanceof Errors.NotFoundError) return false;
    throw err;
  }
}

function entryNames(entries: TreeEntry[]): string {
  const names = entries.map((e) => (e.type === 'tree' ? `${e.path}/` : e.path)).sort();
  const shown = names.slice(0, 12).join(', ');
  return names.length > 12 ? `${shown} (and ${names.length - 12} more)` : shown || 'nothing';
}

export async function readCommitFiles(input: CommitFilesInput): Promise<CommitFiles> {
  const { gitdir, cache } = input;
  const files: SourceFile[] = [];
  const warnings: string[] = [];
  // The trees name every file's blob id: they are listed first, and read only if `skipContent` wants them.
  const blobs: PolicyBlob[] = [];
  const finish = async (): Promise<CommitFiles> => {
    blobs.sort(byPath);
    if (await input.skipContent?.({ subPath: input.subPath, blobs })) return { files, warnings, blobs, unread: true };
    for (const b of blobs) {
      const known = input.knownFile?.(b);
      if (known) files.push(known);
      else await readFile(b.oid, b.path);
    }
    files.sort(byPath);
    return { files, warnings, blobs };
  };
  const memo = input.memo;
  const commitTree = async (): Promise<string> =>
    memo
      ? memo.commitTree(input.commit, cache)
      : (await git.readCommit({ fs, gitdir, oid: input.commit, cache })).commit.tree;
  const readTree = async (oid: string): Promise<TreeEntry[]> =>
    memo ? memo.readTree(oid, cache) : (await git.readTree({ fs, gitdir, oid, cache })).tree;

  const indexes: PackIndexes = new Map();
  const add = (path: string, blob: Uint8Array): void => {
    files.push(
      blob.byteLength > input.maxFileBytes
        ? { path, content: new Uint8Array(0), tooLarge: true, size: blob.byteLength }
        : { path, content: blob, size: blob.byteLength },
    );
  };
  async function readFile(oid: string, path: string): Promise<void> {
    const fetched = input.fetched?.get(oid);
    if (fetched?.type === 'blob') return add(path, fetched.content);
    // The size first, from the object's header: a blob over the limit is reported without being inflated.
    const size = await objectSize(gitdir, oid, indexes);
    if (size !== undefined && size > input.maxFileBytes) {
      files.push({ path, content: new Uint8Array(0), tooLarge: true, size });
      return;
    }
    add(path, (await git.readBlob({ fs, gitdir, oid, cache })).blob);
  }

  async function walk(treeOid: string, prefix: string): Promise<void> {
    const tree = await readTree(treeOid);
    for (const entry of tree) {
      const path = prefix === '' ? entry.path : `${prefix}/${entry.path}`;
      if (entry.type === 'tree') {
        await walk(entry.oid, path);
      } else if (entry.type === 'commit') {
        if (input.include(path)) warnings.push(`${path} is a submodule; its files are not read`);
      } else if (entry.mode === SYMLINK) {
        // A link's target could be anywhere (or nowhere) once checked out; reading its text as YAML would mislead.
        if (input.include(path)) warnings.push(`${path} is a symbolic link and was skipped`);
      } else if (input.include(path)) {
        blobs.push({ path, oid: entry.oid });
      }
    }
  }

  // Walk down to the sub-path one folder at a time, so a missing part can be named with what is there instead.
  let treeOid = await commitTree();
  const segments = subPathSegments(input.subPath);
  for (const [i, segment] of segments.entries()) {
    const tree = await readTree(treeOid);
    const entry = tree.find((e) => e.path === segment);
    const walked = segments.slice(0, i).join('/');
    const where = walked === '' ? 'the top level' : `${walked}/`;
    if (entry === undefined) {
      throw new SourceError(
        'source-path-not-found',
        `path "${input.subPath}" is not in commit ${input.commit.slice(0, 12)} (${input.label}) of ${input.repo}: ` +
          `${where} holds ${entryNames(tree)}`,
        { repo: input.repo },
      );
    }
    const last = i === segments.length - 1;
    if (entry.type === 'blob' && last && entry.mode !== SYMLINK) {
      // A single named file is returned whatever `include` says: the user asked for it by name.
      blobs.push({ path: input.subPath, oid: entry.oid });
      return finish();
    }
    if (entry.type !== 'tree') {
      throw new SourceError(
        'source-path-not-found',
        `path "${input.subPath}" in commit ${input.commit.slice(0, 12)} (${input.label}) of ${input.repo} is not a ` +
          `folder: ${segments.slice(0, i + 1).join('/')} is a ${entry.type === 'commit' ? 'submodule' : entry.mode === SYMLINK ? 'symbolic link' : 'file'}`,
        { repo: input.repo },
      );
    }
    treeOid = entry.oid;
  }
  await walk(treeOid, input.subPath === '.' ? '' : input.subPath);
  return finish();
}

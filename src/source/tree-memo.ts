// The commits and trees a read of the policy path went through, kept beside the cache's object store by object id,
// so that the next read of the same or a nearby commit lists its blob ids without opening a pack.
//
// Reading one tree out of a pack makes isomorphic-git load that whole pack: for the 1M-prefix deny list a 2.5 MB
// pack, ~40 ms of CPU before the first tree, on every reconcile that finds nothing changed (and after a README commit
// too: the policy folders' trees are still in the old pack). A Git object id names its content, so what a commit's
// tree id and a tree's entries were cannot change: the memo is as trustworthy as the object store it sits in (a
// cache folder notrack rebuilds when damaged, the memo with it). Blob contents are never kept here; a read that must
// parse the files still reads them from the store.
import fs from 'node:fs';
import { readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { TreeEntry } from 'isomorphic-git';
import { git } from './git-library.js';

const FILE = 'notrack-trees.json';
const VERSION = 1;
const OID = /^[0-9a-f]{40}$/;

/** One tree entry as stored: mode, name, id, type (a tree's entries in Git's order). */
type StoredEntry = [string, string, string, TreeEntry['type']];

interface MemoFile {
  version: typeof VERSION;
  /** Commit id -> its tree's id. */
  commits: Record<string, string>;
  trees: Record<string, StoredEntry[]>;
}

const TYPES = new Set(['blob', 'tree', 'commit']);

function validEntries(v: unknown): v is StoredEntry[] {
  return (
    Array.isArray(v) &&
    v.every(
      (e) =>
        Array.isArray(e) &&
        e.length === 4 &&
        typeof e[0] === 'string' &&
        typeof e[1] === 'string' &&
        OID.test(e[2]) &&
        TYPES.has(e[3]),
    )
  );
}

export class TreeMemo {
  private readonly commits = new Map<string, string>();
  private readonly trees = new Map<string, StoredEntry[]>();
  /** What this read used: the only entries saved, so the file holds the policy path of the last read, no more. */
  private readonly usedCommits = new Map<string, string>();
  private readonly usedTrees = new Map<string, StoredEntry[]>();

  private constructor(private readonly gitdir: string) {}

  /** The memo of a cache folder; empty when there is none or it cannot be read (a torn or edited file is ignored). */
  static async load(gitdir: string): Promise<TreeMemo> {
    const memo = new TreeMemo(gitdir);
    let parsed: Partial<MemoFile>;
    try {
      parsed = JSON.parse(await readFile(path.join(gitdir, FILE), 'utf8')) as Partial<MemoFile>;
    } catch {
      return memo;
    }
    if (parsed.version !== VERSION || typeof parsed.commits !== 'object' || typeof parsed.trees !== 'object')
      return memo;
    for (const [c, t] of Object.entries(parsed.commits ?? {}))
      if (OID.test(c) && typeof t === 'string' && OID.test(t)) memo.commits.set(c, t);
    for (const [t, entries] of Object.entries(parsed.trees ?? {}))
      if (OID.test(t) && validEntries(entries)) memo.trees.set(t, entries);
    return memo;
  }

  /** True when an earlier read found `oid` to be a commit in this store. */
  knowsCommit(oid: string): boolean {
    return this.commits.has(oid);
  }

  /** The id of a commit's tree. */
  async commitTree(oid: string, cache: object): Promise<string> {
    let tree = this.commits.get(oid);
    if (tree === undefined) tree = (await git.readCommit({ fs, gitdir: this.gitdir, oid, cache })).commit.tree;
    this.usedCommits.set(oid, tree);
    return tree;
  }

  /** A tree's entries, as isomorphic-git's readTree gives them. */
  async readTree(oid: string, cache: object): Promise<TreeEntry[]> {
    let stored = this.trees.get(oid);
    if (stored === undefined) {
      const { tree } = await git.readTree({ fs, gitdir: this.gitdir, oid, cache });
      stored = tree.map((e): StoredEntry => [e.mode, e.path, e.oid, e.type]);
    }
    this.usedTrees.set(oid, stored);
    return stored.map(([mode, p, o, type]) => ({ mode, path: p, oid: o, type }));
  }

  /** Keeps what this read used (written whole, then renamed: a crash leaves the old file or the new one). */
  async save(): Promise<void> {
    const body: MemoFile = {
      version: VERSION,
      commits: Object.fromEntries(this.usedCommits),
      trees: Object.fromEntries(this.usedTrees),
    };
    const file = path.join(this.gitdir, FILE);
    const tmp = `${file}.${process.pid}.tmp`;
    try {
      await writeFile(tmp, JSON.stringify(body));
      await rename(tmp, file);
    } catch {
      // Only a shortcut for the next read: a cache that cannot keep it reads the pack again.
      await fs.promises.rm(tmp, { force: true }).catch(() => {});
    }
  }
}

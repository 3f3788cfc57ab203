// The commits and trees a read of the policy path went through, kept beside the cache's object store by object id,
// so that the next read of the same or a nearby commit lists its blob ids without opening a pack.
//
// Reading one tree out of a pack makes isomorphic-git load that whole pack: for the 1M-prefix deny list a 2.5 MB
// pack, ~40 ms of CPU before the first tree, on every reconcile that finds nothing changed (and after a README commit
// too: the policy folders' trees are still in the old pack). A Git object id names its content, and every entry is
// checked against its id before it is used: a commit is kept as its whole object (a few hundred bytes), a tree as
// its entries, and each is hashed again as Git would (SHA-1 of the object) and must give the id it is kept under.
// So an edited memo can only make a read slower, never hand a commit another commit's tree or a tree without one of
// its files (signatures verified on the commit cover what is read). Blob contents are never kept here; a read that
// must parse the files still reads them from the store.
import fs from 'node:fs';
import { readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { gitObjectId } from './object-id.js';
import type { TreeEntry } from 'isomorphic-git';
import { git } from './git-library.js';

const FILE = 'notrack-trees.json';
/** 2: commits kept as their whole object (base64), so that they can be checked against their ids. */
const VERSION = 2;
const OID = /^[0-9a-f]{40}$/;

/** One tree entry as stored: mode, name, id, type (a tree's entries in Git's order). */
type StoredEntry = [string, string, string, TreeEntry['type']];

interface MemoFile {
  version: typeof VERSION;
  /** Commit id -> the commit object's content, base64. */
  commits: Record<string, string>;
  trees: Record<string, StoredEntry[]>;
}

const TYPES = new Set(['blob', 'tree', 'commit']);

/** A commit object's tree id, when the content is the commit `oid` names (else undefined). */
function checkedCommitTree(oid: string, content: Buffer): string | undefined {
  if (gitObjectId('commit', content) !== oid) return undefined;
  const tree = /^tree ([0-9a-f]{40})\n/.exec(content.subarray(0, 46).toString('latin1'));
  return tree?.[1];
}

/**
 * Whether these entries make the tree `oid` names, written as Git writes a tree (mode without leading zeros, name,
 * NUL, the 20-byte id; in the order given, which is the tree's). isomorphic-git gives a tree's mode as 040000.
 */
function treeMatches(oid: string, entries: readonly StoredEntry[]): boolean {
  const parts: Buffer[] = [];
  for (const [mode, name, id] of entries) {
    parts.push(Buffer.from(`${mode.replace(/^0+/, '')} ${name}\0`, 'utf8'), Buffer.from(id, 'hex'));
  }
  return gitObjectId('tree', Buffer.concat(parts)) === oid;
}

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
  /** Commit id -> its object's content and tree id (checked against the id when the memo was loaded). */
  private readonly commits = new Map<string, { content: Buffer; tree: string }>();
  /** Tree id -> its entries, not yet checked (a tree is checked when it is first used). */
  private readonly trees = new Map<string, StoredEntry[]>();
  /** What this read used: the only entries saved, so the file holds the policy path of the last read, no more. */
  private readonly usedCommits = new Map<string, { content: Buffer; tree: string }>();
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
    for (const [c, body] of Object.entries(parsed.commits ?? {})) {
      if (!OID.test(c) || typeof body !== 'string') continue;
      const content = Buffer.from(body, 'base64');
      const tree = checkedCommitTree(c, content);
      if (tree) memo.commits.set(c, { content, tree });
    }
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
    let known = this.commits.get(oid);
    if (known === undefined) {
      const read = await git.readObject({ fs, gitdir: this.gitdir, oid, format: 'content', cache });
      const content = Buffer.from(read.object as Uint8Array);
      const tree = read.type === 'commit' ? checkedCommitTree(oid, content) : undefined;
      // What the store holds under this id is not that commit: isomorphic-git says what is wrong with it.
      if (!tree) return (await git.readCommit({ fs, gitdir: this.gitdir, oid, cache })).commit.tree;
      known = { content, tree };
    }
    this.usedCommits.set(oid, known);
    return known.tree;
  }

  /** A tree's entries, as isomorphic-git's readTree gives them. */
  async readTree(oid: string, cache: object): Promise<TreeEntry[]> {
    let stored = this.trees.get(oid);
    if (stored !== undefined && !treeMatches(oid, stored)) stored = undefined;
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
      commits: Object.fromEntries([...this.usedCommits].map(([oid, c]) => [oid, c.content.toString('base64')])),
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

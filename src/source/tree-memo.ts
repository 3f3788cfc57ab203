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
//
// The commits and trees of the pack this read fetched (fetched-pack.ts, hashed as they were inflated) are read from
// there the same way: a new commit is listed without isomorphic-git loading the new pack and inflating it again.
import fs from 'node:fs';
import { readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { gitObjectId } from './object-id.js';
import type { FetchedObject } from './pack-index.js';
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

const MODES: Record<string, TreeEntry['type']> = {
  '040000': 'tree',
  '100644': 'blob',
  '100755': 'blob',
  '120000': 'blob',
  '160000': 'commit',
};

/**
 * A tree object's entries as isomorphic-git's readTree gives them (040000 for a tree, ordered by name), for trees
 * whose names are plain printable ASCII; undefined for anything else (another mode, a name isomorphic-git refuses or
 * orders by code point, a torn object), which is then left to isomorphic-git, to read or to refuse as it does.
 */
function parseTree(content: Buffer): StoredEntry[] | undefined {
  const entries: StoredEntry[] = [];
  for (let at = 0; at < content.length;) {
    const space = content.indexOf(32, at);
    const nul = content.indexOf(0, at);
    if (space < 0 || nul < space || nul + 21 > content.length) return undefined;
    const raw = content.toString('latin1', at, space);
    const mode = raw === '40000' ? '040000' : raw;
    const type = MODES[mode];
    if (type === undefined) return undefined;
    for (let i = space + 1; i < nul; i++) if (content[i]! < 0x20 || content[i]! > 0x7e) return undefined;
    const name = content.toString('latin1', space + 1, nul);
    const folded = name.toLowerCase().replace(/[. ]+$/, '');
    if (
      name === '' ||
      name === '.' ||
      name === '..' ||
      /[/\\:]/.test(name) ||
      folded === '.git' ||
      /^\.?git~[1-9]$/.test(folded)
    )
      return undefined;
    entries.push([mode, name, content.toString('hex', nul + 1, nul + 21), type]);
    at = nul + 21;
  }
  return entries.sort((a, b) => (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
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

  private constructor(
    private readonly gitdir: string,
    private readonly fetched: ReadonlyMap<string, FetchedObject>,
  ) {}

  /**
   * The memo of a cache folder; empty when there is none or it cannot be read (a torn or edited file is ignored).
   * `fetched`: the objects of the pack this read fetches (filled as the fetch ends), read before the store.
   */
  static async load(gitdir: string, fetched: ReadonlyMap<string, FetchedObject> = new Map()): Promise<TreeMemo> {
    const memo = new TreeMemo(gitdir, fetched);
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

  /** True when an earlier read found `oid` to be a commit in this store, or this read fetched it. */
  knowsCommit(oid: string): boolean {
    return this.commits.has(oid) || this.fetched.get(oid)?.type === 'commit';
  }

  /** A commit kept here or fetched by this read, checked against its id; undefined when neither has it. */
  private knownCommit(oid: string): { content: Buffer; tree: string } | undefined {
    const kept = this.commits.get(oid);
    if (kept !== undefined) return kept;
    const fetched = this.fetched.get(oid);
    const tree = fetched?.type === 'commit' ? checkedCommitTree(oid, fetched.content) : undefined;
    return tree === undefined ? undefined : { content: fetched!.content, tree };
  }

  /** The parents of a commit kept here or fetched by this read (undefined when neither has it). */
  commitParents(oid: string): string[] | undefined {
    const known = this.knownCommit(oid);
    if (known === undefined) return undefined;
    const text = known.content.toString('latin1');
    const end = text.indexOf('\n\n');
    const head = end < 0 ? text : text.slice(0, end);
    return [...head.matchAll(/^parent ([0-9a-f]{40})$/gm)].map((m) => m[1]!);
  }

  /** The id of a commit's tree. */
  async commitTree(oid: string, cache: object): Promise<string> {
    let known = this.knownCommit(oid);
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
      const fetched = this.fetched.get(oid);
      if (fetched?.type === 'tree') stored = parseTree(fetched.content);
    }
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

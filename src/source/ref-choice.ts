// Decides which commit a ref option names, from the refs a repository has: git's lookup order, clear failures.
import { SourceError } from './source-error.js';

/** The refs of a repository, remote (as advertised) or local. */
export interface RefTable {
  /** Full ref name (refs/heads/main, refs/tags/v1, ...) -> object id (a tag object for annotated tags). */
  refs: Map<string, string>;
  /** Annotated tag full ref -> the commit it points at, when known. */
  peeled: Map<string, string>;
  /**
   * HEAD: the branch it points at (`target`, which may not exist) and/or its object id. Null when the server
   * does not advertise HEAD at all, which is what git does when HEAD points at a missing branch.
   */
  head: { target?: string; oid?: string } | null;
}

export type RefChoice =
  | { kind: 'branch' | 'tag'; name: string; fullRef: string; oid: string }
  /** A full commit id (given, or the unique tip an abbreviation matched). */
  | { kind: 'commit'; oid: string }
  /** An abbreviation no ref tip matches: the commit has to be looked for in history. */
  | { kind: 'abbreviated'; prefix: string };

const HEX = /^[0-9a-f]{4,40}$/i;
const SHOWN = 8;

function listed(names: string[]): string {
  if (names.length === 0) return 'none';
  const head = names.slice(0, SHOWN).join(', ');
  return names.length > SHOWN ? `${head} (and ${names.length - SHOWN} more)` : head;
}

/** "branches: main, dev; tags: v1" for messages that should help pick a ref that exists. */
function describeRefs(table: RefTable): string {
  const names = [...table.refs.keys()].sort();
  const branches = names.filter((r) => r.startsWith('refs/heads/')).map((r) => r.slice('refs/heads/'.length));
  const tags = names.filter((r) => r.startsWith('refs/tags/')).map((r) => r.slice('refs/tags/'.length));
  return `branches: ${listed(branches)}; tags: ${listed(tags)}`;
}

function named(fullRef: string, oid: string): RefChoice {
  if (fullRef.startsWith('refs/tags/')) return { kind: 'tag', name: fullRef.slice('refs/tags/'.length), fullRef, oid };
  if (fullRef.startsWith('refs/heads/'))
    return { kind: 'branch', name: fullRef.slice('refs/heads/'.length), fullRef, oid };
  if (fullRef.startsWith('refs/remotes/')) {
    return { kind: 'branch', name: fullRef.slice('refs/remotes/'.length), fullRef, oid };
  }
  return { kind: 'branch', name: fullRef, fullRef, oid };
}

/**
 * The commit `requested` names in `table` (undefined or 'HEAD' = the default branch). Names are looked up in
 * git's order (exact, tags, branches, remote-tracking), so an ambiguous name resolves as git would, with a warning.
 */
export function chooseRef(
  requested: string | undefined,
  table: RefTable,
  repo: string,
): { choice: RefChoice; warnings: string[] } {
  const warnings: string[] = [];
  if (table.refs.size === 0 && table.head?.oid === undefined) {
    throw new SourceError('source-empty-repo', `${repo} has no commits yet: push a commit with the policies first`, {
      repo,
    });
  }
  if (requested === undefined || requested === 'HEAD') {
    const head = table.head;
    if (head?.target !== undefined) {
      const oid = table.refs.get(head.target);
      if (oid !== undefined) return { choice: named(head.target, oid), warnings };
    } else if (head?.oid !== undefined) {
      return { choice: { kind: 'commit', oid: head.oid }, warnings };
    }
    const points =
      head?.target !== undefined
        ? `points at ${head.target}, which does not exist`
        : 'names a branch that does not exist';
    throw new SourceError(
      'source-dangling-head',
      `the HEAD of ${repo} ${points}, so there is no default branch to read: choose a ref explicitly ` +
        `(${describeRefs(table)}) or fix HEAD in the repository (git symbolic-ref HEAD refs/heads/<branch>)`,
      { repo },
    );
  }

  const candidates = requested.startsWith('refs/')
    ? [requested]
    : [
        `refs/tags/${requested}`,
        `refs/heads/${requested}`,
        `refs/remotes/${requested}`,
        `refs/remotes/${requested}/HEAD`,
      ];
  const found = candidates.filter((r) => table.refs.has(r));
  const first = found[0];
  if (first !== undefined) {
    if (found.includes(`refs/tags/${requested}`) && found.includes(`refs/heads/${requested}`)) {
      warnings.push(
        `"${requested}" is both a tag and a branch in ${repo}; using the tag, as git does ` +
          `(write refs/heads/${requested} for the branch)`,
      );
    }
    return { choice: named(first, table.refs.get(first)!), warnings };
  }

  if (HEX.test(requested)) {
    const prefix = requested.toLowerCase();
    if (prefix.length === 40) return { choice: { kind: 'commit', oid: prefix }, warnings };
    const tips = new Set<string>();
    for (const [ref, oid] of table.refs) {
      const commit = table.peeled.get(ref) ?? oid;
      if (commit.startsWith(prefix)) tips.add(commit);
    }
    if (table.head?.oid?.startsWith(prefix)) tips.add(table.head.oid);
    if (tips.size > 1) {
      throw new SourceError(
        'source-ref-not-found',
        `the abbreviated commit id ${prefix} matches several commits in ${repo} (${[...tips].join(', ')}): give more digits`,
        { repo },
      );
    }
    const only = [...tips][0];
    return { choice: only !== undefined ? { kind: 'commit', oid: only } : { kind: 'abbreviated', prefix }, warnings };
  }

  throw new SourceError('source-ref-not-found', `ref "${requested}" not found in ${repo} (${describeRefs(table)})`, {
    repo,
  });
}

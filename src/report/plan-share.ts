// What a plan's base shares with its head: each file both revisions hold alike (the same Git blob at the same path)
// is the head's file object, parsed once for both (ParseCache), and the base's policies, sets and endpoints from those
// files are the head's objects, so a plan holds a million-prefix deny list once, not once per revision.
import type { PolicyFile } from '../model/documents.js';
import type { ResourceSet } from '../model/resources.js';

/** A revision's files, with the Git blob id of each when they were read from a repository. */
export interface RevisionFiles {
  files: readonly PolicyFile[];
  blobs?: readonly { path: string; oid: string }[] | undefined;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

/**
 * The base's files with each one the head holds alike replaced by the head's object: alike by blob id when both
 * revisions name them (no byte is compared), else byte for byte. The path must match too: a renamed file's
 * documents and diagnostics name the other path, so it is parsed again.
 */
export function baseFilesSharedWithHead(base: RevisionFiles, head: RevisionFiles): PolicyFile[] {
  const headFiles = new Map(head.files.map((f) => [f.path, f]));
  const oids = (r: RevisionFiles): Map<string, string> | null =>
    r.blobs ? new Map(r.blobs.map((b) => [b.path, b.oid])) : null;
  const baseOids = oids(base),
    headOids = oids(head);
  return base.files.map((f) => {
    const h = headFiles.get(f.path);
    if (!h || h.tooLarge || f.tooLarge) return f;
    const [bo, ho] = [baseOids?.get(f.path), headOids?.get(f.path)];
    const alike = bo !== undefined && ho !== undefined ? bo === ho : sameBytes(f.content, h.content);
    return alike ? h : f;
  });
}

/**
 * The head's file at a blob's path when it is that blob, for reading the base (SourceOptions.knownFile): the base's
 * unchanged files are not inflated again, and come back as the head's objects.
 */
export function knownHeadFile(head: RevisionFiles): (blob: { path: string; oid: string }) => PolicyFile | undefined {
  const files = new Map(head.files.map((f) => [f.path, f]));
  const oids = new Map((head.blobs ?? []).map((b) => [b.path, b.oid]));
  return (blob) => (oids.get(blob.path) === blob.oid ? files.get(blob.path) : undefined);
}

/**
 * `base` with each policy, network set and host endpoint replaced by the head's resource of the same kind and name
 * from the same document of a file both revisions share (the same object, see baseFilesSharedWithHead). Exact: each
 * of them is read from its document alone (checkPolicy, checkNetworkSet, checkHostEndpoint), so equal documents make
 * equal resources; the plan then neither compares them field by field nor holds a large set twice.
 */
export function shareUnchangedResources(
  base: ResourceSet,
  baseFiles: readonly PolicyFile[],
  head: ResourceSet,
  headFiles: readonly PolicyFile[],
): ResourceSet {
  const headByPath = new Map(headFiles.map((f) => [f.path, f]));
  const shared = new Set(baseFiles.filter((f) => headByPath.get(f.path) === f).map((f) => f.path));
  const share = <T extends { name: string; source: { file: string; document: number } }>(
    baseList: readonly T[],
    headList: readonly T[],
  ): T[] => {
    const byName = new Map(headList.map((x) => [x.name, x]));
    return baseList.map((x) => {
      const h = byName.get(x.name);
      const same = h && shared.has(x.source.file) && h.source.file === x.source.file;
      return same && h.source.document === x.source.document ? h : x;
    });
  };
  return {
    ...base,
    policies: share(base.policies, head.policies),
    networkSets: share(base.networkSets, head.networkSets),
    hostEndpoints: share(base.hostEndpoints, head.hostEndpoints),
  };
}

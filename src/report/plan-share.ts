// The base revision's GlobalNetworkSets that come from files the head holds byte for byte: the head's parsed objects
// stand in for them, so a plan holds a million-prefix deny list once, not once per revision.
import type { PolicyFile } from '../model/documents.js';
import type { ResourceSet } from '../model/resources.js';

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

/**
 * `base` with each network set replaced by the head's set of the same name from the same document of a file equal in
 * both revisions. Exact: a set is read from its document alone, so equal documents make equal sets.
 */
export function shareUnchangedSets(
  base: ResourceSet,
  baseFiles: readonly PolicyFile[],
  head: ResourceSet,
  headFiles: readonly PolicyFile[],
): ResourceSet {
  const headBytes = new Map(headFiles.map((f) => [f.path, f.content]));
  const unchanged = new Set(
    baseFiles.filter((f) => headBytes.has(f.path) && sameBytes(f.content, headBytes.get(f.path)!)).map((f) => f.path),
  );
  const headSets = new Map(head.networkSets.map((s) => [s.name, s]));
  return {
    ...base,
    networkSets: base.networkSets.map((s) => {
      const h = headSets.get(s.name);
      const same = h && unchanged.has(s.source.file) && h.source.file === s.source.file;
      return same && h.source.document === s.source.document ? h : s;
    }),
  };
}

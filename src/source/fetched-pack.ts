// Writes a pack the guard indexed (pack-index.ts) into the cache's object store, and keeps its objects for the read
// that follows: the files, trees and commits of a fetch are inflated once, as they arrive, never read back from the
// pack (isomorphic-git would load the whole pack and inflate them again in JavaScript).
import { rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { FetchedObject, IndexedPack } from './pack-index.js';

/** The objects of the last pack fetched in this read, by id (each hashed from its content as it was inflated). */
export type FetchedObjects = Map<string, FetchedObject>;

/**
 * The store hook for limitedHttp: writes pack-<sha>.pack, then its .idx (each whole, then renamed: a reader never
 * sees an index without its pack), and records its objects in `objects` in place of the last pack's. False when the
 * files cannot be written: isomorphic-git then writes and indexes the pack itself, and reports the failure its way.
 */
export function packStore(gitdir: string, objects: FetchedObjects): (pack: IndexedPack) => Promise<boolean> {
  return async (p) => {
    const base = path.join(gitdir, 'objects', 'pack', `pack-${p.sha}`);
    const tmp = `.${process.pid}.tmp`;
    try {
      await writeFile(`${base}.pack${tmp}`, p.pack);
      await writeFile(`${base}.idx${tmp}`, p.index);
      await rename(`${base}.pack${tmp}`, `${base}.pack`);
      await rename(`${base}.idx${tmp}`, `${base}.idx`);
    } catch {
      await Promise.all([rm(`${base}.pack${tmp}`, { force: true }), rm(`${base}.idx${tmp}`, { force: true })]).catch(
        () => {},
      );
      return false;
    }
    // Only the last pack's: a fetch that goes deeper to prove ancestry brings older history, whose blobs the read
    // hardly needs (the head's come in the first pack), and keeping every pack's would add up; what is not here is
    // read from the store.
    objects.clear();
    for (const [oid, o] of p.objects) objects.set(oid, o);
    return true;
  };
}

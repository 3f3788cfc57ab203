// The digests of the policy maps' contents, both sides in one place: what an apply records for what it wrote, and
// what a check reads back from the kernel now. Kept apart from the program loader so that a check loads no compiler.
import { createHash } from 'node:crypto';
import { MapType, openPinnedMap } from '../libbpf/index.js';

/** The digest of an array map's values in key order (what pinnedMapDigest reads back from the kernel). */
export function arrayDigest(values: Uint8Array): string {
  return createHash('sha256').update(values).digest('hex');
}

/**
 * The digest of a keyed map's contents (the IPv6 address hash): its keys sorted by their bytes, each followed by its
 * value, so that the kernel's iteration order does not matter (what drift reads back from the kernel).
 */
export function keyedDigest(entries: readonly { key: Uint8Array; value: Uint8Array }[]): string {
  const sorted = [...entries].sort((a, b) => Buffer.compare(a.key, b.key));
  const h = createHash('sha256');
  for (const e of sorted) h.update(e.key).update(e.value);
  return h.digest('hex');
}

/**
 * The digest of a pinned array map's values in key order (arrayDigest of what was written), or of a hash map's
 * entries (keyedDigest), or null when it is not pinned. Array values are read in batches into one small reused
 * buffer and hashed as they come: a check runs on every no-op apply and every few minutes on the agent's event
 * loop, and 15 MB of class tables must cost milliseconds there (SHA-256 runs at ~1.6 GB/s with the CPU's SHA
 * instructions: the read, not the hash, is the cost).
 */
export function pinnedMapDigest(path: string): string | null {
  let map;
  try {
    map = openPinnedMap(path);
  } catch {
    return null;
  }
  try {
    if (map.type === MapType.HASH) return keyedDigest(map.lookupBatch({ chunk: 4096 }).entries);
    const h = createHash('sha256');
    map.arrayValues((values) => h.update(values));
    return h.digest('hex');
  } finally {
    map.close();
  }
}

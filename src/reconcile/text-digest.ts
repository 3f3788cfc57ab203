// SHA-256 of large JSON texts (a state of 10,000 rules, an interface's entries) without their UTF-8 encoding pass.
import type { Hash } from 'node:crypto';

/**
 * Feeds `text` to `hash` as its UTF-8 bytes. A text of ASCII only (a state's JSON nearly always: set ids, numbers,
 * Kubernetes names) is the same bytes in latin1, which Node hashes about ten times faster than it encodes UTF-8
 * (4 MB: ~3 ms against ~30 ms); Buffer.byteLength says whether it is, in a native pass of ~1 ms.
 */
export function updateText(hash: Hash, text: string): Hash {
  return hash.update(text, Buffer.byteLength(text, 'utf8') === text.length ? 'latin1' : 'utf8');
}

// The id Git gives an object: the SHA-1 of its type, its size and its content.
import { createHash } from 'node:crypto';

export type GitObjectType = 'commit' | 'tree' | 'blob' | 'tag';

/** The SHA-1 (hex) of `<type> <size>\0<content>`, as Git names the object. */
export function gitObjectId(type: GitObjectType, content: Uint8Array): string {
  return createHash('sha1').update(`${type} ${content.length}\0`).update(content).digest('hex');
}

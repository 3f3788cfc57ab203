// isomorphic-git, loaded with require: imported from an ES module, its 580 kB CommonJS bundle is first scanned by
// Node's export lexer, 0.35 s of every notrack start (more than an apply that finds nothing changed may take).
import { createRequire } from 'node:module';
import type * as IsomorphicGit from 'isomorphic-git';

const library = createRequire(import.meta.url)('isomorphic-git') as typeof IsomorphicGit;

export const git = library.default;
export const Errors = library.Errors;

// The schema files' fingerprint: a verdict of the schema checks kept across processes (the parse cache's marks)
// holds only for the schemas that gave it, whether or not a release bumped COMPILER_TAG with them.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

/** Where the schema files live: <package>/schema, from both src/model (tsx) and dist/model (built). */
export const SCHEMA_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'schema');

let digest: string | undefined;

/** SHA-256 over the names and bytes of every schema file of schema/ (read once per process). */
export function schemasDigest(): string {
  if (digest !== undefined) return digest;
  const hash = createHash('sha256');
  for (const name of readdirSync(SCHEMA_DIR)
    .filter((n) => n.endsWith('.json'))
    .sort())
    hash
      .update(`${name}\n`)
      .update(readFileSync(path.join(SCHEMA_DIR, name)))
      .update('\n');
  return (digest = hash.digest('hex'));
}

// Reads the policy files the source options name, with progress on stderr when a person is watching.
import type { SourceOptions, SourceSnapshot } from '../source/index.js';

export interface SourceValues {
  repo?: string | undefined;
  ref?: string | undefined;
  path?: string | undefined;
  'token-env'?: string | undefined;
  'cache-dir'?: string | undefined;
}

export function sourceOptions(values: SourceValues, maxFileBytes?: number): SourceOptions {
  const opts: SourceOptions = { path: values.path ?? '.' };
  if (values.repo !== undefined) opts.repo = values.repo;
  if (values.ref !== undefined) opts.ref = values.ref;
  if (values['token-env'] !== undefined) opts.tokenEnv = values['token-env'];
  if (values['cache-dir'] !== undefined) opts.cacheDir = values['cache-dir'];
  if (maxFileBytes !== undefined) opts.maxFileBytes = maxFileBytes;
  if (process.stderr.isTTY) {
    let last = '';
    opts.onProgress = (e) => {
      const line = `${e.phase}${e.total ? ` ${e.loaded}/${e.total}` : e.loaded ? ` ${e.loaded}` : ''}`;
      if (line !== last) { process.stderr.write(`\r\x1b[K${line}`); last = line; }
    };
  }
  return opts;
}

export async function readPolicyFiles(
  values: SourceValues, maxFileBytes: number | undefined, fetch: (o: SourceOptions) => Promise<SourceSnapshot>,
): Promise<SourceSnapshot> {
  const snapshot = await fetch(sourceOptions(values, maxFileBytes));
  if (process.stderr.isTTY) process.stderr.write('\r\x1b[K');
  return snapshot;
}

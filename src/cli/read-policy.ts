// Reads the policy files the source options name, with progress on stderr when a person is watching.
import path from 'node:path';
import { isYamlFile, type SourceOptions, type SourceSnapshot } from '../source/index.js';
import { normalizeSubPath } from '../source/sub-path.js';

interface SourceValues {
  repo?: string | undefined;
  ref?: string | undefined;
  path?: string | undefined;
  'token-env'?: string | undefined;
  'cache-dir'?: string | undefined;
  'allow-insecure-http'?: boolean | undefined;
}

/** The folder of `notrack test` cases inside the policy path: test cases, not policy, so no command reads it as policy. */
const TESTS_FOLDER = 'tests';

/**
 * The tests folder of the policy path, as the source stage reports file paths: relative to the repository root, or
 * in directory mode to the current directory (to the folder itself when it lies outside). Null when the path is
 * one the source will refuse anyway.
 */
export function testsFolder(values: Pick<SourceValues, 'repo' | 'path'>): string | null {
  let base: string;
  if (values.repo !== undefined && values.repo !== '') {
    try {
      base = normalizeSubPath(values.path, values.repo);
    } catch {
      return null;
    }
  } else {
    const rel = path.relative(process.cwd(), path.resolve(values.path ?? '.'));
    const outside = rel.startsWith('..') || path.isAbsolute(rel);
    base = outside || rel === '' ? '.' : rel.split(path.sep).join('/');
  }
  return base === '.' ? TESTS_FOLDER : `${base}/${TESTS_FOLDER}`;
}

/** True when the repository-relative `file` lies inside `folder`. */
export function isInFolder(folder: string, file: string): boolean {
  return file.startsWith(`${folder}/`);
}

export function sourceOptions(values: SourceValues, maxFileBytes?: number): SourceOptions {
  const opts: SourceOptions = { path: values.path ?? '.' };
  const tests = testsFolder(values);
  if (tests !== null) opts.include = (file) => isYamlFile(file) && !isInFolder(tests, file);
  if (values.repo !== undefined) opts.repo = values.repo;
  if (values.ref !== undefined) opts.ref = values.ref;
  if (values['token-env'] !== undefined) opts.tokenEnv = values['token-env'];
  if (values['cache-dir'] !== undefined) opts.cacheDir = values['cache-dir'];
  if (maxFileBytes !== undefined) opts.maxFileBytes = maxFileBytes;
  if (values['allow-insecure-http']) opts.allowInsecureHttp = true;
  if (process.stderr.isTTY) {
    let last = '';
    opts.onProgress = (e) => {
      const line = `${e.phase}${e.total ? ` ${e.loaded}/${e.total}` : e.loaded ? ` ${e.loaded}` : ''}`;
      if (line !== last) {
        process.stderr.write(`\r\x1b[K${line}`);
        last = line;
      }
    };
  }
  return opts;
}

export async function readPolicyFiles(
  values: SourceValues,
  maxFileBytes: number | undefined,
  fetch: (o: SourceOptions) => Promise<SourceSnapshot>,
): Promise<SourceSnapshot> {
  const snapshot = await fetch(sourceOptions(values, maxFileBytes));
  if (process.stderr.isTTY) process.stderr.write('\r\x1b[K');
  return snapshot;
}

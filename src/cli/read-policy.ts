// Reads the policy files the source options name, with progress on stderr when a person is watching.
import path from 'node:path';
import { isYamlFile, type SourceOptions, type SourceSnapshot } from '../source/index.js';
import { normalizeSubPath } from '../source/sub-path.js';
import type { SignatureKeys } from '../source/commit-signatures.js';
import { existsSync } from 'node:fs';
import { isatty } from 'node:tty';
import { UsageError } from '../errors.js';
import { spawnRunner } from '../dataplane/command-runner.js';

interface SourceValues {
  repo?: string | undefined;
  ref?: string | undefined;
  path?: string | undefined;
  'token-env'?: string | undefined;
  'cache-dir'?: string | undefined;
  'allow-insecure-http'?: boolean | undefined;
  'max-object-bytes'?: string | undefined;
  'max-pack-bytes'?: string | undefined;
  'verify-signatures'?: boolean | undefined;
  'allowed-signers'?: string | undefined;
  'trusted-keys'?: string | undefined;
}

/** A whole, positive number of bytes from an option, or a usage error naming it. */
function byteCount(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^[1-9][0-9]*$/.test(value) || !Number.isSafeInteger(Number(value)))
    throw new UsageError(`--${name} takes a whole number of bytes (e.g. 33554432), not "${value}"`);
  return Number(value);
}

/** The keys --verify-signatures checks against; either key file alone is a mistake worth stopping for. */
function signatureKeys(values: SourceValues): SignatureKeys | undefined {
  const allowedSigners = values['allowed-signers'];
  const trustedKeys = values['trusted-keys'];
  if (!values['verify-signatures']) {
    if (allowedSigners !== undefined || trustedKeys !== undefined)
      throw new UsageError('--allowed-signers and --trusted-keys take effect only with --verify-signatures');
    return undefined;
  }
  if (allowedSigners === undefined && trustedKeys === undefined)
    throw new UsageError(
      '--verify-signatures needs the keys to trust: --allowed-signers FILE (SSH) and/or --trusted-keys FILE (OpenPGP)',
    );
  for (const [flag, file] of [
    ['allowed-signers', allowedSigners],
    ['trusted-keys', trustedKeys],
  ] as const) {
    if (file !== undefined && !existsSync(file)) throw new UsageError(`--${flag} ${file}: no such file`);
  }
  return {
    run: spawnRunner,
    ...(allowedSigners !== undefined ? { allowedSigners: path.resolve(allowedSigners) } : {}),
    ...(trustedKeys !== undefined ? { trustedKeys: path.resolve(trustedKeys) } : {}),
  };
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
  const maxObjectBytes = byteCount('max-object-bytes', values['max-object-bytes']);
  if (maxObjectBytes !== undefined) opts.maxObjectBytes = maxObjectBytes;
  const maxPackBytes = byteCount('max-pack-bytes', values['max-pack-bytes']);
  if (maxPackBytes !== undefined) opts.maxPackBytes = maxPackBytes;
  const signatures = signatureKeys(values);
  if (signatures !== undefined) opts.signatures = signatures;
  // isatty, not process.stderr.isTTY: building the stderr stream costs ~10 ms, and an apply that is Ready writes
  // nothing there.
  if (isatty(2)) {
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
  if (isatty(2)) process.stderr.write('\r\x1b[K');
  return snapshot;
}

// The source options with every default filled in, checked once so the readers can trust them.
import { defaultCacheDir } from './cache-folder.js';
import type { SignatureKeys } from './commit-signatures.js';
import {
  DEFAULT_DEADLINE_MS,
  DEFAULT_MAX_FILE_BYTES,
  DEFAULT_MAX_OBJECT_BYTES,
  DEFAULT_MAX_PACK_BYTES,
  DEFAULT_MIN_BYTES_PER_SECOND,
  DEFAULT_RATE_WINDOW_MS,
  DEFAULT_TIMEOUT_MS,
  DEFAULT_TOKEN_ENV,
  DEFAULT_USERNAME,
  isYamlFile,
  type SourceOptions,
  type SourceProgress,
} from './snapshot.js';

export interface SourceSettings {
  ref: string | undefined;
  /** The sub-path as given; each reader normalises it against its own root. */
  path: string;
  root: string | undefined;
  cacheDir: string;
  tokenEnv: string;
  username: string;
  timeoutMs: number;
  deadlineMs: number;
  minBytesPerSecond: number;
  rateWindowMs: number;
  include: (relPath: string) => boolean;
  maxFileBytes: number;
  maxObjectBytes: number;
  maxPackBytes: number;
  onProgress: ((e: SourceProgress) => void) | undefined;
  allowInsecureHttp: boolean;
  ancestor: string | undefined;
  signatures: SignatureKeys | undefined;
  skipContent: SourceOptions['skipContent'];
  knownFile: SourceOptions['knownFile'];
}

function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value <= 0) throw new RangeError(`${name} must be a positive number, got ${value}`);
  return value;
}

export function sourceSettings(opts: SourceOptions): SourceSettings {
  const ref = opts.ref === undefined || opts.ref.trim() === '' ? undefined : opts.ref.trim();
  return {
    ref,
    path: opts.path ?? '.',
    root: opts.root,
    cacheDir: opts.cacheDir ?? defaultCacheDir(),
    tokenEnv: opts.tokenEnv ?? DEFAULT_TOKEN_ENV,
    username: opts.username ?? DEFAULT_USERNAME,
    timeoutMs: positive('timeoutMs', opts.timeoutMs, DEFAULT_TIMEOUT_MS),
    deadlineMs: positive('deadlineMs', opts.deadlineMs, DEFAULT_DEADLINE_MS),
    minBytesPerSecond: positive('minBytesPerSecond', opts.minBytesPerSecond, DEFAULT_MIN_BYTES_PER_SECOND),
    rateWindowMs: positive('rateWindowMs', opts.rateWindowMs, DEFAULT_RATE_WINDOW_MS),
    include: opts.include ?? isYamlFile,
    maxFileBytes: positive('maxFileBytes', opts.maxFileBytes, DEFAULT_MAX_FILE_BYTES),
    maxObjectBytes: positive('maxObjectBytes', opts.maxObjectBytes, DEFAULT_MAX_OBJECT_BYTES),
    maxPackBytes: positive('maxPackBytes', opts.maxPackBytes, DEFAULT_MAX_PACK_BYTES),
    onProgress: opts.onProgress,
    allowInsecureHttp: opts.allowInsecureHttp ?? false,
    ancestor: opts.ancestor,
    signatures: opts.signatures,
    skipContent: opts.skipContent,
    knownFile: opts.knownFile,
  };
}

// The source stage's typed input and output: which files of which commit, and what was read.
import type { SignatureKeys } from './commit-signatures.js';

export interface SourceProgress {
  phase: string;
  loaded: number;
  total?: number;
}

export interface SourceOptions {
  /** An http(s) URL or a local repository path; undefined = plain directory mode rooted at `path`. */
  repo?: string;
  /** A branch, tag or (full or abbreviated) commit id; default: the remote's default branch / HEAD. */
  ref?: string;
  /** Sub-path inside the repository (or the directory in plain mode); default '.'. */
  path?: string;
  /**
   * Plain directory mode only: the folder that file paths are reported relative to (default: the current
   * directory). A directory outside it is reported relative to itself.
   */
  root?: string;
  /** Where remote repositories are cached; default `$XDG_CACHE_HOME/notrack/git` or `~/.cache/notrack/git`. */
  cacheDir?: string;
  /** The environment variable holding the token; default 'NOTRACK_GIT_TOKEN'. */
  tokenEnv?: string;
  /** The HTTP Basic user name sent with the token; default 'x-access-token'. */
  username?: string;
  /** How long a network request may stay silent before it is abandoned, in ms; default 30000. */
  timeoutMs?: number;
  /** How long one fetch (every request to the server together) may take, in ms; default 120000. */
  deadlineMs?: number;
  /** The slowest a server may send a response body, in bytes per second over `rateWindowMs`; default 1024. */
  minBytesPerSecond?: number;
  /** The window the minimum rate is measured over, in ms; default 10000. */
  rateWindowMs?: number;
  /** Which files to return, by path relative to the repository root; default: *.yaml / *.yml. */
  include?: (relPath: string) => boolean;
  /** Files larger than this are returned with `tooLarge: true` and no content; default 4 MiB. */
  maxFileBytes?: number;
  onProgress?: (e: SourceProgress) => void;
  /** The commit this host runs: the snapshot then says whether the new commit descends from it (`ancestry`). */
  ancestor?: string;
  /** A fetch refuses a pack with an object that inflates past this (source-too-large); default 32 MiB. */
  maxObjectBytes?: number;
  /** A fetch refuses a pack larger than this as sent (source-too-large); default 64 MiB. */
  maxPackBytes?: number;
  /** Verify every commit from `ancestor` (or the head alone without it) against these keys (--verify-signatures). */
  signatures?: SignatureKeys;
  /** Send a token over plain http:// (default: refused, source-insecure-http: anyone on the path reads it). */
  allowInsecureHttp?: boolean;
  /**
   * Repositories only: called with the normalised sub-path and the blob ids of the files the commit holds under it
   * (before hidden and ignored files are left out), as its trees name them; true means the caller knows this content already, and
   * the files are not read (the snapshot comes back `unread`, with no files). For a 20 MB deny list this skips
   * inflating every blob when nothing changed. It may answer through a promise (a host check runs programs).
   */
  skipContent?: (read: { subPath: string; blobs: readonly PolicyBlob[] }) => boolean | Promise<boolean>;
  /**
   * Repositories only: a file the caller has read already, by path and blob id (a plan's head when it reads the
   * base): returned as it is instead of being read again. The same blob id is the same bytes.
   */
  knownFile?: (blob: PolicyBlob) => SourceFile | undefined;
}

/** A file of a commit as its tree names it: the path and the Git blob id (the SHA-1 of its bytes). */
export interface PolicyBlob {
  path: string;
  oid: string;
}

export interface SourceFile {
  /** Relative to the repository root (or the directory mode root), forward slashes. */
  path: string;
  /** The bytes of the file; empty when `tooLarge`. */
  content: Uint8Array;
  tooLarge?: boolean;
  /** The size in bytes, also when `tooLarge`. */
  size: number;
}

export interface SourceSnapshot {
  /** Display form of the location: URL without credentials, or an absolute path. */
  repo: string;
  kind: 'remote' | 'local' | 'directory';
  /** The ref as resolved: a branch or tag name such as 'main'; null for a commit id and in directory mode. */
  ref: string | null;
  /** What `ref` named; null in directory mode. */
  refKind: 'branch' | 'tag' | 'commit' | null;
  /** The 40-hex commit id; null in directory mode. */
  commit: string | null;
  /** The sub-path read, normalised ('.' for the root). */
  subPath: string;
  /** Sorted by path; empty when `unread`. */
  files: SourceFile[];
  /** Repositories: every file the read took (hidden and ignored ones included) by blob id, sorted by path. */
  blobs?: PolicyBlob[];
  /** The `skipContent` option accepted the blob ids: no file was read, `files` is empty. */
  unread?: true;
  /** Whether `commit` descends from the `ancestor` option (absent when none was given, or in directory mode). */
  ancestry?: import('./ancestry.js').Ancestry;
  /** Things the reader recovered from or skipped (a rebuilt cache, a skipped symlink), for the operator to see. */
  warnings: string[];
}

export const DEFAULT_TOKEN_ENV = 'NOTRACK_GIT_TOKEN';
export const DEFAULT_USERNAME = 'x-access-token';
export const DEFAULT_TIMEOUT_MS = 30_000;
/** A stuck fetch must not hold a reconcile (and the drift checks queued behind it) for long. */
export const DEFAULT_DEADLINE_MS = 120_000;
export const DEFAULT_MIN_BYTES_PER_SECOND = 1024;
export const DEFAULT_RATE_WINDOW_MS = 10_000;
/** The one file-size limit of every command (validate included): large deny lists fit, a parse stays well inside
 *  the agent's memory limit. */
export const DEFAULT_MAX_FILE_BYTES = 4 * 1024 * 1024;
/**
 * The largest object a fetch may bring, inflated. isomorphic-git holds an object whole while it indexes a pack
 * (inflated, then copied to hash it; a delta also with its base), about four times its size at once: 32 MiB keeps
 * that near 128 MiB, within the DaemonSet's 384 MiB beside Node itself and the pack.
 */
export const DEFAULT_MAX_OBJECT_BYTES = 32 * 1024 * 1024;
/** The largest pack a fetch may bring, as sent: isomorphic-git reads the whole pack into memory (twice, briefly). */
export const DEFAULT_MAX_PACK_BYTES = 64 * 1024 * 1024;

/** Policy files are YAML; everything else in the repository (README, CI config) is not ours to read. */
export function isYamlFile(relPath: string): boolean {
  return /\.ya?ml$/i.test(relPath);
}

/** Orders files by path, by code unit, so the order is the same on every machine and locale. */
export function byPath(a: { path: string }, b: { path: string }): number {
  return a.path < b.path ? -1 : a.path > b.path ? 1 : 0;
}

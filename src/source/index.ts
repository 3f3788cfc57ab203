// The source stage's public API.
export { fetchSource } from './fetch-source.js';
export { SourceError, type SourceErrorCode } from './source-error.js';
export {
  DEFAULT_MAX_FILE_BYTES,
  DEFAULT_TIMEOUT_MS,
  DEFAULT_TOKEN_ENV,
  DEFAULT_USERNAME,
  isYamlFile,
  type PolicyBlob,
  type SourceFile,
  type SourceOptions,
  type SourceProgress,
  type SourceSnapshot,
} from './snapshot.js';
export { cacheFolderFor, defaultCacheDir, MAX_PACKS } from './cache-folder.js';
export { FALLBACK_DEPTH } from './remote-commit.js';
export { probeRemote, type RemoteProbe } from './probe-remote.js';

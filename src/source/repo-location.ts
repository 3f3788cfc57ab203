// Decides what kind of place the `repo` option names, and splits credentials out of URLs so they are never shown.
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SourceError } from './source-error.js';

export interface RemoteLocation {
  kind: 'remote';
  /** The URL with any user name and password removed: what is fetched, cached by and shown. */
  url: string;
  /** host:port, with the scheme's default port filled in, for messages about reaching the server. */
  hostPort: string;
  /** Credentials that were written into the URL, if any. */
  urlCredentials: { username: string; password: string } | null;
}

export interface LocalLocation {
  kind: 'local';
  /** Absolute path of the repository folder (working tree or bare repository). */
  path: string;
}

/** Classifies `repo`: an http(s) URL is remote, a file: URL or anything path-like is local. */
export function locateRepo(repo: string): RemoteLocation | LocalLocation {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(repo)?.[1]?.toLowerCase();
  if (scheme === undefined) {
    // user@host:path is Git's short form for SSH; a Windows drive letter does not apply on Linux.
    if (/^[^/\s]+@[^/\s:]+:/.test(repo)) {
      throw new SourceError(
        'source-bad-url',
        `"${withoutUserInfo(repo)}" is an SSH location; notrack reads Git over HTTP(S) only: use the https:// URL ` +
          'of the repository and put a token in the token environment variable',
        { repo: withoutUserInfo(repo) },
      );
    }
    return { kind: 'local', path: resolve(repo) };
  }
  if (scheme === 'file') return { kind: 'local', path: fileURLToPath(repo) };
  if (scheme !== 'http' && scheme !== 'https') {
    const shown = withoutUserInfo(repo);
    throw new SourceError(
      'source-bad-url',
      `"${shown}" uses ${scheme}://, which notrack cannot fetch; use an http(s):// URL or a local path`,
      { repo: shown },
    );
  }
  let parsed: URL;
  try {
    parsed = new URL(repo);
  } catch {
    const shown = withoutUserInfo(repo);
    throw new SourceError('source-bad-url', `"${shown}" is not a valid URL`, { repo: shown });
  }
  const urlCredentials =
    parsed.username !== '' || parsed.password !== ''
      ? { username: decodeURIComponent(parsed.username), password: decodeURIComponent(parsed.password) }
      : null;
  parsed.username = '';
  parsed.password = '';
  parsed.hash = '';
  const port = parsed.port !== '' ? parsed.port : scheme === 'https' ? '443' : '80';
  return {
    kind: 'remote',
    url: parsed.href.replace(/\/+$/, ''),
    hostPort: `${parsed.hostname}:${port}`,
    urlCredentials,
  };
}

/** Removes `user:password@` from anything URL-shaped, for messages about locations that did not parse. */
function withoutUserInfo(text: string): string {
  return text.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@\s]*@/i, '$1').replace(/^[^/\s@:]+:[^/\s@]*@/, '');
}

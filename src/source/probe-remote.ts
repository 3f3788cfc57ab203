// Probes the policy repository the way a fetch starts: list its refs (git ls-remote), with the same credentials and
// limits, and nothing downloaded. What commit confirmation asks after a switch: can this host still reach its Git?
import { git } from './git-library.js';
import { access } from 'node:fs/promises';
import { remoteAuth } from './credentials.js';
import { limitedHttp } from './http-client.js';
import { describeFailure } from './remote-commit.js';
import { remoteFailure } from './remote-failure.js';
import { locateRepo } from './repo-location.js';
import { sourceSettings } from './settings.js';
import type { SourceOptions } from './snapshot.js';
import { SourceError } from './source-error.js';

/** What a probe of the repository saw. */
export interface RemoteProbe {
  /** The URL or path probed (credentials removed). */
  repo: string;
  /** Refs the server advertised. */
  refs: number;
}

/**
 * Lists the refs of the repository of `opts.repo` within `timeoutMs` (each request, and the whole probe). Throws a
 * SourceError saying why it cannot be reached. Returns null when `opts.repo` names no repository (a plain folder).
 */
export async function probeRemote(opts: SourceOptions, timeoutMs: number): Promise<RemoteProbe | null> {
  if (opts.repo === undefined || opts.repo === '') return null;
  const settings = sourceSettings(opts);
  const loc = locateRepo(opts.repo);
  if (loc.kind === 'local') {
    // A repository on this host's disk: the firewall cannot cut it off; it is there or it is not.
    await access(loc.path).catch((e: unknown) => {
      throw new SourceError('source-unreachable', `the repository ${loc.path} cannot be read: ${String(e)}`, {
        repo: loc.path,
      });
    });
    return { repo: loc.path, refs: 0 };
  }
  const auth = remoteAuth({
    urlCredentials: loc.urlCredentials,
    tokenEnv: settings.tokenEnv,
    username: settings.username,
  });
  if (auth.provided && loc.url.startsWith('http://') && !settings.allowInsecureHttp)
    throw new SourceError(
      'source-insecure-http',
      `refusing to send ${auth.description} to ${loc.url} over plain http`,
      {
        repo: loc.url,
      },
    );
  const http = limitedHttp({
    idleMs: Math.min(timeoutMs, settings.timeoutMs),
    deadlineMs: timeoutMs,
    minBytesPerSecond: settings.minBytesPerSecond,
    rateWindowMs: settings.rateWindowMs,
    // A ref listing carries no pack; the fetch's bounds hold all the same.
    pack: { maxObjectBytes: settings.maxObjectBytes, maxPackBytes: settings.maxPackBytes },
  });
  const headers: Record<string, string> = auth.header === undefined ? {} : { Authorization: auth.header };
  try {
    const refs = await git.listServerRefs({ http, url: loc.url, headers, protocolVersion: 1 });
    return { repo: loc.url, refs: refs.length };
  } catch (err) {
    const ctx = { url: loc.url, hostPort: loc.hostPort, auth, tokenEnv: settings.tokenEnv };
    throw (
      remoteFailure(http.failure() ?? err, ctx) ??
      new SourceError(
        'source-remote-error',
        `listing the refs of ${loc.url} failed: ${describeFailure(err, auth.secrets)}`,
        {
          repo: loc.url,
        },
      )
    );
  }
}

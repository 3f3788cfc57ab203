// Turns what isomorphic-git and Node throw while talking to a server into SourceErrors a person can act on.
import { Errors } from './git-library.js';
import { SilentServerError, SlowServerError } from './http-client.js';
import { redact, type RemoteAuth } from './credentials.js';
import { SourceError } from './source-error.js';

export interface RemoteContext {
  /** The URL without credentials. */
  url: string;
  hostPort: string;
  auth: RemoteAuth;
  tokenEnv: string;
}

const NETWORK_CODES: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ETIMEDOUT: 'connection timed out',
  EPIPE: 'connection closed',
  ENOTFOUND: 'host name not found',
  EAI_AGAIN: 'host name lookup failed (temporary)',
  EAI_NONAME: 'host name not found',
};

function errorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** `err` itself or its cause when it is of the given class (isomorphic-git wraps what the client throws). */
function raisedAs<T extends Error>(err: unknown, cls: new (...args: never[]) => T): T | undefined {
  if (err instanceof cls) return err;
  const cause = (err as { cause?: unknown } | null)?.cause;
  return cause instanceof cls ? cause : undefined;
}

/** The SourceError for a network, HTTP or protocol failure; undefined for anything else (e.g. a damaged cache). */
export function remoteFailure(err: unknown, ctx: RemoteContext): SourceError | undefined {
  const repo = ctx.url;
  const silent = raisedAs(err, SilentServerError);
  if (silent !== undefined) {
    return new SourceError(
      'source-unreachable',
      `cannot reach ${ctx.hostPort} for ${repo}: no answer within ${silent.timeoutMs} ms`,
      { repo },
    );
  }
  const slow = raisedAs(err, SlowServerError);
  if (slow !== undefined) {
    return new SourceError('source-too-slow', `fetching ${repo} from ${ctx.hostPort} gave up: ${slow.message}`, {
      repo,
    });
  }
  const code = errorCode(err);
  if (code !== undefined && code in NETWORK_CODES) {
    return new SourceError(
      'source-unreachable',
      `cannot reach ${ctx.hostPort} for ${repo}: ${NETWORK_CODES[code]} (${code})`,
      { repo },
    );
  }
  if (code !== undefined && /CERT|SSL|TLS|SELF_SIGNED/.test(code)) {
    return new SourceError(
      'source-unreachable',
      `cannot reach ${ctx.hostPort} for ${repo}: TLS failure (${code}); check the server certificate or the ` +
        'system CA store (NODE_EXTRA_CA_CERTS)',
      { repo },
    );
  }
  if (err instanceof Errors.HttpError) {
    const data = err.data ?? {};
    return httpFailure(data.statusCode ?? 0, data.statusMessage ?? '', data.response ?? '', ctx);
  }
  if (err instanceof Errors.SmartHttpError) {
    return new SourceError(
      'source-not-a-repo',
      `${repo} did not answer as a Git smart-HTTP server: check the URL (plain "dumb" HTTP Git hosting is not ` +
        'supported)',
      { repo },
    );
  }
  if (
    err instanceof Errors.EmptyServerResponseError ||
    err instanceof Errors.ParseError ||
    err instanceof Errors.RemoteCapabilityError
  ) {
    const message = redact(String((err as Error).message), ctx.auth.secrets);
    return new SourceError(
      'source-remote-error',
      `the Git server at ${repo} sent an answer notrack cannot use: ${message}`,
      { repo },
    );
  }
  return undefined;
}

function httpFailure(status: number, statusText: string, body: string, ctx: RemoteContext): SourceError {
  const repo = ctx.url;
  const setToken = `set $${ctx.tokenEnv} (or name another variable with the token-env option)`;
  const answered = `HTTP ${status}${statusText ? ` ${statusText}` : ''}`;
  if (status === 401) {
    return new SourceError(
      'source-auth',
      ctx.auth.provided
        ? `${repo} rejected ${ctx.auth.description} (${answered}): check that the token is right and has not expired`
        : `${repo} requires authentication (${answered}) and ${ctx.auth.description}: ${setToken}`,
      { repo },
    );
  }
  if (status === 403) {
    return new SourceError(
      'source-auth',
      ctx.auth.provided
        ? `${repo} refused access with ${ctx.auth.description} (${answered}): the token lacks permission to read this ` +
            'repository, or the server is limiting requests'
        : `${repo} refused access (${answered}) and ${ctx.auth.description}: ${setToken}`,
      { repo },
    );
  }
  if (status === 404) {
    return new SourceError(
      'source-not-a-repo',
      `no Git repository at ${repo} (${answered})` +
        (ctx.auth.provided ? '' : `; if it is private, ${setToken}, since some servers answer 404 without credentials`),
      { repo },
    );
  }
  const detail = redact(body.trim().slice(0, 200), ctx.auth.secrets);
  return new SourceError(
    'source-remote-error',
    `the Git server at ${repo} answered ${answered}${detail ? `: ${detail}` : ''}`,
    { repo },
  );
}

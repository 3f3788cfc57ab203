// isomorphic-git's Node HTTP client with bounds: an idle timeout, a minimum rate, a deadline per fetch, a pack guard.
import nodeHttp from 'isomorphic-git/http/node';
import type { GitHttpRequest, GitHttpResponse, HttpClient } from 'isomorphic-git';
import { OversizedPackError, PackGuard, type PackLimits } from './pack-guard.js';
import type { IndexedPack } from './pack-index.js';

/** Raised (through isomorphic-git) when the server stays silent longer than the timeout. */
export class SilentServerError extends Error {
  readonly timeoutMs: number;
  constructor(timeoutMs: number) {
    super(`no answer within ${timeoutMs} ms`);
    this.name = 'SilentServerError';
    this.timeoutMs = timeoutMs;
  }
}

/** Raised (through isomorphic-git) when a server talks, but too slowly (a trickle), or the fetch outlives its deadline. */
export class SlowServerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SlowServerError';
  }
}

/**
 * A request reset before any answer came. Node's agent keeps sockets alive between requests, and a server (or a
 * proxy) closes an idle one when it likes: a request written as that happens is reset without ever reaching the
 * server. Git's HTTP requests only read, so such a request is sent once more.
 */
function resetBeforeAnswer(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ECONNRESET' || code === 'EPIPE';
}

/** The body as an array of its parts (a few pkt-lines), so that the request can be sent twice. */
async function replayable(body: GitHttpRequest['body']): Promise<GitHttpRequest['body']> {
  if (body === undefined || Array.isArray(body)) return body;
  const parts: Uint8Array[] = [];
  for await (const part of body) parts.push(part);
  // isomorphic-git's Node client sends an array of parts as one buffer, with its Content-Length.
  return parts as unknown as GitHttpRequest['body'];
}

/** A ref listing request (GET info/refs for upload-pack), as a key that tells two identical ones apart. */
function listingKey(req: GitHttpRequest): string | undefined {
  if ((req.method ?? 'GET') !== 'GET' || !req.url.endsWith('/info/refs?service=git-upload-pack')) return undefined;
  return JSON.stringify([req.url, Object.entries(req.headers ?? {}).sort(([a], [b]) => (a < b ? -1 : 1))]);
}

async function* replay(parts: readonly Uint8Array[]): AsyncGenerator<Uint8Array> {
  yield* parts;
}

export interface HttpLimits {
  /** How long a request may stay silent, in ms. */
  idleMs: number;
  /** How long all requests of one fetch may take together, in ms. */
  deadlineMs: number;
  /** Fewer bytes than this per second over a whole window aborts the body. */
  minBytesPerSecond: number;
  /** The window the rate is measured over, in ms (a body that ends sooner is never judged). */
  rateWindowMs: number;
  /** Bounds on the pack a fetch receives, checked as it arrives (pack-guard.ts). */
  pack: PackLimits;
}

export interface HttpHooks {
  /**
   * Takes a fetched pack that the guard indexed in its pass (pack-index.ts) and writes it into the object store;
   * true when it did, and isomorphic-git then reads an empty pack instead of indexing this one again.
   */
  storePack?: (pack: IndexedPack) => Promise<boolean>;
}

/**
 * isomorphic-git has no timeout of its own, and a body stream that fails while nobody is reading it can leave
 * its reader waiting forever; so every read here races the abort as well. An idle timeout alone lets a server
 * that sends one byte now and then hold a reconcile (and everything queued behind it) for ever, so a body must
 * also keep a minimum rate, and one client (one fetch) has a deadline for all its requests.
 */
export function limitedHttp(
  limits: HttpLimits,
  hooks: HttpHooks = {},
): HttpClient & { failure(): Error | undefined; forgetOversized(): boolean } {
  const deadlineAt = Date.now() + limits.deadlineMs;
  // isomorphic-git's packet reader turns a failed body into an early end ("empty response"), so the reason a
  // request was cut off is kept here for the caller to report.
  let failure: Error | undefined;
  // The last ref listing's answer, kept to answer the same request once more: isomorphic-git's fetch lists the refs
  // again right after the read listed them, a round trip (and a git upload-pack run on the server) for the same
  // table. The fetch then wants the commit the read chose; a server that moved the ref since still sends it if the
  // new tip reaches it (stateless upload-pack checks wants by reachability), and a rewound one is fetched next time.
  let listing: { key: string; res: GitHttpResponse; parts: Uint8Array[] } | undefined;
  return {
    failure: () => failure,
    /** Clears a refused pack (the caller asks again for less); false when the failure was another one. */
    forgetOversized(): boolean {
      if (!(failure instanceof OversizedPackError)) return false;
      failure = undefined;
      return true;
    },
    async request(req: GitHttpRequest): Promise<GitHttpResponse> {
      const key = listingKey(req);
      if (key !== undefined && listing?.key === key) {
        const { res, parts } = listing;
        listing = undefined;
        return { ...res, body: replay(parts) };
      }
      const controller = new AbortController();
      let timer: NodeJS.Timeout | undefined;
      let rejectAbort: (e: Error) => void = () => {};
      const aborted = new Promise<never>((_, reject) => {
        rejectAbort = reject;
      });
      aborted.catch(() => {});
      const abort = (err: Error) => {
        failure ??= err;
        rejectAbort(err);
        controller.abort(err);
      };
      const remaining = deadlineAt - Date.now();
      if (remaining <= 0)
        throw (failure ??= new SlowServerError(`the fetch passed its ${limits.deadlineMs} ms deadline`));
      const deadline = setTimeout(
        () => abort(new SlowServerError(`the fetch passed its ${limits.deadlineMs} ms deadline`)),
        remaining,
      );
      deadline.unref();
      const stop = () => {
        clearTimeout(timer);
        clearTimeout(deadline);
      };
      const arm = () => {
        clearTimeout(timer);
        timer = setTimeout(() => abort(new SilentServerError(limits.idleMs)), limits.idleMs);
        // An unread error body must not keep the process alive until the timer fires.
        timer.unref();
      };
      arm();
      let res: GitHttpResponse;
      try {
        const body = await replayable(req.body);
        const send = () => nodeHttp.request({ ...req, body, signal: controller.signal });
        const sent = send().catch((err: unknown) => {
          if (controller.signal.aborted || !resetBeforeAnswer(err)) throw err;
          arm();
          return send();
        });
        res = await Promise.race([sent, aborted]);
      } catch (err) {
        stop();
        throw controller.signal.aborted ? controller.signal.reason : err;
      }
      const source = res.body;
      if (source === undefined) {
        stop();
        return res;
      }
      arm();
      // The answer to a fetch carries the pack: refuse it while it arrives, before isomorphic-git inflates it.
      const guard =
        req.method === 'POST' && req.url.endsWith('/git-upload-pack')
          ? new PackGuard(limits.pack, { index: hooks.storePack !== undefined })
          : null;
      const minBytes = (limits.minBytesPerSecond * limits.rateWindowMs) / 1000;
      let windowBytes = 0;
      const rate = setInterval(() => {
        // While the server computes the pack it sends only progress and keep-alives: that wait is bounded by the
        // idle timeout and the fetch's deadline, and the rate is judged from the pack's first bytes on.
        if (guard && !guard.packStarted) {
          windowBytes = 0;
          return;
        }
        if (windowBytes < minBytes)
          abort(
            new SlowServerError(
              `the server sent ${windowBytes} bytes in ${limits.rateWindowMs} ms, below the minimum of ` +
                `${limits.minBytesPerSecond} bytes/s`,
            ),
          );
        windowBytes = 0;
      }, limits.rateWindowMs);
      rate.unref();
      // A ref listing's parts, kept once it has all come (and only then) for the next identical request.
      const kept: Uint8Array[] | undefined = key !== undefined && res.statusCode === 200 ? [] : undefined;
      const answer = res;
      async function* guarded(): AsyncGenerator<Uint8Array> {
        const it = source![Symbol.asyncIterator]();
        try {
          while (true) {
            const step = await Promise.race([it.next(), aborted]);
            if (step.done) {
              if (kept !== undefined) listing = { key: key!, res: { ...answer, body: undefined }, parts: kept };
              if (guard === null) return;
              // The body is all here: no more waiting on the server while the pack is indexed and written.
              stop();
              clearInterval(rate);
              let rest: Uint8Array[];
              try {
                rest = await guard.finish(hooks.storePack);
              } catch (err) {
                // A last object found oversized only now is a refused pack, as one found while it arrived.
                abort(err as Error);
                throw err;
              }
              for (const part of rest) yield part;
              return;
            }
            arm();
            if (step.value) {
              windowBytes += step.value.byteLength;
              let parts: Uint8Array[];
              try {
                parts = guard === null ? [step.value] : guard.push(step.value);
              } catch (err) {
                abort(err as Error);
                throw err;
              }
              kept?.push(step.value);
              for (const part of parts) yield part;
            }
          }
        } finally {
          stop();
          clearInterval(rate);
          await it.return?.();
        }
      }
      return { ...res, body: guarded() };
    },
  };
}

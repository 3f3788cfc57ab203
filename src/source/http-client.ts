// isomorphic-git's Node HTTP client with an idle timeout: a request that stays silent too long is abandoned.
import nodeHttp from 'isomorphic-git/http/node';
import type { GitHttpRequest, GitHttpResponse, HttpClient } from 'isomorphic-git';

/** Raised (through isomorphic-git) when the server stays silent longer than the timeout. */
export class SilentServerError extends Error {
  readonly timeoutMs: number;
  constructor(timeoutMs: number) {
    super(`no answer within ${timeoutMs} ms`);
    this.name = 'SilentServerError';
    this.timeoutMs = timeoutMs;
  }
}

/**
 * isomorphic-git has no timeout of its own, and a body stream that fails while nobody is reading it can leave
 * its reader waiting forever; so every read here races the abort as well.
 */
export function silenceLimitedHttp(timeoutMs: number): HttpClient {
  return {
    async request(req: GitHttpRequest): Promise<GitHttpResponse> {
      const controller = new AbortController();
      let timer: NodeJS.Timeout | undefined;
      let rejectAbort: (e: Error) => void = () => {};
      const aborted = new Promise<never>((_, reject) => {
        rejectAbort = reject;
      });
      aborted.catch(() => {});
      const arm = () => {
        clearTimeout(timer);
        timer = setTimeout(() => {
          const err = new SilentServerError(timeoutMs);
          rejectAbort(err);
          controller.abort(err);
        }, timeoutMs);
        // An unread error body must not keep the process alive until the timer fires.
        timer.unref();
      };
      arm();
      let res: GitHttpResponse;
      try {
        res = await Promise.race([nodeHttp.request({ ...req, signal: controller.signal }), aborted]);
      } catch (err) {
        clearTimeout(timer);
        throw controller.signal.aborted ? controller.signal.reason : err;
      }
      const source = res.body;
      if (source === undefined) {
        clearTimeout(timer);
        return res;
      }
      arm();
      async function* guarded(): AsyncGenerator<Uint8Array> {
        const it = source![Symbol.asyncIterator]();
        try {
          while (true) {
            const step = await Promise.race([it.next(), aborted]);
            if (step.done) return;
            arm();
            if (step.value) yield step.value;
          }
        } finally {
          clearTimeout(timer);
          await it.return?.();
        }
      }
      return { ...res, body: guarded() };
    },
  };
}

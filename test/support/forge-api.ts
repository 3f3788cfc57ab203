// A local HTTP server speaking the part of GitHub's REST API (issue comments) and GitLab's (merge request notes) that
// `notrack comment` uses, with pagination as the real ones do, recording every request exactly as it arrived.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  /** Path and query, as sent. */
  url: string;
  authorization: string | null;
  privateToken: string | null;
  body: unknown;
}

export interface StoredComment {
  id: number;
  body: string;
  /** GitLab's system notes ("added 1 commit") are not comments anyone wrote. */
  system?: boolean;
}

export interface ForgeApi {
  readonly url: string;
  readonly requests: RecordedRequest[];
  /** The comments of the one pull / merge request the server holds, in creation order. */
  readonly comments: StoredComment[];
  close(): Promise<void>;
}

const PAGE = 100;

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text ? (JSON.parse(text) as unknown) : null;
}

/**
 * Serves GitHub's `/repos/{owner}/{repo}/issues/{n}/comments` (GET with Link pagination, POST) and
 * `/repos/{owner}/{repo}/issues/comments/{id}` (PATCH, DELETE), and GitLab's
 * `/projects/{id}/merge_requests/{iid}/notes[/{id}]` (GET with X-Next-Page, POST, PUT, DELETE), for one repository and
 * pull request. A wrong token gets 401, an unknown path 404.
 */
export async function startForgeApi(opts: {
  token: string;
  repository: string;
  pullRequest: number;
  gitlabProject?: string;
  comments?: StoredComment[];
}): Promise<ForgeApi> {
  const requests: RecordedRequest[] = [];
  const comments: StoredComment[] = [...(opts.comments ?? [])];
  let nextId = 1000;
  const htmlUrl = (id: number) =>
    `https://github.example/${opts.repository}/pull/${opts.pullRequest}#issuecomment-${id}`;
  const gh = (c: StoredComment) => ({ id: c.id, body: c.body, html_url: htmlUrl(c.id), user: { login: 'ci' } });

  const server: Server = createServer((req, res) => {
    void (async () => {
      const body = await readBody(req);
      requests.push({
        method: req.method ?? '',
        url: req.url ?? '',
        authorization: req.headers.authorization ?? null,
        privateToken: (req.headers['private-token'] as string | undefined) ?? null,
        body,
      });
      const url = new URL(req.url ?? '/', 'http://x');
      const send = (status: number, data: unknown, headers: Record<string, string> = {}) => {
        res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
        res.end(data === undefined ? '' : JSON.stringify(data));
      };
      const ghAuth =
        req.headers.authorization === `token ${opts.token}` || req.headers.authorization === `Bearer ${opts.token}`;
      const glAuth = req.headers['private-token'] === opts.token;
      const list = `/repos/${opts.repository}/issues/${opts.pullRequest}/comments`;
      const one = new RegExp(`^/repos/${opts.repository}/issues/comments/(\\d+)$`).exec(url.pathname);
      const notes = `/projects/${encodeURIComponent(opts.gitlabProject ?? '')}/merge_requests/${opts.pullRequest}/notes`;
      const note = url.pathname.startsWith(`${notes}/`) ? Number(url.pathname.slice(notes.length + 1)) : null;
      const page = Number(url.searchParams.get('page') ?? '1');
      const perPage = Math.min(PAGE, Number(url.searchParams.get('per_page') ?? '30'));

      if (url.pathname === list || one) {
        if (!ghAuth) return send(401, { message: 'Bad credentials' });
        if (url.pathname === list && req.method === 'GET') {
          const slice = comments.slice((page - 1) * perPage, page * perPage).map(gh);
          const last = Math.max(1, Math.ceil(comments.length / perPage));
          const link: Record<string, string> =
            page < last
              ? { link: `<http://${req.headers.host}${list}?per_page=${perPage}&page=${page + 1}>; rel="next"` }
              : {};
          return send(200, slice, link);
        }
        if (url.pathname === list && req.method === 'POST') {
          const c = { id: nextId++, body: (body as { body: string }).body };
          comments.push(c);
          return send(201, gh(c));
        }
        const c = one ? comments.find((x) => x.id === Number(one[1])) : undefined;
        if (!c) return send(404, { message: 'Not Found' });
        if (req.method === 'PATCH') {
          c.body = (body as { body: string }).body;
          return send(200, gh(c));
        }
        if (req.method === 'DELETE') {
          comments.splice(comments.indexOf(c), 1);
          res.writeHead(204);
          return res.end();
        }
        return send(405, { message: 'Method Not Allowed' });
      }
      if (opts.gitlabProject && (url.pathname === notes || note !== null)) {
        if (!glAuth) return send(401, { message: '401 Unauthorized' });
        if (url.pathname === notes && req.method === 'GET') {
          const slice = comments.slice((page - 1) * perPage, page * perPage);
          const more = page * perPage < comments.length;
          return send(200, slice, { 'x-next-page': more ? String(page + 1) : '' });
        }
        if (url.pathname === notes && req.method === 'POST') {
          const c = { id: nextId++, body: (body as { body: string }).body };
          comments.push(c);
          return send(201, c);
        }
        const c = comments.find((x) => x.id === note);
        if (!c) return send(404, { message: '404 Not found' });
        if (req.method === 'PUT') {
          c.body = (body as { body: string }).body;
          return send(200, c);
        }
        if (req.method === 'DELETE') {
          comments.splice(comments.indexOf(c), 1);
          res.writeHead(204);
          return res.end();
        }
      }
      return send(404, { message: 'Not Found' });
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    comments,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

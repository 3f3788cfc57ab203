// Git's smart HTTP protocol served by node:http in front of `git http-backend` (CGI), for the demo lab and tests.
import { spawn } from 'node:child_process';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

const HTTP_BACKEND = '/usr/lib/git-core/git-http-backend';

/** One HTTP request the server answered; `status` and `body` are filled in as the answer goes out. */
export interface GitHttpRequest {
  method: string;
  path: string;
  query: string;
  status: number;
  /** The request body of POSTs (upload-pack negotiation), so a caller can read `want`/`have` lines. */
  body?: Buffer;
}

export interface GitHttpOptions {
  /** The folder holding the bare repositories; `/<name>.git/...` URLs map into it. */
  projectRoot: string;
  /** HOME for the backend, so no user or system configuration leaks into what it serves. */
  home: string;
  /** When set, every request must carry HTTP Basic auth whose password is this token. */
  token?: string;
  /** When set together with `token`, the Basic-auth user name must also match. */
  username?: string;
  /** Called with each request's record as it arrives. */
  onRequest?: (record: GitHttpRequest) => void;
  /** Called with each request's record once its answer is complete (or the client hung up). */
  onAnswered?: (record: GitHttpRequest) => void;
}

export interface ListenOptions {
  /** The address to listen on, e.g. '127.0.0.1' or the lab's Git address. */
  host: string;
  /** 0 picks a free port. */
  port: number;
}

export interface GitHttpServer {
  readonly server: Server;
  readonly port: number;
  /** Stops listening and drops open connections. */
  close(): Promise<void>;
}

/** Splits a CGI response head into its status and headers. */
function parseCgiHead(head: string): { status: number; headers: Array<[string, string]> } {
  let status = 200;
  const headers: Array<[string, string]> = [];
  for (const line of head.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim();
    const value = line.slice(colon + 1).trim();
    if (name.toLowerCase() === 'status') status = parseInt(value, 10) || 500;
    else headers.push([name, value]);
  }
  return { status, headers };
}

/** The end of the CGI head (the blank line), and where the body starts. */
function findHeadEnd(buf: Buffer): { end: number; bodyStart: number } | null {
  const crlf = buf.indexOf('\r\n\r\n');
  const lf = buf.indexOf('\n\n');
  if (crlf >= 0 && (lf < 0 || crlf < lf)) return { end: crlf, bodyStart: crlf + 4 };
  if (lf >= 0) return { end: lf, bodyStart: lf + 2 };
  return null;
}

function basicAuth(req: IncomingMessage): { username: string; password: string } | null {
  const header = req.headers.authorization;
  if (!header?.startsWith('Basic ')) return null;
  const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return null;
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** The request handler: each request runs one `git http-backend` whose CGI answer is streamed back. */
function gitHttpHandler(opts: GitHttpOptions): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const record: GitHttpRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: url.search.slice(1),
      status: 0,
    };
    opts.onRequest?.(record);
    if (opts.onAnswered) res.on('close', () => opts.onAnswered!(record));
    const reply = (status: number, text: string, headers: Record<string, string> = {}) => {
      record.status = status;
      res.writeHead(status, { 'content-type': 'text/plain', ...headers });
      res.end(text);
    };

    let remoteUser = '';
    if (opts.token !== undefined) {
      const creds = basicAuth(req);
      const ok =
        creds !== null &&
        creds.password === opts.token &&
        (opts.username === undefined || creds.username === opts.username);
      if (!ok) {
        req.resume();
        reply(401, 'authentication required\n', { 'www-authenticate': 'Basic realm="notrack"' });
        return;
      }
      remoteUser = creds.username;
    }

    const bodyChunks: Buffer[] = [];
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: opts.home,
      GIT_CONFIG_NOSYSTEM: '1',
      GIT_PROJECT_ROOT: opts.projectRoot,
      GIT_HTTP_EXPORT_ALL: '1',
      GATEWAY_INTERFACE: 'CGI/1.1',
      SERVER_PROTOCOL: `HTTP/${req.httpVersion}`,
      REQUEST_METHOD: record.method,
      PATH_INFO: decodeURIComponent(url.pathname),
      QUERY_STRING: record.query,
      CONTENT_TYPE: req.headers['content-type'] ?? '',
      REMOTE_ADDR: req.socket.remoteAddress ?? '127.0.0.1',
      REMOTE_USER: remoteUser,
    };
    if (req.headers['content-length'] !== undefined) env.CONTENT_LENGTH = req.headers['content-length'];
    if (req.headers['content-encoding'] !== undefined) env.HTTP_CONTENT_ENCODING = req.headers['content-encoding'];
    const protocol = req.headers['git-protocol'];
    if (typeof protocol === 'string') env.GIT_PROTOCOL = protocol;

    const cgi = spawn(HTTP_BACKEND, [], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    const stderr: Buffer[] = [];
    cgi.stderr.on('data', (c: Buffer) => stderr.push(c));
    cgi.on('error', (err) => {
      if (!res.headersSent) reply(500, `cannot run ${HTTP_BACKEND}: ${err.message}\n`);
    });
    // A client that hangs up early must not crash the server with EPIPE, nor leave the backend waiting for input.
    cgi.stdin.on('error', () => {});
    res.on('close', () => {
      if (cgi.exitCode === null && cgi.signalCode === null) cgi.kill();
    });
    req.on('data', (c: Buffer) => {
      if (record.method === 'POST') bodyChunks.push(c);
    });
    req.on('end', () => {
      if (bodyChunks.length > 0) record.body = Buffer.concat(bodyChunks);
    });
    req.pipe(cgi.stdin);

    let head: Buffer = Buffer.alloc(0);
    let headDone = false;
    cgi.stdout.on('data', (chunk: Buffer) => {
      if (headDone) {
        res.write(chunk);
        return;
      }
      head = Buffer.concat([head, chunk]);
      const found = findHeadEnd(head);
      if (!found) return;
      headDone = true;
      const parsed = parseCgiHead(head.subarray(0, found.end).toString('latin1'));
      record.status = parsed.status;
      res.statusCode = parsed.status;
      for (const [name, value] of parsed.headers) res.appendHeader(name, value);
      res.write(head.subarray(found.bodyStart));
    });
    cgi.on('close', (code) => {
      if (!headDone) {
        const message = Buffer.concat(stderr).toString('utf8').trim();
        if (!res.headersSent) reply(500, `git http-backend failed (${code}): ${message}\n`);
        return;
      }
      res.end();
    });
  };
}

/** Starts serving the bare repositories under `opts.projectRoot` on `listen.host:listen.port`. */
export async function serveGitHttp(opts: GitHttpOptions & ListenOptions): Promise<GitHttpServer> {
  const server = createServer(gitHttpHandler(opts));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

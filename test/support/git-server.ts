// A real Git smart-HTTP server for tests: node:http in front of `git http-backend` (CGI), with bare repos made by the git CLI.
import { spawn } from 'node:child_process';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { AddressInfo } from 'node:net';

const HTTP_BACKEND = '/usr/lib/git-core/git-http-backend';

export interface GitServerOptions {
  /** When set, every request must carry HTTP Basic auth whose password is this token. */
  token?: string;
  /** When set together with `token`, the Basic-auth user name must also match. */
  username?: string;
}

export interface CreateRepoOptions {
  /** The default branch (HEAD) of the new repository; default 'main'. */
  branch?: string;
  message?: string;
  /** An annotated tag on the first commit. */
  tag?: string;
  /**
   * Whether clients may fetch any commit by id (uploadpack.allowAnySHA1InWant); default true.
   * False gives the stock behaviour, where only advertised ref tips can be wanted.
   */
  allowAnySha1InWant?: boolean;
}

export interface CommitOptions {
  /** The branch to commit on; a new branch starts from the default branch. Default: the default branch. */
  branch?: string;
  message?: string;
  /** An annotated tag on the new commit. */
  tag?: string;
  /** A lightweight tag on the new commit. */
  lightweightTag?: string;
}

/** One HTTP request the server answered, for tests that check what a client sent. */
export interface GitServerRequest {
  method: string;
  path: string;
  query: string;
  status: number;
  /** The request body of POSTs (upload-pack negotiation), kept so tests can read `want`/`have` lines. */
  body?: Buffer;
}

export interface GitServer {
  /** The folder holding the bare repositories, `<name>.git` each. */
  readonly root: string;
  readonly port: number;
  /** Every request answered so far, oldest first. */
  readonly requests: GitServerRequest[];
  /** The clone URL of a repository; `credentials` are embedded in the URL when given. */
  url(name: string, credentials?: { username: string; password: string }): string;
  /** The bare repository's folder. */
  repoPath(name: string): string;
  /** A bare repository with one commit holding `files` (path -> content) on `opts.branch`. */
  createRepo(name: string, files: Record<string, string>, opts?: CreateRepoOptions): Promise<{ commit: string }>;
  /** A bare repository with no commits at all. */
  createEmptyRepo(name: string, opts?: { allowAnySha1InWant?: boolean }): Promise<void>;
  /** A new commit on top of the branch: `files` are written, a `null` content deletes the file. Returns its id. */
  commit(name: string, files: Record<string, string | null>, opts?: CommitOptions): Promise<string>;
  /**
   * Rewrites the branch's history: a new root commit holding exactly `files`, force-pushed over the branch,
   * so the old tip is no longer an ancestor. Returns the new commit id.
   */
  forcePush(name: string, files: Record<string, string>, opts?: { branch?: string; message?: string }): Promise<string>;
  /** Points the bare repository's HEAD at `ref` (e.g. 'refs/heads/gone' for a dangling HEAD). */
  setHead(name: string, ref: string): Promise<void>;
  /** Runs git with `args` inside the bare repository and returns stdout. */
  git(name: string, args: string[]): Promise<string>;
  stop(): Promise<void>;
}

interface RunOutput { status: number; stdout: string; stderr: string }

/** Runs git (argv, no shell); rejects with its stderr when it fails, unless `allowFail`. */
function runGit(args: string[], cwd: string, env: NodeJS.ProcessEnv, allowFail = false): Promise<RunOutput> {
  return new Promise((resolve, reject) => {
    const child = spawn('git', args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.on('close', (status) => {
      const result = { status: status ?? -1, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') };
      if (status === 0 || allowFail) resolve(result);
      else reject(new Error(`git ${args.join(' ')} failed (${status}) in ${cwd}: ${result.stderr.trim()}`));
    });
  });
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

function basicAuthPassword(req: IncomingMessage): { username: string; password: string } | null {
  const header = req.headers.authorization;
  if (!header?.startsWith('Basic ')) return null;
  const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return null;
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

export async function startGitServer(opts: GitServerOptions = {}): Promise<GitServer> {
  const base = await mkdtemp(join(tmpdir(), 'notrack-git-server-'));
  const root = join(base, 'repos');
  const work = join(base, 'work');
  const home = join(base, 'home');
  await Promise.all([mkdir(root), mkdir(work), mkdir(home)]);

  // Commit dates come from a counter so that two commits never share an id by accident (same tree, same second).
  let clock = 1_700_000_000;
  const gitEnv = (): NodeJS.ProcessEnv => {
    clock += 1;
    const date = `${clock} +0000`;
    return {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: home,
      GIT_CONFIG_NOSYSTEM: '1',
      GIT_AUTHOR_NAME: 'notrack test', GIT_AUTHOR_EMAIL: 'test@notrack.invalid', GIT_AUTHOR_DATE: date,
      GIT_COMMITTER_NAME: 'notrack test', GIT_COMMITTER_EMAIL: 'test@notrack.invalid', GIT_COMMITTER_DATE: date,
    };
  };
  const git = (args: string[], cwd: string, allowFail = false) => runGit(args, cwd, gitEnv(), allowFail);

  const requests: GitServerRequest[] = [];
  const defaultBranches = new Map<string, string>();
  const cloned = new Set<string>();

  function handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const record: GitServerRequest = { method: req.method ?? 'GET', path: url.pathname, query: url.search.slice(1), status: 0 };
    requests.push(record);
    const reply = (status: number, text: string, headers: Record<string, string> = {}) => {
      record.status = status;
      res.writeHead(status, { 'content-type': 'text/plain', ...headers });
      res.end(text);
    };

    let remoteUser = '';
    if (opts.token !== undefined) {
      const creds = basicAuthPassword(req);
      const ok = creds !== null && creds.password === opts.token
        && (opts.username === undefined || creds.username === opts.username);
      if (!ok) {
        req.resume();
        reply(401, 'authentication required\n', { 'www-authenticate': 'Basic realm="notrack test"' });
        return;
      }
      remoteUser = creds.username;
    }

    const bodyChunks: Buffer[] = [];
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: home,
      GIT_CONFIG_NOSYSTEM: '1',
      GIT_PROJECT_ROOT: root,
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
    cgi.on('error', (err) => { if (!res.headersSent) reply(500, `cannot run ${HTTP_BACKEND}: ${err.message}\n`); });
    // A client that hangs up early must not crash the server with EPIPE, nor leave the backend waiting for input.
    cgi.stdin.on('error', () => {});
    res.on('close', () => { if (cgi.exitCode === null && cgi.signalCode === null) cgi.kill(); });
    req.on('data', (c: Buffer) => { if (record.method === 'POST') bodyChunks.push(c); });
    req.on('end', () => { if (bodyChunks.length > 0) record.body = Buffer.concat(bodyChunks); });
    req.pipe(cgi.stdin);

    let head: Buffer = Buffer.alloc(0);
    let headDone = false;
    cgi.stdout.on('data', (chunk: Buffer) => {
      if (headDone) { res.write(chunk); return; }
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
  }

  const server = createServer(handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  const repoPath = (name: string) => join(root, `${name}.git`);
  const workPath = (name: string) => join(work, name);

  async function initBare(name: string, branch: string, allowAnySha1InWant: boolean): Promise<void> {
    await git(['init', '--quiet', '--bare', `--initial-branch=${branch}`, repoPath(name)], base);
    if (allowAnySha1InWant) await git(['config', 'uploadpack.allowAnySHA1InWant', 'true'], repoPath(name));
    defaultBranches.set(name, branch);
  }

  /** The working clone used to make commits, created on first use. */
  async function workClone(name: string): Promise<string> {
    const dir = workPath(name);
    if (!cloned.has(name)) {
      await git(['clone', '--quiet', repoPath(name), dir], base);
      cloned.add(name);
    }
    return dir;
  }

  /** Whether the work clone's last fetch saw `branch` on the server. */
  async function remoteBranchExists(dir: string, branch: string): Promise<boolean> {
    const out = await git(['rev-parse', '--verify', '--quiet', `refs/remotes/origin/${branch}`], dir, true);
    return out.status === 0;
  }

  async function writeFiles(dir: string, files: Record<string, string | null>): Promise<void> {
    for (const [path, content] of Object.entries(files)) {
      const full = join(dir, path);
      if (content === null) {
        await rm(full, { force: true });
      } else {
        await mkdir(dirname(full), { recursive: true });
        await writeFile(full, content);
      }
    }
  }

  async function commit(name: string, files: Record<string, string | null>, copts: CommitOptions = {}): Promise<string> {
    const dir = await workClone(name);
    const main = defaultBranches.get(name) ?? 'main';
    const branch = copts.branch ?? main;
    await git(['fetch', '--quiet', '--prune', 'origin'], dir);
    // Start from the branch as the server has it now, so commits made by other means (force-push) are respected.
    if (await remoteBranchExists(dir, branch)) {
      await git(['checkout', '--quiet', '-B', branch, `origin/${branch}`], dir);
    } else if (await remoteBranchExists(dir, main)) {
      await git(['checkout', '--quiet', '-B', branch, `origin/${main}`], dir);
    } else {
      await git(['checkout', '--quiet', '--orphan', branch], dir);
    }
    await writeFiles(dir, files);
    await git(['add', '--all'], dir);
    await git(['commit', '--quiet', '--allow-empty', '-m', copts.message ?? `change ${Object.keys(files).join(', ')}`], dir);
    const pushes = [`HEAD:refs/heads/${branch}`];
    if (copts.tag !== undefined) {
      await git(['tag', '-a', copts.tag, '-m', `tag ${copts.tag}`], dir);
      pushes.push(`refs/tags/${copts.tag}`);
    }
    if (copts.lightweightTag !== undefined) {
      await git(['tag', copts.lightweightTag], dir);
      pushes.push(`refs/tags/${copts.lightweightTag}`);
    }
    await git(['push', '--quiet', 'origin', ...pushes], dir);
    return (await git(['rev-parse', 'HEAD'], dir)).stdout.trim();
  }

  return {
    root,
    port,
    requests,
    url(name, credentials) {
      const auth = credentials
        ? `${encodeURIComponent(credentials.username)}:${encodeURIComponent(credentials.password)}@`
        : '';
      return `http://${auth}127.0.0.1:${port}/${name}.git`;
    },
    repoPath,
    async createRepo(name, files, copts = {}) {
      await initBare(name, copts.branch ?? 'main', copts.allowAnySha1InWant ?? true);
      const commitOpts: CommitOptions = {};
      if (copts.message !== undefined) commitOpts.message = copts.message;
      if (copts.tag !== undefined) commitOpts.tag = copts.tag;
      return { commit: await commit(name, files, commitOpts) };
    },
    async createEmptyRepo(name, eopts = {}) {
      await initBare(name, 'main', eopts.allowAnySha1InWant ?? true);
    },
    commit,
    async forcePush(name, files, fopts = {}) {
      const dir = await workClone(name);
      const branch = fopts.branch ?? defaultBranches.get(name) ?? 'main';
      const scratch = `rewrite-${clock}`;
      await git(['checkout', '--quiet', '--orphan', scratch], dir);
      await git(['rm', '-r', '--quiet', '--cached', '--ignore-unmatch', '.'], dir);
      await git(['clean', '-q', '-f', '-d', '-x'], dir);
      await writeFiles(dir, files);
      await git(['add', '--all'], dir);
      await git(['commit', '--quiet', '--allow-empty', '-m', fopts.message ?? 'rewritten history'], dir);
      await git(['push', '--quiet', '--force', 'origin', `HEAD:refs/heads/${branch}`], dir);
      const oid = (await git(['rev-parse', 'HEAD'], dir)).stdout.trim();
      await git(['checkout', '--quiet', '-B', branch, 'HEAD'], dir);
      await git(['branch', '--quiet', '-D', scratch], dir);
      return oid;
    },
    async setHead(name, ref) {
      await git(['symbolic-ref', 'HEAD', ref], repoPath(name));
    },
    async git(name, args) {
      return (await git(args, repoPath(name))).stdout;
    },
    async stop() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await rm(base, { recursive: true, force: true });
    },
  };
}

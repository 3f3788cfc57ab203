// A real Git smart-HTTP server for tests (src/demo/git-http.ts, in this process), with bare repos made by the git CLI.
import { spawn } from 'node:child_process';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { serveGitHttp, type GitHttpRequest } from '../../src/demo/git-http.js';

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
export type GitServerRequest = GitHttpRequest;

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

interface RunOutput {
  status: number;
  stdout: string;
  stderr: string;
}

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
      const result = {
        status: status ?? -1,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      };
      if (status === 0 || allowFail) resolve(result);
      else reject(new Error(`git ${args.join(' ')} failed (${status}) in ${cwd}: ${result.stderr.trim()}`));
    });
  });
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
      GIT_AUTHOR_NAME: 'notrack test',
      GIT_AUTHOR_EMAIL: 'test@notrack.invalid',
      GIT_AUTHOR_DATE: date,
      GIT_COMMITTER_NAME: 'notrack test',
      GIT_COMMITTER_EMAIL: 'test@notrack.invalid',
      GIT_COMMITTER_DATE: date,
    };
  };
  const git = (args: string[], cwd: string, allowFail = false) => runGit(args, cwd, gitEnv(), allowFail);

  const requests: GitServerRequest[] = [];
  const defaultBranches = new Map<string, string>();
  const cloned = new Set<string>();

  const served = await serveGitHttp({
    projectRoot: root,
    home,
    host: '127.0.0.1',
    port: 0,
    onRequest: (record) => requests.push(record),
    ...(opts.token !== undefined ? { token: opts.token } : {}),
    ...(opts.username !== undefined ? { username: opts.username } : {}),
  });
  const port = served.port;

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

  async function commit(
    name: string,
    files: Record<string, string | null>,
    copts: CommitOptions = {},
  ): Promise<string> {
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
    await git(
      ['commit', '--quiet', '--allow-empty', '-m', copts.message ?? `change ${Object.keys(files).join(', ')}`],
      dir,
    );
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
      await served.close();
      await rm(base, { recursive: true, force: true });
    },
  };
}

// The on-disk cache of remote repositories: one bare object store per URL, checked before use, rebuilt when damaged.
import fs from 'node:fs';
import { mkdir, open, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { git } from './git-library.js';
import { SourceError } from './source-error.js';

/** Each fetch adds a pack; past this many, reading slows down, so the cache is started afresh (a shallow re-fetch). */
export const MAX_PACKS = 50;

/** `$XDG_CACHE_HOME/notrack/git`, else `~/.cache/notrack/git`. */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_CACHE_HOME;
  return join(xdg !== undefined && xdg !== '' ? xdg : join(homedir(), '.cache'), 'notrack', 'git');
}

/** The cache folder of one remote: a readable slug of host and path, then a hash of the credential-free URL. */
export function cacheFolderFor(cacheDir: string, url: string): string {
  const hash = createHash('sha256').update(url).digest('hex').slice(0, 16);
  const { host, pathname } = new URL(url);
  const slug = `${host}${pathname}`
    .replace(/\.git$/, '')
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 60);
  return join(cacheDir, `${slug}-${hash}`);
}

const FS_FAILURES: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  ENOTDIR: 'a file is in the way of a folder',
  EEXIST: 'a file is in the way',
};

/** The SourceError for a file-system failure that rebuilding the cache cannot fix; undefined for anything else. */
export function cacheFsFailure(err: unknown, gitdir: string): SourceError | undefined {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  if (code === undefined || !(code in FS_FAILURES)) return undefined;
  return new SourceError(
    'source-cache-unusable',
    `cannot write the cache folder ${gitdir}: ${FS_FAILURES[code]} (${code}); fix it or choose another cache folder ` +
      '(the cache-dir option, or $XDG_CACHE_HOME)',
    { cause: err },
  );
}

type CacheState =
  { state: 'missing' } | { state: 'healthy' } | { state: 'crowded' } | { state: 'damaged'; problem: string };

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

async function readBytes(path: string, position: number, length: number): Promise<Buffer> {
  const handle = await open(path, 'r');
  try {
    const buf = Buffer.alloc(length);
    const { bytesRead } = await handle.read(buf, 0, length, position);
    return buf.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/**
 * A pack ends with the SHA-1 of its content and its index repeats that checksum just before its own: comparing
 * the two catches a truncated or overwritten pack without hashing it.
 */
async function packProblem(packDir: string, pack: string): Promise<string | null> {
  const packPath = join(packDir, pack);
  const idxPath = packPath.replace(/\.pack$/, '.idx');
  if (!(await exists(idxPath))) return `${pack} has no index`;
  const packSize = (await stat(packPath)).size;
  const idxSize = (await stat(idxPath)).size;
  if (packSize < 32) return `${pack} is truncated`;
  if (idxSize < 48) return `${pack.replace(/\.pack$/, '.idx')} is truncated`;
  const header = await readBytes(packPath, 0, 4);
  if (header.toString('latin1') !== 'PACK') return `${pack} does not start like a pack`;
  const packTrailer = await readBytes(packPath, packSize - 20, 20);
  const idxRecord = await readBytes(idxPath, idxSize - 40, 20);
  if (!packTrailer.equals(idxRecord)) return `${pack} is truncated or altered (its checksum does not match its index)`;
  return null;
}

/** Checks what can be checked cheaply before isomorphic-git reads the folder: HEAD, config, refs, packs, shallow. */
export async function cacheState(gitdir: string): Promise<CacheState> {
  if (!(await exists(gitdir))) return { state: 'missing' };
  const damaged = (problem: string): CacheState => ({ state: 'damaged', problem });
  let head: string;
  try {
    head = await readFile(join(gitdir, 'HEAD'), 'utf8');
  } catch {
    return damaged('HEAD is missing');
  }
  if (!/^(ref: refs\/\S+|[0-9a-f]{40})\s*$/.test(head)) return damaged('HEAD is not a valid ref');
  try {
    const refspec = await git.getConfig({ fs, gitdir, path: 'remote.origin.fetch' });
    if (typeof refspec !== 'string' || refspec === '') return damaged('config has no fetch refspec');
  } catch {
    return damaged('config cannot be read');
  }
  if (!(await exists(join(gitdir, 'refs')))) return damaged('the refs folder is missing');
  const packDir = join(gitdir, 'objects', 'pack');
  let names: string[] = [];
  try {
    names = await readdir(packDir);
  } catch {
    return damaged('the objects folder is missing');
  }
  const packs = names.filter((n) => n.endsWith('.pack'));
  for (const idx of names.filter((n) => n.endsWith('.idx'))) {
    if (!names.includes(idx.replace(/\.idx$/, '.pack'))) return damaged(`${idx} has no pack`);
  }
  for (const pack of packs) {
    const problem = await packProblem(packDir, pack);
    if (problem !== null) return damaged(problem);
  }
  try {
    const shallow = await readFile(join(gitdir, 'shallow'), 'utf8');
    if (!shallow.split('\n').every((line) => line === '' || /^[0-9a-f]{40}$/.test(line))) {
      return damaged('the shallow file is not a list of commit ids');
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return damaged('the shallow file cannot be read');
  }
  return packs.length > MAX_PACKS ? { state: 'crowded' } : { state: 'healthy' };
}

/** Replaces whatever is at `gitdir` with an empty bare repository whose origin is `url` (no credentials). */
export async function createCache(gitdir: string, url: string): Promise<void> {
  try {
    await rm(gitdir, { recursive: true, force: true });
    await mkdir(dirname(gitdir), { recursive: true });
    await git.init({ fs, dir: gitdir, bare: true, defaultBranch: 'main' });
    await git.setConfig({ fs, gitdir, path: 'remote.origin.url', value: url });
    await git.setConfig({ fs, gitdir, path: 'remote.origin.fetch', value: '+refs/heads/*:refs/remotes/origin/*' });
  } catch (err) {
    throw cacheFsFailure(err, gitdir) ?? err;
  }
}

const queues = new Map<string, Promise<unknown>>();

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Holds `<gitdir>.lock` (a folder, made atomically) while `fn` runs; a lock whose process is gone is taken over. */
async function withFileLock<T>(gitdir: string, waitMs: number, fn: () => Promise<T>): Promise<T> {
  const lock = `${gitdir}.lock`;
  const deadline = Date.now() + waitMs;
  try {
    await mkdir(dirname(gitdir), { recursive: true });
  } catch (err) {
    throw cacheFsFailure(err, gitdir) ?? err;
  }
  for (;;) {
    try {
      await mkdir(lock);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw cacheFsFailure(err, gitdir) ?? err;
    }
    const pid = parseInt(await readFile(join(lock, 'pid'), 'utf8').catch(() => ''), 10);
    const age = await stat(lock).then(
      (s) => Date.now() - s.mtimeMs,
      () => 0,
    );
    // No pid yet means the owner is between mkdir and writing it; only a long-silent lock is abandoned.
    if ((Number.isFinite(pid) && !processAlive(pid)) || (!Number.isFinite(pid) && age > 10_000)) {
      await rm(lock, { recursive: true, force: true });
      continue;
    }
    if (Date.now() > deadline) {
      throw new SourceError(
        'source-cache-locked',
        `the cache folder ${gitdir} is in use by process ${Number.isFinite(pid) ? pid : '(unknown)'}; wait for it to ` +
          `finish, or remove ${lock} if that process is gone`,
      );
    }
    await sleep(100);
  }
  try {
    await writeFile(join(lock, 'pid'), String(process.pid));
    return await fn();
  } finally {
    await rm(lock, { recursive: true, force: true });
  }
}

/** Runs `fn` with the cache folder to itself: one at a time in this process, and against other processes. */
export async function withCacheLock<T>(gitdir: string, waitMs: number, fn: () => Promise<T>): Promise<T> {
  const previous = queues.get(gitdir) ?? Promise.resolve();
  const run = previous.catch(() => {}).then(() => withFileLock(gitdir, waitMs, fn));
  queues.set(gitdir, run);
  try {
    return await run;
  } finally {
    if (queues.get(gitdir) === run) queues.delete(gitdir);
  }
}

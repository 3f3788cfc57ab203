// Small helpers shared by the source tests: temp folders, reading snapshot files, expecting a SourceError.
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as assert from 'uvu/assert';
import type { Test } from 'uvu';
import {
  fetchSource,
  SourceError,
  type SourceErrorCode,
  type SourceOptions,
  type SourceSnapshot,
} from '../../src/source/index.js';
import { startGitServer, type GitServer } from '../support/git-server.js';

const made: string[] = [];

export async function tempDir(tag: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `notrack-source-${tag}-`));
  made.push(dir);
  return dir;
}

export async function removeTempDirs(): Promise<void> {
  await Promise.all(made.splice(0).map((d) => rm(d, { recursive: true, force: true })));
}

export function paths(snap: SourceSnapshot): string[] {
  return snap.files.map((f) => f.path);
}

export function text(snap: SourceSnapshot, path: string): string {
  const file = snap.files.find((f) => f.path === path);
  if (file === undefined) throw new Error(`${path} is not in the snapshot (has ${paths(snap).join(', ')})`);
  return Buffer.from(file.content).toString('utf8');
}

/** Awaits `p`, which must fail with a SourceError of `code`; returns it for checks on the message. */
export async function sourceError(p: Promise<unknown>, code: SourceErrorCode): Promise<SourceError> {
  try {
    await p;
  } catch (err) {
    if (!(err instanceof SourceError)) throw err;
    assert.is(err.code, code, `expected ${code}, got ${err.code}: ${err.message}`);
    return err;
  }
  assert.unreachable(`expected a SourceError ${code}, but it succeeded`);
  throw new Error('unreachable');
}

/** Runs git synchronously (argv, no shell) with a fixed identity, for tests that build local repositories. */
export function gitSync(args: string[], cwd: string): string {
  const r = spawnSync('git', args, {
    cwd,
    encoding: 'utf8',
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: cwd,
      GIT_CONFIG_NOSYSTEM: '1',
      GIT_AUTHOR_NAME: 't',
      GIT_AUTHOR_EMAIL: 't@notrack.invalid',
      GIT_COMMITTER_NAME: 't',
      GIT_COMMITTER_EMAIL: 't@notrack.invalid',
    },
  });
  if (r.status !== 0) throw new Error(`git ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout.trim();
}

/** A real Git server and a cache folder shared by the tests of one file, and a read of a repository on it. */
export interface RemoteFixture {
  server: GitServer;
  cacheDir: string;
  read(name: string, opts?: Omit<SourceOptions, 'repo' | 'cacheDir'>): Promise<SourceSnapshot>;
}

/** Starts the server before the suite's tests and stops it (and removes the temp folders) after them. */
export function remoteFixture(suite: Test): RemoteFixture {
  const fixture = {
    read: (name, opts = {}) => fetchSource({ repo: fixture.server.url(name), cacheDir: fixture.cacheDir, ...opts }),
  } as RemoteFixture;
  suite.before(async () => {
    fixture.server = await startGitServer();
    fixture.cacheDir = await tempDir('cache');
  });
  suite.after(async () => {
    await fixture.server.stop();
    await removeTempDirs();
  });
  return fixture;
}

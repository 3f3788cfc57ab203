// Token authentication against a Git server that demands it, and proof that the token never shows up anywhere.
// The test server speaks plain http on loopback, so these reads pass allowInsecureHttp (as --allow-insecure-http).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { startGitServer, type GitServer } from '../support/git-server.js';
import { cacheFolderFor, fetchSource, SourceError } from '../../src/source/index.js';
import { paths, removeTempDirs, sourceError, tempDir } from './source-fixture.js';

const TOKEN = `ghs_${randomBytes(12).toString('hex')}`;
const WRONG = `ghs_${randomBytes(12).toString('hex')}`;
let server: GitServer;
let cacheDir: string;
let envSerial = 0;

test.before(async () => {
  server = await startGitServer({ token: TOKEN, username: 'x-access-token' });
  await server.createRepo('private', { 'policy.yaml': 'kind: GlobalNetworkPolicy\n' });
  cacheDir = await tempDir('auth-cache');
});

test.after(async () => {
  await server.stop();
  await removeTempDirs();
});

/** A fresh environment variable holding `value`, so tests cannot see each other's tokens. */
function tokenVar(value: string | undefined): string {
  envSerial += 1;
  const name = `NOTRACK_TEST_TOKEN_${process.pid}_${envSerial}`;
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
  return name;
}

/** Every way an error can be printed or serialised; none may contain a secret. */
function renderings(err: unknown): string[] {
  const e = err as Error;
  return [e.message, String(e), e.stack ?? '', JSON.stringify(e), inspect(e, { depth: 5, showHidden: true })];
}

function assertAbsent(texts: string[], secret: string): void {
  for (const t of texts) assert.not.ok(t.includes(secret), `a secret appears in: ${t.slice(0, 300)}`);
}

async function cacheText(url: string): Promise<string[]> {
  const folder = cacheFolderFor(cacheDir, url);
  const out: string[] = [];
  for (const name of await readdir(folder)) {
    if (['config', 'HEAD', 'shallow', 'FETCH_HEAD'].includes(name))
      out.push(await readFile(join(folder, name), 'latin1'));
  }
  return out;
}

test('a token from the environment variable is sent as Basic auth with the default user name', async () => {
  const tokenEnv = tokenVar(TOKEN);
  const snap = await fetchSource({ repo: server.url('private'), allowInsecureHttp: true, cacheDir, tokenEnv });
  assert.equal(paths(snap), ['policy.yaml']);
  assertAbsent([JSON.stringify(snap), inspect(snap, { depth: 5 }), ...(await cacheText(server.url('private')))], TOKEN);
});

test('NOTRACK_GIT_TOKEN is the variable read when none is named', async () => {
  const saved = process.env.NOTRACK_GIT_TOKEN;
  process.env.NOTRACK_GIT_TOKEN = TOKEN;
  try {
    const snap = await fetchSource({ repo: server.url('private'), allowInsecureHttp: true, cacheDir });
    assert.equal(paths(snap), ['policy.yaml']);
  } finally {
    if (saved === undefined) delete process.env.NOTRACK_GIT_TOKEN;
    else process.env.NOTRACK_GIT_TOKEN = saved;
  }
});

test('without a token, source-auth says that none was sent and which variable to set', async () => {
  const tokenEnv = tokenVar(undefined);
  const err = await sourceError(
    fetchSource({ repo: server.url('private'), allowInsecureHttp: true, cacheDir, tokenEnv }),
    'source-auth',
  );
  assert.match(err.message, 'HTTP 401');
  assert.match(err.message, `no token ($${tokenEnv} is not set)`);
  assert.match(err.message, server.url('private'));
});

test('a wrong token fails with source-auth naming its variable, never its value', async () => {
  const tokenEnv = tokenVar(WRONG);
  const err = await sourceError(
    fetchSource({ repo: server.url('private'), allowInsecureHttp: true, cacheDir, tokenEnv }),
    'source-auth',
  );
  assert.match(err.message, `rejected a token from $${tokenEnv}`);
  assert.match(err.message, 'HTTP 401');
  assertAbsent(renderings(err), WRONG);
  assertAbsent(renderings(err), Buffer.from(`x-access-token:${WRONG}`).toString('base64'));
});

test('the username option changes the Basic-auth user name', async () => {
  const tokenEnv = tokenVar(TOKEN);
  const err = await sourceError(
    fetchSource({ repo: server.url('private'), allowInsecureHttp: true, cacheDir, tokenEnv, username: 'oauth2' }),
    'source-auth',
  );
  assertAbsent(renderings(err), TOKEN);
  const other = await startGitServer({ token: TOKEN, username: 'oauth2' });
  try {
    await other.createRepo('gl', { 'a.yaml': 'a\n' });
    const snap = await fetchSource({
      repo: other.url('gl'),
      allowInsecureHttp: true,
      cacheDir,
      tokenEnv,
      username: 'oauth2',
    });
    assert.equal(paths(snap), ['a.yaml']);
  } finally {
    await other.stop();
  }
  assert.not.ok(existsSync(other.root), 'the test server removes its folders when stopped');
});

test('credentials written in the URL are used but never shown, and share the cache folder of the plain URL', async () => {
  const tokenEnv = tokenVar(undefined);
  const withCreds = server.url('private', { username: 'x-access-token', password: TOKEN });
  const snap = await fetchSource({ repo: withCreds, allowInsecureHttp: true, cacheDir, tokenEnv });
  assert.is(snap.repo, server.url('private'));
  assertAbsent([JSON.stringify(snap), ...(await cacheText(server.url('private')))], TOKEN);
  assert.is(cacheFolderFor(cacheDir, snap.repo), cacheFolderFor(cacheDir, server.url('private')));

  const wrongUrl = server.url('private', { username: 'x-access-token', password: WRONG });
  const err = await sourceError(
    fetchSource({ repo: wrongUrl, allowInsecureHttp: true, cacheDir, tokenEnv }),
    'source-auth',
  );
  assert.match(err.message, 'the credentials written in the URL');
  assert.is(err.repo, server.url('private'));
  assertAbsent(renderings(err), WRONG);
});

test('a token that reaches a missing repository reports that no repository is there', async () => {
  const tokenEnv = tokenVar(TOKEN);
  const err = await sourceError(
    fetchSource({ repo: server.url('absent'), allowInsecureHttp: true, cacheDir, tokenEnv }),
    'source-not-a-repo',
  );
  assert.match(err.message, 'HTTP 404');
  assert.ok(err instanceof SourceError);
  assertAbsent(renderings(err), TOKEN);
});

test.run();

// The source stage against a real Git smart-HTTP server: shallow fetches into the cache, refs, sub-paths, failures.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readdir, readFile, rm, stat, truncate, writeFile, open } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { startGitServer, type GitServer } from '../support/git-server.js';
import { cacheFolderFor, fetchSource, FALLBACK_DEPTH, MAX_PACKS, type SourceOptions } from '../../src/source/index.js';
import { paths, removeTempDirs, sourceError, tempDir, text } from './source-fixture.js';

let server: GitServer;
let cacheDir: string;

test.before(async () => {
  server = await startGitServer();
  cacheDir = await tempDir('cache');
});

test.after(async () => {
  await server.stop();
  await removeTempDirs();
});

const read = (name: string, opts: Omit<SourceOptions, 'repo' | 'cacheDir'> = {}) =>
  fetchSource({ repo: server.url(name), cacheDir, ...opts });

/** POST bodies sent to git-upload-pack for one repository since request number `from`. */
function uploadPacks(name: string, from = 0): string[] {
  return server.requests
    .slice(from)
    .filter((r) => r.method === 'POST' && r.path === `/${name}.git/git-upload-pack`)
    .map((r) => r.body?.toString('latin1') ?? '');
}

test('reads the default branch at depth 1 into a cache folder, without checking files out', async () => {
  const { commit } = await server.createRepo('clone', {
    'policies/web.yaml': 'kind: GlobalNetworkPolicy\n',
    'sets/office.yml': 'kind: GlobalNetworkSet\n',
    'README.md': '# policies\n',
  });
  const snap = await read('clone');
  assert.is(snap.kind, 'remote');
  assert.is(snap.repo, server.url('clone'));
  assert.is(snap.ref, 'main');
  assert.is(snap.refKind, 'branch');
  assert.is(snap.commit, commit);
  assert.is(snap.subPath, '.');
  assert.equal(paths(snap), ['policies/web.yaml', 'sets/office.yml']);
  assert.is(text(snap, 'policies/web.yaml'), 'kind: GlobalNetworkPolicy\n');
  assert.is(snap.files[0]!.size, 'kind: GlobalNetworkPolicy\n'.length);
  assert.equal(snap.warnings, []);

  const folder = cacheFolderFor(cacheDir, server.url('clone'));
  assert.ok(existsSync(join(folder, 'objects')), 'the cache folder is a bare object store');
  assert.not.ok(existsSync(join(folder, 'policies')), 'no working tree is written');
  assert.is((await readFile(join(folder, 'shallow'), 'utf8')).trim(), commit, 'fetched at depth 1');
  assert.match(uploadPacks('clone')[0]!, /deepen 1/);
});

test('a first fetch is indexed as it arrives: the cache holds the index git index-pack writes, the files come whole', async () => {
  // Similar files, so that the server sends most of them as deltas, which the guard's pass resolves.
  const files: Record<string, string> = {};
  for (let n = 0; n < 5; n++)
    files[`policies/p${n}.yaml`] = Array.from({ length: 300 }, (_, i) => `- 10.${n}.${i}.0/24\n`).join('');
  await server.createRepo('indexed', files);
  const snap = await read('indexed');
  assert.equal(
    snap.files.map((f) => [f.path, Buffer.from(f.content).toString('utf8')]),
    Object.entries(files),
  );
  const pack = await onlyPack(cacheFolderFor(cacheDir, server.url('indexed')));
  const copy = join(await tempDir('index-pack'), 'copy.pack');
  await copyFile(pack, copy);
  const made = spawnSync('git', ['index-pack', copy], { encoding: 'utf8' });
  assert.is(made.status, 0, made.stderr);
  assert.ok((await readFile(copy.replace(/\.pack$/, '.idx'))).equals(await readFile(pack.replace(/\.pack$/, '.idx'))));
  const again = await read('indexed');
  assert.equal(
    again.files.map((f) => f.size),
    snap.files.map((f) => f.size),
    'read back from the cache',
  );
});

test('without cacheDir, the cache lives under $XDG_CACHE_HOME/notrack/git, one named folder per remote', async () => {
  await server.createRepo('xdg', { 'a.yaml': 'a\n' });
  const xdg = await tempDir('xdg');
  const saved = process.env.XDG_CACHE_HOME;
  process.env.XDG_CACHE_HOME = xdg;
  try {
    await fetchSource({ repo: server.url('xdg') });
  } finally {
    if (saved === undefined) delete process.env.XDG_CACHE_HOME;
    else process.env.XDG_CACHE_HOME = saved;
  }
  const folders = await readdir(join(xdg, 'notrack', 'git'));
  assert.is(folders.length, 1);
  assert.match(folders[0]!, new RegExp(`^127\\.0\\.0\\.1-${server.port}-xdg-[0-9a-f]{16}$`));
  assert.is(join(xdg, 'notrack', 'git', folders[0]!), cacheFolderFor(join(xdg, 'notrack', 'git'), server.url('xdg')));
});

test('a later call fetches into the same cache (sending what it has) and returns the new commit', async () => {
  const first = await server.createRepo('later', { 'a.yaml': 'v: 1\n' });
  await read('later');
  const mark = server.requests.length;
  const second = await server.commit('later', { 'a.yaml': 'v: 2\n', 'b.yaml': 'w: 1\n' });
  const snap = await read('later');
  assert.is(snap.commit, second);
  assert.equal(paths(snap), ['a.yaml', 'b.yaml']);
  assert.is(text(snap, 'a.yaml'), 'v: 2\n');
  const bodies = uploadPacks('later', mark);
  assert.is(bodies.length, 1);
  assert.match(bodies[0]!, `have ${first.commit}`, 'the cache was reused, not cloned afresh');
});

test('a later call asks for no depth, so a commit that leaves a large file alone does not send it again', async () => {
  // Incompressible lines, so that the size of a pack tells whether the file was in it.
  const nets = Array.from({ length: 20_000 }, (_, i) => `  - 10.${i >> 8}.${i & 255}.${(i * 7919) % 251}/32`);
  const big = `kind: GlobalNetworkSet\nnets:\n${nets.join('\n')}\n`;
  await server.createRepo('incremental', { 'sets/deny.yaml': big, 'README.md': 'r\n' });
  const first = await read('incremental');
  const packSizes = async (): Promise<number[]> => {
    const dir = join(cacheFolderFor(cacheDir, server.url('incremental')), 'objects', 'pack');
    const packs = (await readdir(dir)).filter((f) => f.endsWith('.pack'));
    return Promise.all(packs.map(async (f) => (await stat(join(dir, f))).size));
  };
  const before = await packSizes();
  const mark = server.requests.length;
  const readme = await server.commit('incremental', { 'README.md': 'r2\n' });
  const snap = await read('incremental', { ancestor: first.commit! });
  assert.equal([snap.commit, snap.ancestry, text(snap, 'sets/deny.yaml')], [readme, 'descends', big]);
  const [body] = uploadPacks('incremental', mark);
  assert.match(body!, `have ${first.commit}`);
  assert.not.match(body!, /deepen/, 'no depth: the server sends what is new since the cached tip');
  const added = (await packSizes()).filter((n) => !before.includes(n));
  assert.is(added.length, 1);
  assert.ok(added[0]! < 2_000, `the new pack holds the commit, its tree and the README (${added[0]} bytes)`);
});

test('a new commit is fetched after one listing of the refs: the fetch reuses the answer the read chose from', async () => {
  await server.createRepo('listed-once', { 'a.yaml': 'v: 1\n' });
  const first = await read('listed-once');
  const mark = server.requests.length;
  const second = await server.commit('listed-once', { 'a.yaml': 'v: 2\n' });
  const snap = await read('listed-once', { ancestor: first.commit! });
  assert.equal([snap.commit, snap.ancestry, text(snap, 'a.yaml')], [second, 'descends', 'v: 2\n']);
  const asked = server.requests.slice(mark).map((r) => `${r.method} ${r.path}`);
  assert.equal(asked, ['GET /listed-once.git/info/refs', 'POST /listed-once.git/git-upload-pack'], asked.join(', '));
  // A later read lists the refs afresh: the answer is reused once, within one read.
  const mark2 = server.requests.length;
  const third = await server.commit('listed-once', { 'a.yaml': 'v: 3\n' });
  assert.is((await read('listed-once')).commit, third);
  assert.is(server.requests.slice(mark2).filter((r) => r.method === 'GET').length, 1);
});

test('an unchanged branch is read from the cache without downloading it again', async () => {
  const { commit } = await server.createRepo('unchanged', { 'a.yaml': 'v: 1\n' });
  await read('unchanged');
  const mark = server.requests.length;
  const snap = await read('unchanged');
  assert.is(snap.commit, commit);
  assert.is(text(snap, 'a.yaml'), 'v: 1\n');
  assert.equal(uploadPacks('unchanged', mark), [], 'only the refs were listed');
});

test('branch, annotated tag, lightweight tag, full and abbreviated commit ids each select their commit', async () => {
  const v1 = await server.createRepo('refs', { 'p.yaml': 'v: 1\n' }, { tag: 'v1' });
  const dev = await server.commit('refs', { 'p.yaml': 'v: dev\n' }, { branch: 'dev', lightweightTag: 'light' });
  const main2 = await server.commit('refs', { 'p.yaml': 'v: 2\n' });

  const branch = await read('refs', { ref: 'dev' });
  assert.equal([branch.ref, branch.refKind, branch.commit, text(branch, 'p.yaml')], ['dev', 'branch', dev, 'v: dev\n']);
  const byFullName = await read('refs', { ref: 'refs/heads/dev' });
  assert.is(byFullName.commit, dev);

  const annotated = await read('refs', { ref: 'v1' });
  assert.equal([annotated.ref, annotated.refKind, annotated.commit], ['v1', 'tag', v1.commit]);
  assert.is(text(annotated, 'p.yaml'), 'v: 1\n');
  const light = await read('refs', { ref: 'light' });
  assert.equal([light.ref, light.refKind, light.commit], ['light', 'tag', dev]);

  const full = await read('refs', { ref: v1.commit });
  assert.equal([full.ref, full.refKind, full.commit], [null, 'commit', v1.commit]);
  assert.is(text(full, 'p.yaml'), 'v: 1\n');
  const tip = await read('refs', { ref: main2.slice(0, 8) });
  assert.equal([tip.refKind, tip.commit], ['commit', main2]);
  const head = await read('refs');
  assert.equal([head.ref, head.commit], ['main', main2]);
});

test('an abbreviated id of an older commit is found by fetching more of the default branch', async () => {
  const old = await server.createRepo('abbrev', { 'p.yaml': 'v: old\n' });
  await server.commit('abbrev', { 'p.yaml': 'v: new\n' });
  await read('abbrev');
  const snap = await read('abbrev', { ref: old.commit.slice(0, 10) });
  assert.is(snap.commit, old.commit);
  assert.is(text(snap, 'p.yaml'), 'v: old\n');
  assert.ok(uploadPacks('abbrev').some((b) => b.includes(`deepen ${FALLBACK_DEPTH}`)));

  const missing = await sourceError(read('abbrev', { ref: 'abcdef12' }), 'source-ref-not-found');
  assert.match(missing.message, 'abcdef12');
  assert.match(missing.message, `last ${FALLBACK_DEPTH} commits of main`);
});

test('a sub-path returns only the files below it, with paths relative to the repository root', async () => {
  await server.createRepo('subpath', {
    'policies/edge/a.yaml': 'a\n',
    'policies/db.yaml': 'db\n',
    'other/x.yaml': 'x\n',
    'top.yaml': 't\n',
  });
  for (const given of ['policies', './policies/', '/policies']) {
    const snap = await read('subpath', { path: given });
    assert.is(snap.subPath, 'policies');
    assert.equal(paths(snap), ['policies/db.yaml', 'policies/edge/a.yaml']);
  }
  const one = await read('subpath', { path: 'policies/db.yaml' });
  assert.equal(paths(one), ['policies/db.yaml'], 'a sub-path naming a file returns that file');

  const err = await sourceError(read('subpath', { path: 'policies/nope' }), 'source-path-not-found');
  assert.match(err.message, 'policies/nope');
  assert.match(err.message, 'db.yaml, edge/', 'says what the folder holds instead');
  await sourceError(read('subpath', { path: '../elsewhere' }), 'source-path-not-found');
});

test('after a force-push, the rewritten branch returns its new commit and files', async () => {
  const before = await server.createRepo('rewrite', { 'old.yaml': 'o\n', 'kept.yaml': 'k1\n' });
  const snap1 = await read('rewrite');
  assert.is(snap1.commit, before.commit);
  const after = await server.forcePush('rewrite', { 'kept.yaml': 'k2\n', 'new.yaml': 'n\n' });
  const snap2 = await read('rewrite');
  assert.is(snap2.commit, after);
  assert.equal(paths(snap2), ['kept.yaml', 'new.yaml']);
  assert.is(text(snap2, 'kept.yaml'), 'k2\n');
  assert.equal(snap2.warnings, []);
});

test('a commit no branch reaches any more is still read by id when the server allows it', async () => {
  const gone = await server.createRepo('unreachable-ok', { 'p.yaml': 'gone\n' });
  await server.forcePush('unreachable-ok', { 'p.yaml': 'now\n' });
  const snap = await read('unreachable-ok', { ref: gone.commit });
  assert.is(snap.commit, gone.commit);
  assert.is(text(snap, 'p.yaml'), 'gone\n');
});

test('a commit the server refuses to send by id is looked for in history, then reported with the reason', async () => {
  const gone = await server.createRepo('strict', { 'p.yaml': 'gone\n' }, { allowAnySha1InWant: false });
  await server.forcePush('strict', { 'p.yaml': 'now\n' });
  const err = await sourceError(read('strict', { ref: gone.commit }), 'source-ref-not-found');
  assert.match(err.message, gone.commit);
  assert.match(err.message, 'did not send it when asked by id');
  assert.match(err.message, `last ${FALLBACK_DEPTH} commits of main`);
  assert.match(err.message, 'uploadpack.allowAnySHA1InWant');
});

test('an unknown ref fails with source-ref-not-found and lists branches and tags that exist', async () => {
  await server.createRepo('unknown-ref', { 'p.yaml': 'p\n' }, { tag: 'v1.0' });
  await server.commit('unknown-ref', { 'p.yaml': 'q\n' }, { branch: 'staging' });
  const err = await sourceError(read('unknown-ref', { ref: 'production' }), 'source-ref-not-found');
  assert.match(err.message, '"production"');
  assert.match(err.message, 'branches: main, staging');
  assert.match(err.message, 'tags: v1.0');
});

test('an empty repository fails with source-empty-repo', async () => {
  await server.createEmptyRepo('empty');
  const err = await sourceError(read('empty'), 'source-empty-repo');
  assert.match(err.message, server.url('empty'));
  await sourceError(read('empty', { ref: 'main' }), 'source-empty-repo');
});

test('a HEAD pointing at a missing branch fails with source-dangling-head, naming the branches there are', async () => {
  await server.createRepo('dangling', { 'p.yaml': 'p\n' });
  await server.setHead('dangling', 'refs/heads/gone');
  const err = await sourceError(read('dangling'), 'source-dangling-head');
  assert.match(err.message, 'branches: main');
  assert.match(err.message, 'git symbolic-ref HEAD');
  const explicit = await sourceError(read('dangling', { ref: 'main' }), 'source-dangling-head');
  assert.match(explicit.message, 'even for ref "main"');
});

test('include chooses the files, sorted by path; files over maxFileBytes come back marked, without content', async () => {
  await server.createRepo('filter', {
    'b/z.yaml': 'z\n',
    'a.yaml': 'a\n',
    'B.yaml': 'B\n',
    'big.yaml': 'x'.repeat(2000),
    'notes.txt': 'n\n',
    'c.json': '{}',
  });
  const snap = await read('filter', { maxFileBytes: 1000 });
  assert.equal(paths(snap), ['B.yaml', 'a.yaml', 'b/z.yaml', 'big.yaml']);
  const big = snap.files.find((f) => f.path === 'big.yaml')!;
  assert.equal([big.tooLarge, big.size, big.content.byteLength], [true, 2000, 0]);
  const json = await read('filter', { include: (p) => p.endsWith('.json') || p.endsWith('.txt') });
  assert.equal(paths(json), ['c.json', 'notes.txt']);
});

test('progress events are reported while fetching', async () => {
  await server.createRepo('progress', { 'a.yaml': 'a\n', 'b.yaml': 'b\n' });
  const phases = new Set<string>();
  await read('progress', { onProgress: (e) => phases.add(e.phase) });
  assert.ok(phases.size > 0, 'at least one progress phase');
});

async function corruptionCase(name: string, damage: (folder: string) => Promise<void>, expect: RegExp): Promise<void> {
  const first = await server.createRepo(name, { 'p.yaml': 'one\n' });
  await read(name);
  const folder = cacheFolderFor(cacheDir, server.url(name));
  await damage(folder);
  const snap = await read(name);
  assert.is(snap.commit, first.commit);
  assert.is(text(snap, 'p.yaml'), 'one\n');
  assert.is(snap.warnings.length, 1, snap.warnings.join('\n'));
  assert.match(snap.warnings[0]!, expect);
  assert.match(snap.warnings[0]!, 'rebuilt');
  const again = await read(name);
  assert.equal(again.warnings, [], 'the rebuilt cache is healthy');
}

async function onlyPack(folder: string): Promise<string> {
  const packs = (await readdir(join(folder, 'objects', 'pack'))).filter((n) => n.endsWith('.pack'));
  assert.is(packs.length, 1);
  return join(folder, 'objects', 'pack', packs[0]!);
}

test('a cache with a broken HEAD is rebuilt, with a warning instead of a failure', async () => {
  await corruptionCase(
    'broken-head',
    (folder) => writeFile(join(folder, 'HEAD'), 'garbage\n'),
    /HEAD is not a valid ref/,
  );
});

test('a cache with a truncated pack is rebuilt, with a warning instead of a failure', async () => {
  await corruptionCase(
    'truncated',
    async (folder) => {
      const pack = await onlyPack(folder);
      await truncate(pack, Math.floor((await stat(pack)).size / 2));
    },
    /truncated/,
  );
});

test('a cache whose objects are overwritten (checksums intact) is rebuilt when reading fails', async () => {
  await corruptionCase(
    'scrambled',
    async (folder) => {
      const pack = await onlyPack(folder);
      const size = (await stat(pack)).size;
      const handle = await open(pack, 'r+');
      try {
        await handle.write(Buffer.alloc(size - 32, 0x5a), 0, size - 32, 12);
      } finally {
        await handle.close();
      }
    },
    /could not be read/,
  );
});

test('two reads of the same remote at once share the cache folder one after the other', async () => {
  const { commit } = await server.createRepo('concurrent', { 'a.yaml': 'a\n' });
  const [one, two] = await Promise.all([read('concurrent'), read('concurrent')]);
  assert.equal([one.commit, two.commit], [commit, commit]);
  assert.equal([one.warnings, two.warnings], [[], []]);
  assert.not.ok(existsSync(`${cacheFolderFor(cacheDir, server.url('concurrent'))}.lock`), 'the lock is released');
});

test('a lock left by a process that is gone does not block reading', async () => {
  const { commit } = await server.createRepo('stale-lock', { 'a.yaml': 'a\n' });
  const lock = `${cacheFolderFor(cacheDir, server.url('stale-lock'))}.lock`;
  await mkdir(lock, { recursive: true });
  // 2^22 + 1 is above the largest pid Linux can hand out, so no process has it.
  await writeFile(join(lock, 'pid'), String(4_194_305));
  const snap = await read('stale-lock', { timeoutMs: 5000 });
  assert.is(snap.commit, commit);
  assert.not.ok(existsSync(lock));
});

test('a lock held by a live process makes the read fail with source-cache-locked after waiting', async () => {
  await server.createRepo('held-lock', { 'a.yaml': 'a\n' });
  const lock = `${cacheFolderFor(cacheDir, server.url('held-lock'))}.lock`;
  await mkdir(lock, { recursive: true });
  await writeFile(join(lock, 'pid'), String(process.pid));
  try {
    // The lock is waited for twice the request timeout. That timeout also bounds the ref listing before the lock,
    // which a loaded machine's git http-backend can take longer than 200 ms to answer (it once failed so in CI).
    const err = await sourceError(read('held-lock', { timeoutMs: 1500 }), 'source-cache-locked');
    assert.match(err.message, `process ${process.pid}`);
    assert.match(err.message, lock);
  } finally {
    await rm(lock, { recursive: true, force: true });
  }
});

test('a cache folder that cannot be written fails with source-cache-unusable', async () => {
  await server.createRepo('unwritable', { 'a.yaml': 'a\n' });
  const file = join(await tempDir('blocked'), 'a-file');
  await writeFile(file, 'not a folder\n');
  const err = await sourceError(
    fetchSource({ repo: server.url('unwritable'), cacheDir: join(file, 'cache') }),
    'source-cache-unusable',
  );
  assert.match(err.message, 'cache');
  assert.match(err.message, 'ENOTDIR');
});

test('a cache that has gathered many packs is started afresh, silently', async () => {
  await server.createRepo('crowded', { 'a.yaml': 'a\n' });
  await read('crowded');
  const folder = cacheFolderFor(cacheDir, server.url('crowded'));
  const pack = await onlyPack(folder);
  for (let i = 0; i <= MAX_PACKS; i += 1) {
    const copy = join(dirname(pack), `pack-${String(i).padStart(40, '0')}`);
    await copyFile(pack, `${copy}.pack`);
    await copyFile(pack.replace(/\.pack$/, '.idx'), `${copy}.idx`);
  }
  const commit = await server.commit('crowded', { 'a.yaml': 'b\n' });
  const snap = await read('crowded');
  assert.equal([snap.commit, snap.warnings], [commit, []]);
  await onlyPack(folder);
});

test.run();

// A fetch refuses a pack whose objects would inflate past the bound, from their headers, before isomorphic-git
// inflates or indexes any of it (source-too-large); the cache stays usable and the next good commit is read.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { GIB, commitBlob, commitRemoval, writeZeroBlobPack } from '../support/big-blob.js';
import { cacheFolderFor } from '../../src/source/index.js';
import { paths, remoteFixture, sourceError } from './source-fixture.js';

const remote = remoteFixture(test);
const { read } = remote;

const POLICY = { 'policies/web.yaml': 'kind: GlobalNetworkPolicy\n' };

test('a 1 GiB blob outside the policy path is refused from its header: source-too-large names it and its size', async () => {
  const good = await remote.server.createRepo('huge', POLICY);
  assert.is((await read('huge')).commit, good.commit);
  const gitdir = remote.server.repoPath('huge');
  const blob = await writeZeroBlobPack(gitdir, GIB);
  const bad = commitBlob(gitdir, 'main', 'assets/zeros.bin', blob, 'a 1 GiB blob');
  const rssBefore = process.memoryUsage().rss;
  const err = await sourceError(read('huge'), 'source-too-large');
  const grown = process.memoryUsage().rss - rssBefore;
  assert.match(err.message, new RegExp(`refused to fetch ${bad.slice(0, 12)} \\(branch main\\)`));
  assert.match(err.message, /is a blob of 1\.0 GiB \(1073741824 bytes\), over the 32\.0 MiB limit on one object/);
  // Refused from the header, not after inflating: the reader grew by far less than the blob.
  assert.ok(grown < 200 * 1024 * 1024, `RSS grew by ${grown} bytes`);
  const packs = (
    await readdir(join(cacheFolderFor(remote.cacheDir, remote.server.url('huge')), 'objects', 'pack'))
  ).filter((f) => f.endsWith('.pack'));
  assert.is(packs.length, 1, 'the refused pack was never written to the cache');
  // A force-push that drops the blob is read as usual from the same cache.
  const fixed = await remote.server.forcePush('huge', { ...POLICY, 'policies/db.yaml': 'kind: GlobalNetworkPolicy\n' });
  const snap = await read('huge');
  assert.is(snap.commit, fixed);
  assert.equal(paths(snap), ['policies/db.yaml', 'policies/web.yaml']);
});

test('a fix on top of the bad commit: the history fetched to prove descent holds the blob, and the message says so', async () => {
  const good = await remote.server.createRepo('history', POLICY);
  await read('history');
  const gitdir = remote.server.repoPath('history');
  const blob = await writeZeroBlobPack(gitdir, GIB);
  commitBlob(gitdir, 'main', 'assets/zeros.bin', blob, 'a 1 GiB blob');
  const fix = commitRemoval(gitdir, 'main', 'assets/zeros.bin', 'delete it again');
  // Without an applied commit only the head is fetched, and the head no longer holds the blob.
  assert.is((await read('history')).commit, fix);
  const err = await sourceError(read('history', { ancestor: good.commit }), 'source-too-large');
  assert.match(err.message, /is a blob of 1\.0 GiB/);
  assert.match(err.message, /in the history between the applied commit and the head.*rewriting the history does/);
});

test('the bounds are options: a lower object bound refuses a small blob, a pack bound refuses the whole pack', async () => {
  await remote.server.createRepo('bounds', { ...POLICY, 'data/blob.txt': 'x'.repeat(200_000) });
  const object = await sourceError(read('bounds', { maxObjectBytes: 100_000 }), 'source-too-large');
  assert.match(object.message, /is a blob of 195\.3 KiB \(200000 bytes\), over the 97\.7 KiB limit/);
  const pack = await sourceError(read('bounds', { maxPackBytes: 100 }), 'source-too-large');
  assert.match(pack.message, /the pack is larger than the 100 B limit \(--max-pack-bytes\)/);
  const snap = await read('bounds');
  assert.equal(paths(snap), ['policies/web.yaml']);
});

test.run();

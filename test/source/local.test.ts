// Local repositories (working tree and bare) read from their object store, and the failures a person can fix.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { fetchSource } from '../../src/source/index.js';
import { gitSync, paths, removeTempDirs, sourceError, tempDir, text } from './source-fixture.js';

test.after(async () => {
  await removeTempDirs();
});

async function write(dir: string, files: Record<string, string>): Promise<void> {
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), content);
  }
}

/** A working-tree repository on branch main with one commit of `files`; returns its folder and commit. */
async function workingRepo(files: Record<string, string>): Promise<{ dir: string; commit: string }> {
  const dir = await tempDir('local');
  gitSync(['init', '--quiet', '--initial-branch=main', dir], dir);
  await write(dir, files);
  gitSync(['add', '--all'], dir);
  gitSync(['commit', '--quiet', '--allow-empty', '-m', 'first'], dir);
  return { dir, commit: gitSync(['rev-parse', 'HEAD'], dir) };
}

function commitAll(dir: string, message: string): string {
  gitSync(['add', '--all'], dir);
  gitSync(['commit', '--quiet', '-m', message], dir);
  return gitSync(['rev-parse', 'HEAD'], dir);
}

test('a working-tree repository is read at HEAD from its objects: uncommitted edits are not seen', async () => {
  const { dir, commit } = await workingRepo({ 'policies/a.yaml': 'committed\n', 'README.md': 'r\n' });
  await writeFile(join(dir, 'policies/a.yaml'), 'edited on disk\n');
  await writeFile(join(dir, 'policies/untracked.yaml'), 'new\n');
  const snap = await fetchSource({ repo: dir });
  assert.equal([snap.kind, snap.repo, snap.ref, snap.refKind, snap.commit], ['local', dir, 'main', 'branch', commit]);
  assert.equal(paths(snap), ['policies/a.yaml']);
  assert.is(text(snap, 'policies/a.yaml'), 'committed\n');
});

test('a bare repository is read directly, and file: URLs name local repositories too', async () => {
  const { dir, commit } = await workingRepo({ 'a.yaml': 'a\n' });
  const bare = join(await tempDir('bare'), 'policies.git');
  gitSync(['clone', '--quiet', '--bare', dir, bare], dir);
  const snap = await fetchSource({ repo: bare });
  assert.equal([snap.kind, snap.commit, paths(snap)], ['local', commit, ['a.yaml']]);
  const viaUrl = await fetchSource({ repo: pathToFileURL(bare).href });
  assert.is(viaUrl.commit, commit);
  assert.is(viaUrl.repo, bare);
});

test('branches, tags, commit ids and sub-paths select what is read from a local repository', async () => {
  const { dir, commit: first } = await workingRepo({ 'p/a.yaml': 'v1\n', 'q/b.yaml': 'q\n' });
  gitSync(['tag', '-a', 'v1', '-m', 'v1'], dir);
  gitSync(['checkout', '--quiet', '-b', 'dev'], dir);
  await write(dir, { 'p/a.yaml': 'dev\n' });
  const dev = commitAll(dir, 'dev');
  gitSync(['checkout', '--quiet', 'main'], dir);

  const tag = await fetchSource({ repo: dir, ref: 'v1' });
  assert.equal([tag.ref, tag.refKind, tag.commit, text(tag, 'p/a.yaml')], ['v1', 'tag', first, 'v1\n']);
  const branch = await fetchSource({ repo: dir, ref: 'dev', path: 'p' });
  assert.equal([branch.ref, branch.commit, branch.subPath, paths(branch)], ['dev', dev, 'p', ['p/a.yaml']]);
  assert.is(text(branch, 'p/a.yaml'), 'dev\n');
  const abbrev = await fetchSource({ repo: dir, ref: dev.slice(0, 7) });
  assert.equal([abbrev.ref, abbrev.refKind, abbrev.commit], [null, 'commit', dev]);

  const missingPath = await sourceError(fetchSource({ repo: dir, path: 'r' }), 'source-path-not-found');
  assert.match(missingPath.message, 'p/, q/');
  const missingRef = await sourceError(fetchSource({ repo: dir, ref: 'prod' }), 'source-ref-not-found');
  assert.match(missingRef.message, 'branches: dev, main; tags: v1');
  await sourceError(fetchSource({ repo: dir, ref: 'f'.repeat(40) }), 'source-ref-not-found');
});

test('a name that is both a tag and a branch resolves to the tag, as git does, with a warning', async () => {
  const { dir, commit: first } = await workingRepo({ 'a.yaml': '1\n' });
  gitSync(['tag', 'release'], dir);
  gitSync(['checkout', '--quiet', '-b', 'release'], dir);
  await write(dir, { 'a.yaml': '2\n' });
  commitAll(dir, 'second');
  const snap = await fetchSource({ repo: dir, ref: 'release' });
  assert.equal([snap.refKind, snap.commit], ['tag', first]);
  assert.match(snap.warnings.join('\n'), 'both a tag and a branch');
});

test('a folder that is not a repository fails with source-not-a-repo and points at plain directory mode', async () => {
  const plain = await tempDir('plain');
  await write(plain, { 'a.yaml': 'a\n' });
  const err = await sourceError(fetchSource({ repo: plain }), 'source-not-a-repo');
  assert.match(err.message, 'not a Git repository');
  assert.match(err.message, 'leave the repository option out');
  const missing = await sourceError(fetchSource({ repo: join(plain, 'nope') }), 'source-not-a-repo');
  assert.match(missing.message, 'does not exist');
});

test('a repository without commits fails with source-empty-repo', async () => {
  const dir = await tempDir('empty');
  gitSync(['init', '--quiet', '--initial-branch=main', dir], dir);
  await sourceError(fetchSource({ repo: dir }), 'source-empty-repo');
});

test('HEAD pointing at a missing branch fails with source-dangling-head naming that branch', async () => {
  const { dir } = await workingRepo({ 'a.yaml': 'a\n' });
  gitSync(['symbolic-ref', 'HEAD', 'refs/heads/gone'], dir);
  const err = await sourceError(fetchSource({ repo: dir }), 'source-dangling-head');
  assert.match(err.message, 'refs/heads/gone');
  assert.match(err.message, 'branches: main');
  const explicit = await fetchSource({ repo: dir, ref: 'main' });
  assert.equal(paths(explicit), ['a.yaml'], 'an explicit ref still works locally');
});

test('a missing object in a local repository fails with source-corrupt-repo', async () => {
  const { dir } = await workingRepo({ 'a.yaml': 'content that goes missing\n' });
  const blob = gitSync(['rev-parse', 'HEAD:a.yaml'], dir);
  await rm(join(dir, '.git', 'objects', blob.slice(0, 2), blob.slice(2)));
  const err = await sourceError(fetchSource({ repo: dir }), 'source-corrupt-repo');
  assert.match(err.message, 'git fsck');
  assert.match(err.message, dir);
});

test('first-parent ancestry suffixes (HEAD~1, main^^) name older commits, and going too far back is an error', async () => {
  const { dir, commit: first } = await workingRepo({ 'a.yaml': 'v1\n' });
  await writeFile(join(dir, 'a.yaml'), 'v2\n');
  const second = commitAll(dir, 'second');
  await writeFile(join(dir, 'a.yaml'), 'v3\n');
  commitAll(dir, 'third');
  const back1 = await fetchSource({ repo: dir, ref: 'HEAD~1' });
  assert.equal([back1.commit, back1.ref, back1.refKind, text(back1, 'a.yaml')], [second, null, 'commit', 'v2\n']);
  assert.is((await fetchSource({ repo: dir, ref: 'main^^' })).commit, first);
  assert.is((await fetchSource({ repo: dir, ref: 'main~1^' })).commit, first);
  const err = await sourceError(fetchSource({ repo: dir, ref: 'HEAD~3' }), 'source-ref-not-found');
  assert.match(err.message, /HEAD~3 goes back 3 commits, but .* has only 2 before that one/);
});

test('the blob ids of a commit are listed before its files are read, and a caller that knows them skips the read', async () => {
  const { dir } = await workingRepo({
    'p/a.yaml': 'a\n',
    'p/.hidden/h.yaml': 'h\n',
    'p/b.yml': 'b\n',
    'q/c.yaml': 'c\n',
  });
  const oid = (path: string): string => gitSync(['rev-parse', `HEAD:${path}`], dir);
  // Hidden files are listed too (what the read would take before it selects), under the sub-path only.
  const listed = [
    { path: 'p/.hidden/h.yaml', oid: oid('p/.hidden/h.yaml') },
    { path: 'p/a.yaml', oid: oid('p/a.yaml') },
    { path: 'p/b.yml', oid: oid('p/b.yml') },
  ];
  const seen: unknown[] = [];
  const known = await fetchSource({ repo: dir, path: 'p/', skipContent: (read) => (seen.push(read), true) });
  assert.equal(seen, [{ subPath: 'p', blobs: listed }]);
  assert.equal([known.unread, known.files, known.blobs], [true, [], listed], 'nothing is read');

  const read = await fetchSource({ repo: dir, path: 'p', skipContent: () => false });
  assert.is(read.unread, undefined);
  assert.equal(paths(read), ['p/a.yaml', 'p/b.yml'], 'a refused listing reads and selects as always');
  assert.equal(read.blobs, listed);

  // The answer may come later (the host check runs programs side by side before it answers).
  const later = await fetchSource({ repo: dir, path: 'p', skipContent: () => Promise.resolve(true) });
  assert.equal([later.unread, later.files], [true, []], 'a promised yes reads nothing');
  const laterNo = await fetchSource({ repo: dir, path: 'p', skipContent: () => Promise.resolve(false) });
  assert.equal(paths(laterNo), ['p/a.yaml', 'p/b.yml'], 'a promised no reads as always');

  // One changed byte is another blob id.
  await writeFile(join(dir, 'p/a.yaml'), 'A\n');
  commitAll(dir, 'edit');
  const edited = await fetchSource({ repo: dir, path: 'p', skipContent: () => true });
  assert.not.equal(edited.blobs, listed);
  assert.is(edited.blobs?.find((b) => b.path === 'p/a.yaml')?.oid, oid('p/a.yaml'));
});

test.run();

// Plain directory mode: policy files read from disk (no repository), with paths as a person would type them.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fetchSource } from '../../src/source/index.js';
import { paths, removeTempDirs, sourceError, tempDir, text } from './source-fixture.js';

test.after(async () => {
  await removeTempDirs();
});

async function tree(files: Record<string, string>): Promise<string> {
  const root = await tempDir('dir');
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), content);
  }
  return root;
}

test('reads the YAML files of a folder, sorted, relative to the root, with no commit', async () => {
  const root = await tree({
    'policies/b.yaml': 'b\n',
    'policies/a/x.yml': 'x\n',
    'policies/notes.md': 'n\n',
    'policies/.git/config.yaml': 'no\n',
    'elsewhere.yaml': 'e\n',
  });
  const snap = await fetchSource({ path: 'policies', root });
  assert.equal(
    [snap.kind, snap.repo, snap.ref, snap.refKind, snap.commit, snap.subPath],
    ['directory', root, null, null, null, 'policies'],
  );
  assert.equal(paths(snap), ['policies/a/x.yml', 'policies/b.yaml']);
  assert.is(text(snap, 'policies/b.yaml'), 'b\n');
  assert.equal(snap.warnings, []);
});

test('without a root, paths are relative to the current directory', async () => {
  const snap = await fetchSource({ path: 'test/source', include: (p) => p.endsWith('directory.test.ts') });
  assert.is(snap.repo, resolve('.'));
  assert.equal(paths(snap), ['test/source/directory.test.ts']);
});

test('the example policy repository reads as a plain folder, as `notrack validate --path policies-example` does', async () => {
  const snap = await fetchSource({ path: 'policies-example' });
  assert.is(snap.subPath, 'policies-example');
  assert.ok(snap.files.length > 0, 'policies-example holds YAML files');
  assert.ok(snap.files.every((f) => f.path.startsWith('policies-example/') && /\.ya?ml$/.test(f.path)));
});

test('a folder outside the root is reported relative to itself', async () => {
  const root = await tree({ 'a.yaml': 'a\n' });
  const other = await tree({ 'sets/s.yaml': 's\n' });
  const snap = await fetchSource({ path: other, root });
  assert.equal([snap.repo, snap.subPath, paths(snap)], [other, '.', ['sets/s.yaml']]);
});

test('include, maxFileBytes and symbolic links behave as in a repository', async () => {
  const root = await tree({ 'a.yaml': 'a\n', 'big.yaml': 'x'.repeat(300), 'c.json': '{}' });
  await symlink(join(root, 'a.yaml'), join(root, 'link.yaml'));
  const snap = await fetchSource({ path: '.', root, maxFileBytes: 100 });
  assert.equal(paths(snap), ['a.yaml', 'big.yaml']);
  const big = snap.files[1]!;
  assert.equal([big.tooLarge, big.size, big.content.byteLength], [true, 300, 0]);
  assert.match(snap.warnings.join('\n'), 'link.yaml is a symbolic link and was skipped');
  const json = await fetchSource({ path: '.', root, include: (p) => p.endsWith('.json') });
  assert.equal(paths(json), ['c.json']);
});

test('a folder that does not exist fails with source-path-not-found', async () => {
  const root = await tree({});
  const err = await sourceError(fetchSource({ path: 'missing', root }), 'source-path-not-found');
  assert.match(err.message, join(root, 'missing'));
});

test.run();

// Only policy files are read: hidden folders (.github/) skipped, the path's .notrackignore honoured, and a path that
// is empty or holds no policy file is an error, not "valid: 0 files"; the same from a folder and from a commit.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fetchSource } from '../../src/source/index.js';
import { IgnoreRules } from '../../src/source/policy-selection.js';
import { gitSync, paths, removeTempDirs, sourceError, tempDir } from './source-fixture.js';

test.after(async () => {
  await removeTempDirs();
});

async function tree(files: Record<string, string>): Promise<string> {
  const root = await tempDir('select');
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), content);
  }
  return root;
}

const REPO = {
  'policy/edge.yaml': 'a\n',
  'policy/.github/workflows/ci.yml': 'on: push\n',
  'policy/.pre-commit-config.yaml': 'repos: []\n',
  'policy/drafts/wip.yaml': 'w\n',
  'policy/drafts/keep.yaml': 'k\n',
  'policy/vendor/x/other.yaml': 'o\n',
  'policy/sets/list.yaml': 's\n',
  'policy/.notrackignore': '# not policy\ndrafts/\n!drafts/keep.yaml\nvendor\n*.tmp.yaml\n',
  'policy/sets/old.tmp.yaml': 't\n',
};
const EXPECTED = ['policy/edge.yaml', 'policy/sets/list.yaml'];

test('hidden folders and files are skipped and .notrackignore is honoured, in a folder on disk', async () => {
  const root = await tree(REPO);
  const snap = await fetchSource({ path: 'policy', root });
  // drafts/ ignores the folder; a file inside an ignored folder stays ignored (as in gitignore).
  assert.equal(paths(snap), EXPECTED);
});

test('the same selection from a commit of a repository', async () => {
  const root = await tree(REPO);
  gitSync(['init', '--quiet', '--initial-branch=main'], root);
  gitSync(['add', '--all'], root);
  gitSync(['commit', '--quiet', '-m', 'policy'], root);
  const snap = await fetchSource({ repo: root, path: 'policy' });
  assert.equal(paths(snap), EXPECTED);
});

test('an empty --path is an error, and so is a path with no policy file (saying what was skipped)', async () => {
  const root = await tree({ 'policy/.github/ci.yml': 'x\n', 'policy/README.md': '#\n', 'policy/a.yaml': 'a\n' });
  await writeFile(join(root, 'policy/.notrackignore'), 'a.yaml\n');
  await sourceError(fetchSource({ path: '', root }), 'source-path-not-found');
  const e = await sourceError(fetchSource({ path: 'policy', root }), 'source-no-policy-files');
  assert.match(
    e.message,
    /no policy files \(\*\.yaml, \*\.yml\) under policy of .* \(skipped: 1 in hidden folders, 1 named in policy\/\.notrackignore\)/,
  );
  await sourceError(fetchSource({ path: 'missing', root }), 'source-path-not-found');
});

test('gitignore patterns: anchored, any depth, **, negation, the last match wins', () => {
  const rules = new IgnoreRules('/top.yaml\n**/gen/\nx/**/y.yaml\n*.bak.yaml\n!keep.bak.yaml\n');
  const cases: [string, boolean][] = [
    ['top.yaml', true],
    ['a/top.yaml', false],
    ['a/gen/b.yaml', true],
    ['gen/b.yaml', true],
    ['x/y.yaml', true],
    ['x/1/2/y.yaml', true],
    ['z/x/y.yaml', false],
    ['deep/old.bak.yaml', true],
    ['deep/keep.bak.yaml', false],
  ];
  for (const [path, ignored] of cases) assert.is(rules.ignores(path), ignored, path);
});

test.run();

// The cache folder's memo of commits and trees (src/source/tree-memo.ts): a reconcile that needs only blob ids opens
// no pack, a README commit reads only the new pack, and a torn or edited memo is ignored.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { promises as fsp } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startGitServer, type GitServer } from '../support/git-server.js';
import { cacheFolderFor, fetchSource, type SourceOptions, type PolicyBlob } from '../../src/source/index.js';
import { removeTempDirs, tempDir, text } from './source-fixture.js';

let server: GitServer;
let cacheDir: string;

test.before(async () => {
  server = await startGitServer();
  cacheDir = await tempDir('memo-cache');
});

test.after(async () => {
  await server.stop();
  await removeTempDirs();
});

const FILES = {
  'policies/web.yaml': 'kind: GlobalNetworkPolicy\n',
  'sets/deny.yaml': 'kind: GlobalNetworkSet\n',
  'README.md': '# policies\n',
};

const read = (name: string, opts: Omit<SourceOptions, 'repo' | 'cacheDir'> = {}) =>
  fetchSource({ repo: server.url(name), cacheDir, ...opts });

/** A read that stops at the blob ids (what the reconciler's unchanged-policy check does), recording them. */
async function listOnly(name: string, opts: Omit<SourceOptions, 'repo' | 'cacheDir'> = {}) {
  let listed: readonly PolicyBlob[] = [];
  const snap = await read(name, {
    ...opts,
    skipContent: ({ blobs }) => {
      listed = blobs;
      return true;
    },
  });
  return { snap, listed: listed.map((b) => `${b.path} ${b.oid}`) };
}

/** POST bodies sent to git-upload-pack for one repository since request number `from`. */
function uploadPacks(name: string, from: number): string[] {
  return server.requests
    .slice(from)
    .filter((r) => r.method === 'POST' && r.path === `/${name}.git/git-upload-pack`)
    .map((r) => r.body?.toString('latin1') ?? '');
}

/**
 * Overwrites the objects of every pack in a cache folder, keeping its header and checksum (so the folder still looks
 * healthy): any object read from them fails, and the reader rebuilds the cache with a warning. Returns a function
 * that puts the packs back.
 */
async function scramblePacks(name: string): Promise<() => Promise<void>> {
  const dir = join(cacheFolderFor(cacheDir, server.url(name)), 'objects', 'pack');
  const packs = (await readdir(dir)).filter((f) => f.endsWith('.pack')).map((f) => join(dir, f));
  const saved = await Promise.all(packs.map((p) => readFile(p)));
  for (const [i, p] of packs.entries()) {
    const bytes = Buffer.from(saved[i]!);
    bytes.fill(0x5a, 12, bytes.length - 20);
    await writeFile(p, bytes);
  }
  return async () => {
    for (const [i, p] of packs.entries()) await writeFile(p, saved[i]!);
  };
}

test('an unchanged branch whose blob ids are all a reconcile needs is listed without opening a pack', async () => {
  await server.createRepo('memo-same', FILES);
  const first = await listOnly('memo-same');
  assert.equal(first.listed.length, 2, 'the two YAML files');
  const restore = await scramblePacks('memo-same');
  try {
    const mark = server.requests.length;
    const again = await listOnly('memo-same');
    assert.equal(uploadPacks('memo-same', mark), [], 'nothing fetched again: only the refs were listed');
    assert.ok(again.snap.unread, 'the files were not read');
    assert.equal(again.snap.warnings, [], 'the cache was not found unreadable and rebuilt');
    assert.is(again.snap.commit, first.snap.commit);
    assert.equal(again.listed, first.listed, 'the same blob ids, with every pack unreadable');
  } finally {
    await restore();
  }
  // The content is still read from the store when it is wanted.
  const full = await read('memo-same');
  assert.is(text(full, 'sets/deny.yaml'), FILES['sets/deny.yaml']);
});

test('after a commit that changes no policy file, the old pack is not opened: the folders come from the memo', async () => {
  await server.createRepo('memo-readme', FILES);
  const first = await listOnly('memo-readme');
  // The packs fetched so far (the policy files' trees and blobs) are made unreadable; only the new commit's pack is
  // read.
  const restore = await scramblePacks('memo-readme');
  try {
    const head = await server.commit('memo-readme', { 'README.md': '# changed\n' });
    const mark = server.requests.length;
    const after = await listOnly('memo-readme', { ancestor: first.snap.commit! });
    const [body, ...more] = uploadPacks('memo-readme', mark);
    assert.equal(more, [], 'one fetch');
    assert.match(body!, `have ${first.snap.commit}`);
    assert.not.match(body!, /deepen/, 'the cached tip is known without its pack: only what is new is fetched');
    assert.equal([after.snap.commit, after.snap.ancestry], [head, 'descends']);
    assert.equal(after.listed, first.listed, 'the policy files have the same blob ids');
    assert.equal(after.snap.warnings, [], 'the cache was not found unreadable and rebuilt');
  } finally {
    await restore();
  }
});

/** Runs `fn` and returns it with the pack files read (whole, as isomorphic-git loads a pack) while it ran. */
async function packsRead<T>(fn: () => Promise<T>): Promise<{ result: T; packs: string[] }> {
  const original = fsp.readFile;
  const packs: string[] = [];
  fsp.readFile = ((file: Parameters<typeof original>[0], ...rest: unknown[]) => {
    if (String(file).endsWith('.pack')) packs.push(String(file));
    return (original as (...a: unknown[]) => unknown).call(fsp, file, ...rest);
  }) as typeof original;
  try {
    return { result: await fn(), packs };
  } finally {
    fsp.readFile = original;
  }
}

test('a new commit is read from the fetch itself: its commit, trees and changed file never from a pack', async () => {
  await server.createRepo('memo-fetched', FILES);
  const first = await read('memo-fetched');
  const head = await server.commit('memo-fetched', { 'sets/deny.yaml': 'kind: GlobalNetworkSet\nnets: []\n' });
  // The unchanged file is known already (as the parse cache knows it): only the changed one is read.
  const known = new Uint8Array(0);
  const { result: snap, packs } = await packsRead(() =>
    read('memo-fetched', {
      ancestor: first.commit!,
      knownFile: (b) => (b.path === 'policies/web.yaml' ? { path: b.path, content: known, size: 0 } : undefined),
    }),
  );
  assert.equal([snap.commit, snap.ancestry], [head, 'descends']);
  assert.is(text(snap, 'sets/deny.yaml'), 'kind: GlobalNetworkSet\nnets: []\n');
  assert.is(snap.files.find((f) => f.path === 'policies/web.yaml')?.content, known);
  assert.equal(packs, [], 'no pack was loaded: the ancestry walk, the tree walk and the file came from the fetch');
  assert.equal(snap.warnings, []);
});

test('trees read from the fetch list what git lists: folders beside files, dotted and non-ASCII names, modes', async () => {
  const files = {
    'p/a.yaml': 'a: 1\n',
    'p/a/x.yaml': 'x: 1\n',
    'p/a-b.yaml': 'ab: 1\n',
    'p/A.yaml': 'A: 1\n',
    'p/.hidden/h.yaml': 'h: 1\n',
    'p/dé.yaml': 'd: 1\n',
    'p/z.yml': 'z: 1\n',
  };
  await server.createRepo('memo-names', files);
  const check = async (label: string) => {
    const { snap, listed } = await listOnly('memo-names');
    const lsTree = await server.git('memo-names', ['-c', 'core.quotePath=false', 'ls-tree', '-r', snap.commit!]);
    const gitBlobs = lsTree
      .trim()
      .split('\n')
      .map((l) => /^\d+ blob ([0-9a-f]{40})\t(.*)$/.exec(l)!)
      .map((m) => `${m[2]} ${m[1]}`)
      .sort();
    assert.equal([...listed].sort(), gitBlobs, label);
  };
  await check('the first fetch');
  await server.commit('memo-names', { 'p/a/x.yaml': 'x: 2\n', 'p/dé.yaml': 'd: 2\n' });
  await check('a later fetch of what changed');
});

test('a torn or edited memo is ignored: the listing comes from the object store', async () => {
  await server.createRepo('memo-torn', FILES);
  const first = await listOnly('memo-torn');
  const memo = join(cacheFolderFor(cacheDir, server.url('memo-torn')), 'notrack-trees.json');
  for (const body of [
    '{"version":1,"commits":{"',
    JSON.stringify({ version: 2, commits: { [first.snap.commit!]: 'not-a-commit' }, trees: { x: [] } }),
    JSON.stringify({ version: 99, commits: {}, trees: {} }),
  ]) {
    await writeFile(memo, body);
    const again = await listOnly('memo-torn');
    assert.equal(again.listed, first.listed, body.slice(0, 40));
    const full = await read('memo-torn');
    assert.is(text(full, 'policies/web.yaml'), FILES['policies/web.yaml']);
  }
});

test('an edited memo entry is never used: a commit given another tree, a tree without one of its files', async () => {
  await server.createRepo('memo-edited', FILES);
  const first = await listOnly('memo-edited');
  const file = join(cacheFolderFor(cacheDir, server.url('memo-edited')), 'notrack-trees.json');
  const saved = JSON.parse(await readFile(file, 'utf8')) as {
    version: number;
    commits: Record<string, string>;
    trees: Record<string, [string, string, string, string][]>;
  };
  const commit = first.snap.commit!;
  const content = Buffer.from(saved.commits[commit]!, 'base64').toString('latin1');
  const rootTree = /^tree ([0-9a-f]{40})/.exec(content)![1]!;
  const policiesTree = saved.trees[rootTree]!.find((e) => e[1] === 'policies')![2];
  const edits = {
    // The commit's object names another tree (as an older commit's would): its id no longer matches.
    'commit pointing elsewhere': {
      ...saved,
      commits: { [commit]: Buffer.from(content.replace(rootTree, policiesTree), 'latin1').toString('base64') },
    },
    // The root tree without the folder of the deny list.
    'tree missing a folder': {
      ...saved,
      trees: { ...saved.trees, [rootTree]: saved.trees[rootTree]!.filter((e) => e[1] !== 'sets') },
    },
  };
  for (const [what, memo] of Object.entries(edits)) {
    await writeFile(file, JSON.stringify(memo));
    const again = await listOnly('memo-edited');
    assert.equal(again.listed, first.listed, what);
    assert.ok(
      again.listed.some((l) => l.startsWith('sets/deny.yaml ')),
      `${what}: the deny list is still listed`,
    );
  }
});

test.run();

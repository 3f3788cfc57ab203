// The parse cache by blob id, on a real Git repository: after a one-file change only that file is inflated and
// parsed and the host compiles to the same state as a cold read; a torn or edited entry is parsed again; a warning
// in a cached file (YAML and a scanned set file) still names its line.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fetchSource } from '../../src/source/index.js';
import { parseDocuments } from '../../src/model/documents.js';
import { loadResources } from '../../src/model/load-resources.js';
import { formatDiagnostic } from '../../src/model/diagnostics.js';
import { compileHost } from '../../src/compile/compile-host.js';
import { entryTag, PersistedParseCache } from '../../src/reconcile/parse-cache.js';
import { fetchDesired } from '../../src/reconcile/host-reconciler.js';
import { COMPILER_TAG } from '../../src/reconcile/source-digest.js';
import { gitIn } from '../support/git-repo.js';
import { hostEndpoint, untrackedPolicy } from '../support/resource-documents.js';

const dirs: string[] = [];
const temp = (tag: string): string => {
  const d = mkdtempSync(path.join(tmpdir(), `notrack-parse-cache-${tag}-`));
  dirs.push(d);
  return d;
};
test.after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const HOST = 'edge-1';
/** A set file in the scanner's shape (over its 64 KiB threshold): 5,000 /32s, one with host bits on line 9 + at. */
function bigSet(first: string, hostBitsAt = 2000): string {
  const nets = Array.from({ length: 5000 }, (_, i) =>
    i === 0 ? first : i === hostBitsAt ? '10.200.0.1/24' : `10.${100 + (i >> 8)}.${i & 255}.1/32`,
  );
  return (
    'apiVersion: projectcalico.org/v3\nkind: GlobalNetworkSet\nmetadata:\n  name: big\n  labels:\n    list: deny\n' +
    `spec:\n  nets:\n${nets.map((n) => `    - ${n}\n`).join('')}`
  );
}
/** A small set in plain YAML, a host-bits net on line 9. */
const SMALL =
  'apiVersion: projectcalico.org/v3\nkind: GlobalNetworkSet\nmetadata:\n  name: small\n  labels:\n    list: deny\n' +
  'spec:\n  nets:\n    - 192.0.2.7/24\n    - 198.51.100.0/24\n';
const POLICY = JSON.stringify(
  untrackedPolicy('deny-lists', {
    selector: "role == 'edge'",
    types: ['Ingress'],
    ingress: [{ action: 'Deny', source: { selector: "list == 'deny'" } }],
  }),
);
const HOSTS = JSON.stringify(hostEndpoint('edge-1-eth0', HOST, { interfaceName: 'eth0' }, { role: 'edge' }));

function repository(): { repo: string; commit: (files: Record<string, string>) => void } {
  const repo = temp('repo');
  const git = gitIn(() => repo);
  git(['init', '--quiet', '--initial-branch=main']);
  return {
    repo,
    commit: (files) => {
      for (const [p, text] of Object.entries(files)) {
        mkdirSync(path.dirname(path.join(repo, p)), { recursive: true });
        writeFileSync(path.join(repo, p), text);
      }
      git(['add', '--all']);
      git(['commit', '--quiet', '-m', 'change']);
    },
  };
}

/**
 * What fetchDesired does with a cache, with the parses counted by file: `parsed` by the read (prepare), `positioned`
 * later, when a diagnostic in a cached file needs a position.
 */
async function readCached(repo: string, dir: string, valid = true) {
  const cache = new PersistedParseCache(dir);
  const parsed: string[] = [];
  const positioned: string[] = [];
  let reading = true;
  const snap = await fetchSource({ repo, ref: 'main', knownFile: cache.known });
  cache.prepare(
    (files, limits, c) => {
      (reading ? parsed : positioned).push(...files.map((f) => f.path));
      return parseDocuments(files, limits, c);
    },
    snap.files,
    snap.blobs!,
  );
  reading = false;
  const loaded = loadResources(snap.files, undefined, cache.parsed);
  cache.keep(loaded.validKinds);
  if (valid) assert.ok(loaded.valid, loaded.diagnostics.map(formatDiagnostic).join('\n'));
  return {
    parsed,
    positioned,
    inflated: snap.files.filter((f) => f.content.length > 0).map((f) => f.path),
    hash: valid ? compileHost(loaded.resources, HOST).hash : '',
    warnings: loaded.diagnostics.map(formatDiagnostic),
  };
}

/** The same revision read and compiled with no cache at all. */
async function readCold(repo: string, valid = true) {
  const snap = await fetchSource({ repo, ref: 'main' });
  const loaded = loadResources(snap.files);
  return {
    hash: valid ? compileHost(loaded.resources, HOST).hash : '',
    warnings: loaded.diagnostics.map(formatDiagnostic),
  };
}

const FILES = {
  'hosts/edge.yaml': HOSTS,
  'policies/deny.yaml': POLICY,
  'sets/small.yaml': SMALL,
  'sets/big.yaml': bigSet('10.9.9.9/32'),
};

test('after a one-file change only that file is inflated and parsed; the state equals a cold read', async () => {
  const { repo, commit } = repository();
  const dir = temp('cache');
  commit(FILES);
  const first = await readCached(repo, dir);
  assert.equal(first.parsed, ['hosts/edge.yaml', 'policies/deny.yaml', 'sets/big.yaml', 'sets/small.yaml']);
  assert.is(first.hash, (await readCold(repo)).hash);

  const again = await readCached(repo, dir);
  assert.equal([again.parsed, again.inflated], [[], []], 'nothing changed: nothing inflated, nothing parsed');
  assert.is(again.hash, first.hash);

  commit({ 'sets/big.yaml': bigSet('10.9.9.10/32') });
  const changed = await readCached(repo, dir);
  assert.equal(changed.parsed, ['sets/big.yaml'], 'the changed file only');
  assert.equal(changed.inflated, ['sets/big.yaml']);
  const cold = await readCold(repo);
  assert.is(changed.hash, cold.hash, 'the same DesiredState as a cold read');
  assert.is.not(changed.hash, first.hash);
  assert.equal(changed.warnings, cold.warnings);
  // Bounded: the entry of the blob no commit read names any more is gone (four files, two files each).
  assert.is(readdirSync(dir).length, 8);
});

test('a cached file warns at the same line and column as a parsed one (YAML and a scanned set file)', async () => {
  const { repo, commit } = repository();
  const dir = temp('cache');
  commit(FILES);
  const cold = await readCold(repo);
  await readCached(repo, dir);
  const cached = await readCached(repo, dir);
  assert.equal(cached.parsed, []);
  assert.equal(cached.positioned, ['sets/big.yaml', 'sets/small.yaml'], 'parsed for positions, as the warnings ask');
  assert.equal(cached.warnings, cold.warnings);
  assert.ok(
    cached.warnings.some((w) => w.startsWith('sets/small.yaml:9:') && /192\.0\.2\.7\/24 has host bits/.test(w)),
    cached.warnings.join('\n'),
  );
  assert.ok(
    cached.warnings.some((w) => w.startsWith('sets/big.yaml:2009:') && /10\.200\.0\.1\/24 has host bits/.test(w)),
    cached.warnings.join('\n'),
  );
});

/** An entry with its JSON head line changed by `edit` and its checksum line made again to fit. */
function resealed(entry: Buffer, edit: (head: string) => string): Buffer {
  const eol = entry.indexOf(10);
  const body = entry.subarray(eol + 1);
  const headEnd = body.indexOf(10);
  const head = edit(body.toString('utf8', 0, headEnd));
  assert.is.not(head, body.toString('utf8', 0, headEnd), 'the edit changed the head');
  const newBody = Buffer.concat([Buffer.from(head), body.subarray(headEnd)]);
  const magic = entry.toString('latin1', 0, eol).split(' ')[0];
  return Buffer.concat([Buffer.from(`${magic} ${createHash('sha256').update(newBody).digest('hex')}\n`), newBody]);
}

test("a torn, edited, foreign or older notrack's entry is never used: the file is parsed again, the state is the same", async () => {
  const { repo, commit } = repository();
  const dir = temp('cache');
  commit(FILES);
  const first = await readCached(repo, dir);
  const entries = readdirSync(dir).filter((n) => n.endsWith('.parsed'));
  const big = entries.find((n) => readFileSync(path.join(dir, n)).includes('"name":"big"'))!;
  const small = entries.find((n) => readFileSync(path.join(dir, n)).includes('"name":"small"'))!;
  const good = readFileSync(path.join(dir, big));
  const edited = Buffer.from(good);
  const at = edited.length - 5000 * 2 - 10; // one address bit of a packed net
  edited.writeUInt8(edited.readUInt8(at) ^ 1, at);
  const cases: [string, Buffer][] = [
    ['torn', good.subarray(0, good.length - 100)],
    ['edited', edited],
    // Another blob's entry under this blob's name: its checksum holds, the blob id it names does not.
    ['foreign', readFileSync(path.join(dir, small))],
    // A document's mark of validity (its kind) taken off by hand, checksum not made again.
    ['unmarked by hand', Buffer.from(good.toString('latin1').replace(',"kind":"GlobalNetworkSet"}]', '}]'), 'latin1')],
    // Written by a notrack whose parser or compiler differs (another COMPILER_TAG), checksum made again: not used.
    ['older notrack', resealed(good, (head) => head.replace(`"tag":"${entryTag()}"`, '"tag":"notrack-compile-0"'))],
    // The same COMPILER_TAG with other schema files (a release that changed a schema without bumping the tag): its
    // marks say "passed those schemas", so the entry is not used.
    [
      'other schemas',
      resealed(good, (head) =>
        head.replace(`"tag":"${entryTag()}"`, `"tag":"${COMPILER_TAG} schemas ${'0'.repeat(64)}"`),
      ),
    ],
  ];
  for (const [what, bytes] of cases) {
    writeFileSync(path.join(dir, big), bytes);
    const r = await readCached(repo, dir);
    assert.equal(r.parsed, ['sets/big.yaml'], `a ${what} entry`);
    assert.is(r.hash, first.hash);
    assert.equal(readFileSync(path.join(dir, big)), good, `the ${what} entry was written again`);
  }
});

/** The heads of a cache folder's entries, by the name of their first document. */
function entryHeads(
  dir: string,
): Map<string, { documents: { value: { metadata?: { name?: string } }; kind?: string }[] }> {
  const heads = new Map();
  for (const n of readdirSync(dir).filter((x) => x.endsWith('.parsed'))) {
    const lines = readFileSync(path.join(dir, n), 'latin1').split('\n');
    const head = JSON.parse(Buffer.from(lines[1]!, 'latin1').toString('utf8'));
    heads.set(head.documents[0]?.value?.metadata?.name ?? n, head);
  }
  return heads;
}

/** A policy whose rule has a field the schema refuses, and a document of a kind notrack reads past (a notice). */
const BAD_POLICY = JSON.stringify(
  untrackedPolicy('bad', { ingress: [{ action: 'Deny', source: { nets: ['10.0.0.0/8'] }, colour: 'red' }] }),
);
const OTHER_KIND =
  'apiVersion: projectcalico.org/v3\nkind: Tier\nmetadata:\n  name: t\nspec: {}\n---\n' +
  'apiVersion: projectcalico.org/v3\nkind: GlobalNetworkSet\nmetadata:\n  name: beside\nspec:\n  nets: [192.0.2.0/24]\n';

test("documents that validated clean are marked in their entry and skip those checks; the diagnostics stay a cold load's", async () => {
  const { repo, commit } = repository();
  const dir = temp('cache');
  commit(FILES);
  await readCached(repo, dir);
  const marks = [...entryHeads(dir)].map(([name, h]) => [name, h.documents.map((d) => d.kind)]);
  assert.equal(
    marks.sort(),
    [
      ['big', ['GlobalNetworkSet']],
      ['deny-lists', ['GlobalNetworkPolicy']],
      ['edge-1-eth0', ['HostEndpoint']],
      ['small', ['GlobalNetworkSet']],
    ],
    'every document of a valid repository is marked with its kind',
  );
  const again = await readCached(repo, dir);
  assert.equal(again.parsed, []);
  assert.equal(again.warnings, (await readCold(repo)).warnings, 'the same warnings (host bits, from the set checks)');

  // An invalid repository: the invalid document and the one of a kind notrack reads past are never marked, and a
  // load from the cache says exactly what a cold load says, once and again.
  commit({ 'policies/bad.yaml': BAD_POLICY, 'other.yaml': OTHER_KIND });
  const cold = await readCold(repo, false);
  assert.ok(
    cold.warnings.some((w) => w.startsWith('policies/bad.yaml') && /colour/.test(w)),
    cold.warnings.join('\n'),
  );
  assert.ok(
    cold.warnings.some((w) => w.startsWith('other.yaml:2:') && /Tier is not read/.test(w)),
    cold.warnings.join('\n'),
  );
  const first = await readCached(repo, dir, false);
  assert.equal(first.parsed, ['other.yaml', 'policies/bad.yaml']);
  assert.equal(first.warnings, cold.warnings);
  const heads = entryHeads(dir);
  assert.equal(
    heads.get('bad')!.documents.map((d) => d.kind),
    [undefined],
    'an invalid document is not marked',
  );
  assert.equal(
    heads.get('t')!.documents.map((d) => d.kind),
    [undefined, 'GlobalNetworkSet'],
    'per document',
  );
  const cached = await readCached(repo, dir, false);
  assert.equal(cached.parsed, []);
  assert.equal(cached.warnings, cold.warnings, 'the same diagnostics, at the same places, from the cache');
});

test('a mark is what skips the checks: a value marked in a resealed entry is taken at its word, unmarked it is checked', async () => {
  // The entry's checksum, blob id and COMPILER_TAG are what the cache trusts, for the parsed values as for the mark:
  // an entry resealed by hand with a value the schema refuses shows that a marked document is not checked again.
  const { repo, commit } = repository();
  const dir = temp('cache');
  commit(FILES);
  await readCached(repo, dir);
  const name = readdirSync(dir).find(
    (n) => readFileSync(path.join(dir, n)).includes('"name":"deny-lists"') && n.endsWith('.parsed'),
  )!;
  const good = readFileSync(path.join(dir, name));
  const colour = (head: string) => head.replace('"action":"Deny"', '"action":"Deny","colour":"red"');
  writeFileSync(path.join(dir, name), resealed(good, colour));
  const marked = await readCached(repo, dir, false);
  assert.equal(marked.parsed, [], 'the entry was used');
  assert.not.ok(
    marked.warnings.some((w) => /colour/.test(w)),
    'marked: the schema check did not run',
  );
  writeFileSync(
    path.join(dir, name),
    resealed(good, (h) => colour(h).replace(',"kind":"GlobalNetworkPolicy"}]', '}]')),
  );
  const unmarked = await readCached(repo, dir, false);
  assert.equal(unmarked.parsed, [], 'the entry was used');
  assert.ok(
    unmarked.warnings.some((w) => /colour/.test(w)),
    'unmarked: the schema check ran and refused it',
  );
});

test('a set file whose nets alone changed takes its mark from the old blob: same value, no schema check', async () => {
  const { repo, commit } = repository();
  const dir = temp('cache');
  commit(FILES);
  await readCached(repo, dir);
  const bigEntry = (): string =>
    readdirSync(dir).find((n) => n.endsWith('.parsed') && readFileSync(path.join(dir, n)).includes('"name":"big"'))!;
  // The old blob's entry says (resealed by hand) that its document, with a field the schema refuses, validated clean:
  // the new blob's document has that very value, so it is taken as marked and not checked.
  const old = bigEntry();
  const colour = (head: string) => head.replace('"name":"big"', '"name":"big","colour":"red"');
  writeFileSync(path.join(dir, old), resealed(readFileSync(path.join(dir, old)), colour));
  commit({ 'sets/big.yaml': bigSet('10.9.9.10/32').replace('  name: big\n', '  name: big\n  colour: red\n') });
  const cold = await readCold(repo, false);
  assert.ok(
    cold.warnings.some((w) => /colour/.test(w)),
    cold.warnings.join('\n'),
  );
  const changed = await readCached(repo, dir, false);
  assert.equal(changed.parsed, ['sets/big.yaml'], 'the changed file was parsed');
  assert.not.ok(
    changed.warnings.some((w) => /colour/.test(w)),
    'the same value as a marked one: not checked again',
  );
  assert.ok(
    changed.warnings.some((w) => w.startsWith('sets/big.yaml:2010:') && /host bits/.test(w)),
    'taken as valid, its own checks ran: ' + changed.warnings.join('\n'),
  );

  // Without the hand-made mark: the changed set file's value differs from every marked one, so it is checked.
  commit({ 'sets/big.yaml': bigSet('10.9.9.11/32').replace('  name: big\n', '  name: big\n  colour: blue\n') });
  const checked = await readCached(repo, dir, false);
  assert.equal(checked.warnings, (await readCold(repo, false)).warnings);

  // A nets-only change of a valid set file: marked from the old entry, and marked in its own entry in turn.
  commit({ 'sets/big.yaml': bigSet('10.9.9.12/32') });
  const valid = await readCached(repo, dir);
  assert.equal(valid.warnings, (await readCold(repo)).warnings);
  const head = readFileSync(path.join(dir, bigEntry()), 'utf8').split('\n')[1]!;
  assert.equal(
    (JSON.parse(head) as { documents: { kind?: string }[] }).documents.map((d) => d.kind),
    ['GlobalNetworkSet'],
  );
});

test('an ignore file whose bytes equal a cached policy file is still read as the ignore file', async () => {
  const { repo, commit } = repository();
  const dir = temp('cache');
  // `extra.yaml` holds exactly the text the ignore file will hold (one blob id for both): a document that parses
  // (so it is cached) and fails validation.
  commit({ ...FILES, 'extra.yaml': 'sets/small.yaml\n' });
  await readCached(repo, dir, false);
  rmSync(path.join(repo, 'extra.yaml'));
  commit({ '.notrackignore': 'sets/small.yaml\n' });
  const r = await readCached(repo, dir);
  assert.not.ok(
    r.warnings.some((w) => w.startsWith('sets/small.yaml')),
    `sets/small.yaml is ignored: ${r.warnings.join('\n')}`,
  );
});

test('a file with a value JSON cannot carry (.inf, .nan, -0.0) is not kept: it is parsed each time', async () => {
  const { repo, commit } = repository();
  const dir = temp('cache');
  const odd = (value: string) =>
    `apiVersion: projectcalico.org/v3\nkind: GlobalNetworkSet\nmetadata:\n  name: odd\n  labels:\n    weight: x\n  annotations: {}\nspec:\n  nets: []\n  extra: ${value}\n`;
  for (const value of ['.inf', '-.Inf', '.nan', '-0.0']) {
    commit({ ...FILES, 'sets/odd.yaml': odd(value) });
    const cold = await readCold(repo);
    await readCached(repo, dir, false);
    const again = await readCached(repo, dir, false);
    assert.equal(again.parsed, ['sets/odd.yaml'], `${value}: parsed again`);
    assert.equal(again.warnings, cold.warnings, `${value}: the same diagnostics as a cold read`);
  }
});

test('a YAML 1.1 value that JSON would turn into another (a timestamp) is never kept nor taken for a marked one', async () => {
  // The `yaml` library reads a file with an anchor, and under `%YAML 1.1` an unquoted 2001-12-14 is a Date, whose
  // JSON is the text of a valid selector: its value must not inherit that text's mark, nor be kept as that text.
  const { repo, commit } = repository();
  const dir = temp('cache');
  const policy = (head: string, selector: string) =>
    `${head}apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata:\n  name: &n stamp\nspec:\n` +
    `  selector: ${selector}\n  doNotTrack: true\n  applyOnForward: true\n  ingress:\n  - action: Deny\n` +
    `    source:\n      nets: [10.0.0.0/8]\n`;
  commit({ ...FILES, 'policies/stamp.yaml': policy('', '"2001-12-14T00:00:00.000Z"') });
  await readCached(repo, dir, false);
  assert.ok(
    [...entryHeads(dir).values()].some((h) => h.documents.some((d) => d.kind === 'GlobalNetworkPolicy')),
    'the text selector was marked',
  );
  commit({ 'policies/stamp.yaml': policy('%YAML 1.1\n---\n', '2001-12-14') });
  const cold = await readCold(repo, false);
  assert.ok(
    cold.warnings.some((w) => w.startsWith('policies/stamp.yaml') && /selector/.test(w) && /string/.test(w)),
    cold.warnings.join('\n'),
  );
  const cached = await readCached(repo, dir, false);
  assert.equal(cached.warnings, cold.warnings, 'checked as a cold load checks it');
  const again = await readCached(repo, dir, false);
  assert.ok(again.parsed.includes('policies/stamp.yaml'), 'not kept: parsed each time');
  assert.equal(again.warnings, cold.warnings);
});

test('fetchDesired with the cache: the same state as without it, and again from the cache', async () => {
  const { repo, commit } = repository();
  const dir = temp('cache');
  commit(FILES);
  const opts = { source: { repo, ref: 'main' }, host: HOST };
  const cold = await fetchDesired(opts);
  const [once, twice] = [
    await fetchDesired({ ...opts, parseCacheDir: dir }),
    await fetchDesired({ ...opts, parseCacheDir: dir }),
  ];
  assert.ok(cold.ok && once.ok && twice.ok);
  assert.is(once.state.hash, cold.state.hash);
  assert.is(twice.state.hash, cold.state.hash);
  assert.equal(twice.warnings, cold.warnings);
});

test.run();

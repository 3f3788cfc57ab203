// A plan's base shares with its head what both hold alike: files with the same blob at the same path are the head's
// objects (parsed once), the base's sets from them are the head's sets, and the plan made that way is the plan made
// from two separate parses, on a real Git repository with a changed, a renamed and an unchanged file.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fetchSource, type SourceSnapshot } from '../../src/source/index.js';
import { loadResources } from '../../src/model/load-resources.js';
import {
  DEFAULT_DOCUMENT_LIMITS,
  parseDocuments,
  type DocumentLimits,
  type ParseCache,
  type PolicyFile,
} from '../../src/model/documents.js';
import type { ResourceSet } from '../../src/model/resources.js';
import { compileAll } from '../../src/compile/compile-host.js';
import { lintLoaded } from '../../src/traffic/validate-policy.js';
import { buildPlan } from '../../src/report/plan-report.js';
import { renderPlanJson } from '../../src/report/plan-render.js';
import { formatDiagnostic } from '../../src/model/diagnostics.js';
import { baseFilesSharedWithHead, knownHeadFile, shareUnchangedResources } from '../../src/report/plan-share.js';
import { loadPlanRevisions } from '../../src/report/plan-revisions.js';
import { documentsFile, policyFile } from '../support/policy-files.js';
import { hostEndpoint, networkSet, untrackedPolicy } from '../support/resource-documents.js';
import { gitIn } from '../support/git-repo.js';

const POLICY = untrackedPolicy('deny-lists', {
  selector: "role == 'edge'",
  types: ['Ingress', 'Egress'],
  ingress: [
    { action: 'Deny', source: { selector: "list == 'deny'" } },
    // Shadowed by the rule above on every packet it matches: a lint finding the head must still report.
    { action: 'Deny', source: { nets: ['198.51.100.0/25'] } },
    { action: 'Allow', protocol: 'TCP', destination: { ports: [443] } },
  ],
  egress: [{ action: 'Allow', protocol: 'TCP', source: { ports: [443] } }],
});

function revision(second: string[]): PolicyFile[] {
  return [
    documentsFile('hosts/edge-1.yaml', [
      hostEndpoint('edge-1-eth0', 'edge-1', { interfaceName: 'eth0' }, { role: 'edge' }),
    ]),
    documentsFile('sets/a.yaml', [networkSet('list-a', { list: 'deny' }, ['198.51.100.0/24', '203.0.113.7/32'])]),
    documentsFile('sets/b.yaml', [networkSet('list-b', { list: 'deny' }, second)]),
    documentsFile('policies/deny.yaml', [POLICY]),
  ];
}

const subject = { repo: 'r', base: { ref: 'a', commit: null }, head: { ref: 'b', commit: null } };

test('files alike in both revisions are the head objects; policies, sets and endpoints from them are shared; the plan is the same', () => {
  const [baseFiles, headFiles] = [revision(['192.0.2.0/25']), revision(['192.0.2.0/26'])];
  const shared = baseFilesSharedWithHead({ files: baseFiles }, { files: headFiles });
  assert.equal(
    shared.map((f, i) => f === headFiles[i]),
    [true, true, false, true],
    'compared byte for byte without blob ids: only sets/b.yaml differs',
  );
  const [b, h] = [loadResources(shared), loadResources(headFiles)];
  assert.ok(b.valid && h.valid);
  const sharedSets = shareUnchangedResources(b.resources, shared, h.resources, headFiles);
  const set = (r: ResourceSet, name: string) => r.networkSets.find((s) => s.name === name)!;
  assert.ok(set(sharedSets, 'list-a') === set(h.resources, 'list-a'), 'list-a comes from an unchanged file: shared');
  assert.ok(set(sharedSets, 'list-b') === set(b.resources, 'list-b'), "list-b's file changed: the base's own");
  assert.ok(sharedSets.policies[0] === h.resources.policies[0], 'the policy of an unchanged file: shared');
  assert.ok(sharedSets.hostEndpoints[0] === h.resources.hostEndpoints[0], 'the endpoint of an unchanged file: shared');
  const head = { states: compileAll(h.resources), resources: h.resources, files: headFiles };
  const plan = (base: ResourceSet) =>
    renderPlanJson(subject, buildPlan({ states: compileAll(base), resources: base, files: baseFiles }, head), []);
  const withShared = plan(sharedSets);
  assert.is(withShared, plan(b.resources));
  assert.match(withShared, /192\.0\.2\.64\/26/, 'the plan shows the addresses list-b no longer holds');
});

test('a parse cache parses each file object once and hands back the same documents', () => {
  const files = revision(['192.0.2.0/25']);
  const cache: ParseCache = new WeakMap();
  const first = parseDocuments(files, undefined, cache);
  const again = parseDocuments([files[3]!, files[1]!], undefined, cache);
  assert.ok(again.documents[0] === first.documents[3], 'the policy document is the one parsed first');
  assert.ok(again.documents[1] === first.documents[1]);
  const copy = { ...files[1]! };
  assert.ok(parseDocuments([copy], undefined, cache).documents[0] !== first.documents[1], 'another object: parsed');
});

test('sets read by the set-file scanner (packed) name the addresses of a region as sets read as YAML do', () => {
  // In the shape the scanner reads (its strict line grammar), not JSON.
  const setFile = (name: string, nets: string[]) =>
    policyFile(
      `sets/${name}.yaml`,
      `apiVersion: projectcalico.org/v3\nkind: GlobalNetworkSet\nmetadata:\n  name: ${name}\n  labels: { list: deny }\n` +
        `spec:\n  nets:\n${nets.map((n) => `    - ${n}\n`).join('')}`,
    );
  const files = (second: string[]) =>
    revision(second).map((f) =>
      f.path === 'sets/a.yaml'
        ? setFile('list-a', ['198.51.100.0/24', '203.0.113.7/32'])
        : f.path === 'sets/b.yaml'
          ? setFile('list-b', second)
          : f,
    );
  const [baseFiles, headFiles] = [
    files(['192.0.2.0/25', '2001:db8::/48', '198.18.0.0/15']),
    files(['198.18.0.0/15', '192.0.2.0/26', '203.0.113.64/26', '2001:db8:1::/48']),
  ];
  const plan = (limits: DocumentLimits) => {
    const [b, h] = [loadResources(baseFiles, limits), loadResources(headFiles, limits)];
    assert.ok(b.valid && h.valid);
    const scanned = h.resources.networkSets.filter((s) => s.packedNets).length;
    const p = buildPlan(
      { states: compileAll(b.resources), resources: b.resources, files: baseFiles },
      { states: compileAll(h.resources), resources: h.resources, files: headFiles },
    );
    return { json: renderPlanJson(subject, p, []), scanned };
  };
  const yaml = plan(DEFAULT_DOCUMENT_LIMITS);
  const packed = plan({ ...DEFAULT_DOCUMENT_LIMITS, setScanMinBytes: 1 });
  assert.is(yaml.scanned, 0);
  assert.is(packed.scanned, 2, 'both set files were scanned into packed lists');
  assert.is(packed.json, yaml.json);
  assert.match(
    packed.json,
    /203\.0\.113\.64\/26 \(set list-b\)|\(in set list-b\)/,
    'the new addresses named after their set',
  );
  // The resource diff of the packed lists: added and removed nets of both families, the reordered one unchanged.
  const change = (JSON.parse(packed.json) as { resourceChanges: { name: string; changes: object[] }[] })
    .resourceChanges;
  assert.equal(change.find((c) => c.name === 'list-b')?.changes, [
    {
      field: 'nets',
      before: '3',
      after: '4',
      added: ['192.0.2.0/26', '203.0.113.64/26', '2001:db8:1::/48'],
      removed: ['192.0.2.0/25', '2001:db8::/48'],
    },
  ]);
});

let repo = '';

const git = gitIn(() => repo);

function write(files: readonly PolicyFile[]): void {
  for (const f of files) {
    mkdirSync(path.dirname(path.join(repo, f.path)), { recursive: true });
    writeFileSync(path.join(repo, f.path), f.content);
  }
}

test('on a repository with a changed, a renamed and an unchanged file, the base read and parsed once where alike plans as two separate reads and parses', async () => {
  repo = mkdtempSync(path.join(tmpdir(), 'notrack-plan-share-'));
  try {
    git(['init', '--quiet', '--initial-branch=main']);
    write(revision(['192.0.2.0/25']));
    git(['add', '--all']);
    git(['commit', '--quiet', '-m', 'base']);
    // The head: sets/b.yaml changed, sets/a.yaml renamed (same bytes, another path), the rest unchanged.
    write([revision(['192.0.2.0/26', '2001:db8::/48'])[2]!]);
    renameSync(path.join(repo, 'sets/a.yaml'), path.join(repo, 'sets/a-renamed.yaml'));
    git(['add', '--all']);
    git(['commit', '--quiet', '-m', 'head']);
    const read = (ref: string): Promise<SourceSnapshot> => fetchSource({ repo, ref });
    const [base, head] = [await read('HEAD~1'), await read('HEAD')];

    const shared = baseFilesSharedWithHead(base, head);
    const byPath = new Map(head.files.map((f) => [f.path, f]));
    assert.equal(
      shared.filter((f) => byPath.get(f.path) === f).map((f) => f.path),
      ['hosts/edge-1.yaml', 'policies/deny.yaml'],
      'alike by blob id: the unchanged files only (the renamed one names another path, the changed one differs)',
    );

    // Read as plan reads it: the files the head holds alike come back as the head's objects, not read again.
    const baseKnown = await fetchSource({ repo, ref: 'HEAD~1', knownFile: knownHeadFile(head) });
    assert.equal(
      baseKnown.files.filter((f) => byPath.get(f.path) === f).map((f) => f.path),
      ['hosts/edge-1.yaml', 'policies/deny.yaml'],
    );
    assert.equal(
      baseKnown.files.map((f) => [f.path, Buffer.from(f.content).toString()]),
      base.files.map((f) => [f.path, Buffer.from(f.content).toString()]),
      'the same files with the same bytes as a read without it',
    );

    const revisions = loadPlanRevisions(baseKnown, head);
    const warnings = revisions.headDiagnostics.filter((d) => d.severity === 'warning').map(formatDiagnostic);
    const once = renderPlanJson(subject, buildPlan(revisions.base, revisions.head), warnings);

    // Two separate parses, as plan did before: nothing shared.
    const [b, h] = [loadResources(base.files), lintLoaded(loadResources(head.files), undefined)];
    const separateWarnings = h.diagnostics.filter((d) => d.severity === 'warning').map(formatDiagnostic);
    const separate = renderPlanJson(
      subject,
      buildPlan(
        { states: compileAll(b.resources), resources: b.resources, files: base.files },
        { states: compileAll(h.resources), resources: h.resources, files: head.files },
      ),
      separateWarnings,
    );
    assert.is(once, separate);
    assert.equal(warnings, separateWarnings);
    assert.ok(
      warnings.some((w) => /shadowed-rule/.test(w) && /ingress\[1\]/.test(w)),
      `the head's lint finding is reported: ${warnings.join('\n')}`,
    );
    assert.match(once, /192\.0\.2\.64\/26/, 'the addresses sets/b.yaml no longer lists are in the plan');
    assert.match(once, /2001:db8::\/48/, 'and the IPv6 net it now lists');
  } finally {
    rmSync(repo, { recursive: true, force: true });
  }
});

test.run();

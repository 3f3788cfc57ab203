// The set-file scanner reads what the YAML path reads: the same resources and diagnostics over many generated files.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadResources, type LoadResult } from '../../src/model/load-resources.js';
import { DEFAULT_DOCUMENT_LIMITS, parseDocuments, type PolicyFile } from '../../src/model/documents.js';
import { formatDiagnostic } from '../../src/model/diagnostics.js';
import { policyFile } from '../support/policy-files.js';
import { compileHost } from '../../src/compile/compile-host.js';

const SCAN = { ...DEFAULT_DOCUMENT_LIMITS, setScanMinBytes: 0 };
const YAML_ONLY = { ...DEFAULT_DOCUMENT_LIMITS, setScanMinBytes: Infinity };

/** A seeded generator, so a failure names the seed that reproduces it. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

/** Resources and diagnostics as plain data (addresses as arrays), for a deep comparison. */
function outcome(r: LoadResult): unknown {
  return JSON.parse(
    JSON.stringify({ resources: r.resources, valid: r.valid, counts: r.counts, diagnostics: r.diagnostics }, (_k, v) =>
      v instanceof Uint8Array ? Array.from(v) : v,
    ),
  );
}

/** True when the scanner read at least one document of the file. */
const scanned = (f: PolicyFile) => parseDocuments([f], SCAN).documents.some((d) => d.scannedNets !== undefined);

function assertSame(f: PolicyFile, what: string): LoadResult {
  const fast = loadResources([f], SCAN);
  const slow = loadResources([f], YAML_ONLY);
  assert.equal(outcome(fast), outcome(slow), what);
  return fast;
}

type Pick = <T>(xs: readonly T[]) => T;

function randomNet(r: () => number, pick: Pick): string {
  const byte = () => Math.floor(r() * 256);
  if (r() < 0.7) {
    const len = pick([8, 16, 22, 24, 32, 32, 32]);
    const a = [byte(), byte(), byte(), byte()];
    const bare = len === 32 && r() < 0.5;
    if (r() < 0.9) for (let i = 0; i < 4; i++) a[i]! &= (0xff00 >> Math.max(0, Math.min(8, len - i * 8))) & 0xff;
    return bare ? a.join('.') : `${a.join('.')}/${len}`;
  }
  const groups = Array.from({ length: 8 }, () => Math.floor(r() * 65536).toString(16));
  const choice = Math.floor(r() * 5);
  if (choice === 0) return `${groups.slice(0, 2).join(':')}::/32`;
  if (choice === 1) return `${groups.join(':')}/128`;
  if (choice === 2) return `${groups[0]}:${groups[1]}::${groups[7]}/64`; // host bits set
  if (choice === 3) return '::1/128';
  return `${groups.slice(0, 3).join(':').toUpperCase()}::/48`;
}

/** What can go wrong in an item, as written in YAML. */
const BAD_ITEMS = [
  '300.1.2.3/8',
  'not-a-cidr',
  '10.0.0.0/33',
  '010.0.0.0/8',
  '10',
  '1.5',
  'true',
  '~',
  '2001:db8::',
  '"10.0.0.0/8\\n"',
  "'it''s'",
  '[10.0.0.0/8]',
  '{a: b}',
  '*alias',
  '!!str 10.0.0.0/8',
  '10.0.0.0/8 # fine',
  '10.0.0.0/8#not-a-comment',
  '',
];

/** One GlobalNetworkSet document in one of the many ways people write it. */
function setDocument(r: () => number, pick: Pick, name: string, eol: string, bad: boolean): string {
  const trail = () => (r() < 0.1 ? '  ' : '');
  const keyIndent = pick([2, 4]);
  const itemIndent = keyIndent + pick([0, 2]);
  const lines: string[] = [];
  if (r() < 0.3) lines.push('# a deny list');
  lines.push('apiVersion: projectcalico.org/v3', 'kind: GlobalNetworkSet', 'metadata:', `  name: ${name}${trail()}`);
  const labels = Math.floor(r() * 3);
  if (labels === 1) lines.push('  labels: { list: deny }');
  if (labels === 2) lines.push('  labels:', '    list: deny', `    tier: "${pick(['a', 'b'])}"`);
  if (r() < 0.2) lines.push('  annotations:', '    note: |', '      nets:', '      - 10.0.0.0/8');
  if (r() < 0.1) lines.push('  resourceVersion: "12"');
  lines.push('spec:');
  if (keyIndent === 4) lines.push('  # the list');
  const pad = ' '.repeat(keyIndent - 2);
  lines.push(`${pad}  nets:${r() < 0.1 ? ' # members' : ''}${trail()}`);
  const count = 1 + Math.floor(r() * 12);
  const nets = Array.from({ length: count }, () => randomNet(r, pick));
  if (r() < 0.2) nets.push(nets[0]!); // a duplicate member
  nets.forEach((n, i) => {
    if (r() < 0.08) lines.push(r() < 0.5 ? '' : `${' '.repeat(itemIndent)}# member ${i}`);
    const quote = pick(['', '', '', "'", '"']);
    const comment = r() < 0.1 ? ' # why' : '';
    lines.push(`${' '.repeat(itemIndent)}- ${quote}${n}${quote}${comment}${trail()}`);
  });
  if (bad) {
    const at = Math.floor(r() * lines.length);
    const item = pick(BAD_ITEMS);
    const kind = Math.floor(r() * 6);
    if (kind === 0) lines.push(`${' '.repeat(itemIndent)}- ${item}`);
    else if (kind === 1)
      lines.push(`${' '.repeat(itemIndent + 1)}- 10.0.0.0/8`); // unusual indentation
    else if (kind === 2)
      lines.push(`${' '.repeat(itemIndent + 2)}continued`); // a multi-line plain scalar
    else if (kind === 3) lines.splice(at, 0, '\t# a tab');
    else if (kind === 4) lines.push('  extra: field');
    else lines[3] = '  name: Not_A_Name';
  }
  if (r() < 0.2) lines.push('');
  return lines.join(eol);
}

function generatedFile(seed: number): PolicyFile {
  const r = rng(seed);
  const pick: Pick = (xs) => xs[Math.floor(r() * xs.length)]!;
  const eol = r() < 0.3 ? '\r\n' : '\n';
  const docs = 1 + Math.floor(r() * 3);
  const parts: string[] = [];
  for (let d = 0; d < docs; d++) {
    if (r() < 0.15) {
      parts.push(
        [
          'apiVersion: projectcalico.org/v3',
          'kind: HostEndpoint',
          'metadata:',
          `  name: h${d}`,
          'spec:',
          '  node: a',
          '  interfaceName: eth0',
        ].join(eol),
      );
      continue;
    }
    // Names repeat now and then: a duplicate name is the model's error, positioned in the second document.
    const name = r() < 0.1 ? 'deny' : `deny-${seed}-${d}`;
    parts.push(setDocument(r, pick, name, eol, r() < 0.35));
  }
  let text = (r() < 0.3 ? `---${eol}` : '') + parts.join(`${eol}---${eol}`) + (r() < 0.7 ? eol : '');
  if (r() < 0.1) text += `...${eol}`;
  if (r() < 0.15) text = '\ufeff' + text;
  return policyFile(`sets/s${seed}.yaml`, text);
}

test('the scanner and the YAML path give the same resources and diagnostics on 600 generated set files', () => {
  let read = 0,
    readWithErrors = 0,
    withErrors = 0,
    withWarnings = 0;
  for (let seed = 1; seed <= 600; seed++) {
    const f = generatedFile(seed);
    const r = assertSame(f, `seed ${seed}`);
    if (scanned(f)) {
      read++;
      if (!r.valid) readWithErrors++;
    }
    if (!r.valid) withErrors++;
    if (r.diagnostics.some((d) => d.code === 'cidr-host-bits')) withWarnings++;
  }
  // Many files are in the scanner's grammar (some of them with errors outside the lists: names, fields, duplicates),
  // and the generator covers errors and host-bits warnings.
  assert.ok(read > 200, `the scanner read ${read} of 600 files`);
  assert.ok(readWithErrors > 20, `the scanner read ${readWithErrors} files with errors`);
  assert.ok(withErrors > 100, `${withErrors} files with errors`);
  assert.ok(withWarnings > 50, `${withWarnings} files with host-bits warnings`);
});

const SET = (items: string, eol = '\n') =>
  [
    'apiVersion: projectcalico.org/v3',
    'kind: GlobalNetworkSet',
    'metadata:',
    '  name: deny',
    'spec:',
    '  nets:',
    items,
    '',
  ].join(eol);

test('a net with host bits is read by the scanner and warned about at its own line, as on the YAML path', () => {
  const f = policyFile('s.yaml', SET('  - 10.0.0.0/8\n  - "10.1.2.3/16"\n  # comment\n  - 10.2.0.0/16'));
  assert.ok(scanned(f));
  const r = assertSame(f, 'host bits');
  assert.equal(r.diagnostics.map(formatDiagnostic), [
    's.yaml:8:5: warning[cidr-host-bits]: 10.1.2.3/16 has host bits set; it means 10.1.0.0/16 (at spec.nets[1])',
  ]);
  assert.equal(r.resources.networkSets[0]!.nets.length, 3);
});

test('a net that does not parse sends the whole file to the YAML path, with the error at its line', () => {
  const f = policyFile('s.yaml', SET('  - 10.0.0.0/8\n  - 10.0.0.300/32'));
  assert.not.ok(scanned(f));
  const r = assertSame(f, 'bad net');
  assert.equal(
    r.diagnostics.filter((d) => d.severity === 'error').map((d) => [d.line, d.path]),
    [[8, 'spec.nets[1]']],
  );
});

test('what the line grammar does not cover takes the YAML path', () => {
  const outside = {
    tab: SET('  -\t10.0.0.0/8'),
    anchor: SET('  - &a 10.0.0.0/8\n  - 10.1.0.0/16'),
    'flow sequence': SET('  - [10.0.0.0/8]'),
    'multi-line scalar': SET('  - 10.0.0.0/8\n    10.1.0.0/16'),
    'escaped quote': SET(`  - '10.0.0.0/8'''`),
    'lone CR': SET('  - 10.0.0.0/8\r  - 10.1.0.0/16'),
    'nets in a block scalar only': SET('  - 10.0.0.0/8').replace(
      '  name: deny',
      '  name: deny\n  annotations:\n    x: |\n      nets:\n      - 1.2.3.4',
    ),
    'multi-line flow mapping': SET('  - 10.0.0.0/8')
      .replace('spec:\n  nets:', 'spec: {\n  nets:')
      .replace(/\n$/, '\n}\n'),
    'another kind': SET('  - 10.0.0.0/8').replace('GlobalNetworkSet', 'NetworkSet'),
  };
  for (const [what, text] of Object.entries(outside)) {
    const f = policyFile('s.yaml', text);
    assert.not.ok(scanned(f), what);
    assertSame(f, what);
  }
});

test('CRLF, a BOM, trailing spaces and several documents are in the grammar', () => {
  const docs = [
    SET('  - 10.0.0.0/8  \r\n  - 2001:db8::/32', '\r\n'),
    SET('    - 10.1.0.0/16').replace('name: deny', 'name: deny-2'),
  ];
  const f = policyFile('s.yaml', '\ufeff---\r\n' + docs.join('---\n'));
  assert.ok(scanned(f));
  const r = assertSame(f, 'crlf');
  assert.ok(r.valid);
  assert.equal(
    r.resources.networkSets.map((s) => s.nets.length),
    [2, 1],
  );
});

test('a scanned set compiles, from its packed list, to the state the YAML path gives', () => {
  const rnd = rng(7);
  const nets: string[] = [];
  for (let i = 0; i < 3000; i++) {
    const a = Math.floor(rnd() * 2 ** 32);
    const len = [8, 16, 24, 32, 32, 32][Math.floor(rnd() * 6)]!;
    nets.push(
      rnd() < 0.1
        ? `2001:db8:${(a & 0xffff).toString(16)}::/48`
        : `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}/${len}`,
    );
  }
  nets.push(nets[5]!, nets[17]!); // duplicates
  const files = [
    policyFile(
      'sets/deny.yaml',
      `apiVersion: projectcalico.org/v3\nkind: GlobalNetworkSet\nmetadata:\n  name: deny\n  labels: { list: deny }\nspec:\n  nets:\n${nets.map((n) => `    - ${n}\n`).join('')}`,
    ),
    policyFile(
      'policy.yaml',
      `apiVersion: projectcalico.org/v3\nkind: HostEndpoint\nmetadata:\n  name: h-eth0\n  labels: { role: h }\nspec:\n  node: h\n  interfaceName: eth0\n---\n` +
        `apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata:\n  name: deny\nspec:\n  selector: role == 'h'\n  doNotTrack: true\n  applyOnForward: true\n  types: [Ingress]\n  ingress:\n    - action: Deny\n      source:\n        selector: list == 'deny'\n`,
    ),
  ];
  const fast = loadResources(files, SCAN);
  const slow = loadResources(files, YAML_ONLY);
  const set = fast.resources.networkSets[0]!;
  assert.ok(set.packedNets, 'the scanner read the list');
  assert.is(slow.resources.networkSets[0]!.packedNets, undefined);
  const a = compileHost(fast.resources, 'h');
  assert.ok(Object.getOwnPropertyDescriptor(set, 'nets')?.get, 'nets is made on demand');
  const b = compileHost(slow.resources, 'h');
  assert.is(a.hash, b.hash, 'the same state');
  assert.equal(Object.keys(a.sets), Object.keys(b.sets));
  for (const id of Object.keys(a.sets)) assert.equal(a.sets[id]!.prefixes, b.sets[id]!.prefixes);
  assert.is(set.nets.length, nets.length, 'and the list, when asked for, holds every net in order');
});

test('small files take the YAML path by default', () => {
  const f = policyFile('s.yaml', SET('  - 10.0.0.0/8'));
  assert.not.ok(parseDocuments([f]).documents.some((d) => d.scannedNets));
});

test.run();

// Compiling is byte for byte what it was before the compile stages were made faster: for random policies (every kind
// of rule field, named ports, selectors over sets), random large sets (prefixes of every length, nested, duplicated,
// IPv4 and IPv6, spread over several GlobalNetworkSets) and the control-plane bench's shape, the DesiredState (its
// canonical text, hash, set ids and rule ids), each interface's fingerprint and each compiled policy program (the
// instructions, the map specs and every map's keys and values) digest to what main gave at 4e6b6fb, recorded in
// fixtures/compile-identity.json. NOTRACK_WRITE_IDENTITY=1 rewrites that file (only ever from the old code).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { loadResources } from '../../src/model/load-resources.js';
import type { PolicyFile } from '../../src/model/documents.js';
import { compileAll } from '../../src/compile/compile-host.js';
import { desiredStateHash, serializeDesiredState } from '../../src/compile/hash.js';
import type { DesiredState } from '../../src/compile/desired-state.js';
import {
  compilePolicyProgram,
  policyMapContents,
  policyMaps,
  type Classifier,
} from '../../src/compile/program/index.js';
import { interfaceFingerprint } from '../../src/reconcile/host-dataplane.js';
import { randomPolicyPair } from '../support/random-policies.js';
import { mulberry32, type Rng } from '../support/seeded-random.js';
import { documentsFile, policyFile } from '../support/policy-files.js';
import { hostEndpoint, networkSet, untrackedPolicy } from '../support/resource-documents.js';

const FIXTURE = new URL('./fixtures/compile-identity.json', import.meta.url);
const writing = process.env['NOTRACK_WRITE_IDENTITY'] === '1';
const expected: Record<string, string> = writing ? {} : JSON.parse(readFileSync(FIXTURE, 'utf8'));
const found: Record<string, string> = {};

const sha = (data: string | Uint8Array): string => createHash('sha256').update(data).digest('hex').slice(0, 32);

/** One family's maps: each map's spec, then its contents (keys and values as bytes). */
function classifierDigest(c: Classifier): string {
  const h = createHash('sha256');
  for (const spec of policyMaps(c)) {
    h.update(JSON.stringify(spec));
    const m = policyMapContents(c, spec.role);
    h.update(`${m.kind} ${m.count}\n`);
    if (m.kind === 'array') h.update(m.values);
    else h.update(m.keys).update(m.values);
  }
  return h.digest('hex').slice(0, 32);
}

/** Everything of a host's compilation that reaches the state file, the record or the kernel, digested. */
function hostDigest(state: DesiredState): string {
  const parts = [
    `hash ${state.hash}`,
    `generic hash ${desiredStateHash(state)}`,
    `text ${sha(serializeDesiredState(state))}`,
    `sets ${Object.keys(state.sets).join(',')}`,
  ];
  for (const iface of state.interfaces) {
    parts.push(`${iface.name} fingerprint ${interfaceFingerprint(state, iface)}`);
    const { v4, v6, program } = compilePolicyProgram(state, iface, {});
    parts.push(`${iface.name} v4 ${classifierDigest(v4)} v6 ${classifierDigest(v6)}`);
    const p = program.program;
    parts.push(
      `${iface.name} program ${sha(p.bytes)} ${p.insnCount} ${sha(JSON.stringify(p.relocations))} ` +
        `${sha(JSON.stringify(program.maps))} ${JSON.stringify(program.steps)} ${program.generation}`,
    );
  }
  return sha(parts.join('\n'));
}

/** Compiles every host of the files and checks (or records) each one's digest under `name`. */
function check(name: string, files: PolicyFile[]): number {
  const loaded = loadResources(files);
  if (!loaded.valid) return 0;
  let hosts = 0;
  for (const [host, state] of compileAll(loaded.resources)) {
    const key = `${name} ${host}`;
    found[key] = hostDigest(state);
    if (!writing) assert.is(found[key], expected[key], `${key}: the compilation differs from main's`);
    hosts++;
  }
  return hosts;
}

const int = (r: Rng, lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));
const quad = (n: number): string => `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;

/** A random prefix near one of a few anchors: nested, overlapping and duplicated prefixes of every length. */
function randomNet(r: Rng, anchors: number[], v6 = r() < 0.25): string {
  if (!v6) {
    const len = int(r, 0, 32);
    const a = (anchors[int(r, 0, anchors.length - 1)]! ^ Math.floor(r() * 2 ** int(r, 0, 32))) >>> 0;
    return `${quad(len === 0 ? 0 : (a >>> (32 - len)) << (32 - len))}/${len}`;
  }
  const groups = Array.from({ length: 8 }, (_, g) => (g < 2 ? 0xfd00 + g : int(r, 0, 3)).toString(16));
  const len = int(r, 0, 128);
  const bits = groups.map((g) => parseInt(g, 16).toString(2).padStart(16, '0')).join('');
  const masked = bits.slice(0, len).padEnd(128, '0');
  const words = Array.from({ length: 8 }, (_, g) => parseInt(masked.slice(g * 16, g * 16 + 16), 2).toString(16));
  return `${words.join(':')}/${len}`;
}

/** Large random sets over several GlobalNetworkSets, used by selectors, notSelectors and nets of random rules. */
function randomSetPolicy(r: Rng): PolicyFile[] {
  const anchors = Array.from({ length: 4 }, () => Math.floor(r() * 2 ** 32));
  const docs: object[] = [
    hostEndpoint('h1-eth0', 'h1', { interfaceName: 'eth0', expectedIPs: ['10.1.2.3'] }, { role: 'web' }),
    hostEndpoint('h1-eth1', 'h1', { interfaceName: 'eth1' }, { role: 'db' }),
  ];
  const lists = int(r, 1, 4);
  for (let s = 0; s < lists; s++) {
    const nets = Array.from({ length: int(r, 0, r() < 0.3 ? 3000 : 60) }, () => randomNet(r, anchors));
    docs.push(networkSet(`s${s}`, { list: `l${s % 2}`, n: `n${s}` }, nets));
  }
  const rules = Array.from({ length: int(r, 1, 30) }, () => {
    const side: Record<string, unknown> = {};
    const roll = r();
    if (roll < 0.3) side['selector'] = `list == 'l${int(r, 0, 1)}'`;
    else if (roll < 0.45) side['selector'] = `has(list)`;
    else if (roll < 0.6) side['notSelector'] = `n == 'n${int(r, 0, lists - 1)}'`;
    // A rule's nets are of one family (the model refuses a mix).
    const v6 = r() < 0.25;
    if (r() < 0.6) side['nets'] = Array.from({ length: int(r, 1, 4) }, () => randomNet(r, anchors, v6));
    if (r() < 0.2) side['notNets'] = Array.from({ length: int(r, 1, 3) }, () => randomNet(r, anchors, v6));
    const rule: Record<string, unknown> = { action: ['Deny', 'Allow', 'Pass', 'Log'][int(r, 0, 3)] };
    rule[r() < 0.8 ? 'source' : 'destination'] = side;
    return rule;
  });
  docs.push(untrackedPolicy('p', { order: 1, types: ['Ingress'], ingress: rules }));
  return [documentsFile('all.yaml', docs)];
}

/** The control-plane bench's shape: /22 Deny rules and one deny list, unsorted, split over files, taken by label. */
function benchShape(rules: number, members: number): PolicyFile[] {
  const files = [
    documentsFile('host.yaml', [hostEndpoint('bench-eth0', 'bench', { interfaceName: 'eth0' }, { role: 'b' })]),
  ];
  const nets = Array.from({ length: members }, (_, i) =>
    i % 10 === 0 ? `${quad((33 << 24) + (i / 10) * 256)}/24` : `${quad(((i & 1 ? 35 : 32) << 24) + (i >> 1) * 13)}/32`,
  );
  for (let k = 0; k * 5000 < members; k++) {
    const lines = nets.slice(k * 5000, (k + 1) * 5000).map((n) => `    - ${n}\n`);
    files.push(
      policyFile(
        `sets/deny-${k}.yaml`,
        `apiVersion: projectcalico.org/v3\nkind: GlobalNetworkSet\nmetadata:\n  name: deny-${k}\n  labels: { list: deny }\nspec:\n  nets:\n${lines.join('')}`,
      ),
    );
  }
  const ingress = [{ action: 'Deny', source: { selector: "list == 'deny'" } }];
  for (let i = 0; i < rules; i++)
    ingress.push({ action: 'Deny', source: { nets: [`${quad((16 << 24) + i * 1024)}/22`] } } as never);
  for (let k = 0; k * 1000 < ingress.length; k++) {
    const policy = untrackedPolicy(`deny-${k}`, {
      order: k,
      selector: "role == 'b'",
      types: ['Ingress'],
      ingress: ingress.slice(k * 1000, (k + 1) * 1000),
    });
    files.push(documentsFile(`policies/deny-${k}.yaml`, [policy]));
  }
  return files;
}

test('random policies compile to the same states, fingerprints and programs as before', () => {
  const r = mulberry32(20261205);
  let hosts = 0;
  for (let i = 0; i < 120; i++) {
    const pair = randomPolicyPair(r);
    hosts += check(`random ${i} base`, pair.base) + check(`random ${i} head`, pair.head);
  }
  assert.ok(hosts > 200, `${hosts} hosts compiled`);
});

test('random large sets (every length, nested, both families, several lists per selector) compile as before', () => {
  const r = mulberry32(977);
  let hosts = 0;
  for (let i = 0; i < 40; i++) hosts += check(`sets ${i}`, randomSetPolicy(r));
  assert.ok(hosts >= 30, `${hosts} hosts compiled`);
});

test("the bench's shape (Deny /22 rules, a deny list over many files) compiles as before", () => {
  assert.is(check('bench 1500x60000', benchShape(1500, 60_000)), 1);
  assert.is(check('bench 0x20000', benchShape(0, 20_000)), 1);
  assert.is(check('bench 3000x0', benchShape(3000, 0)), 1);
});

test.after(() => {
  if (writing) writeFileSync(FIXTURE, `${JSON.stringify(found, null, 1)}\n`);
});

test.run();

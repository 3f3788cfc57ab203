// The state hash writes entries, counters, interfaces and sets field by field; whatever shape they have (fields
// missing, added, undefined, in another order, ports and ICMP filled in, plain sets beside compiled ones), the hash
// is the sha256 of the generic canonical JSON, so a state the fast writers do not expect is hashed the same.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { compileHost } from '../../src/compile/compile-host.js';
import { canonicalHashText, desiredStateHash } from '../../src/compile/hash.js';
import type { DesiredState, IngressEntry } from '../../src/compile/desired-state.js';
import { hostEndpoint, networkSet, untrackedPolicy } from '../support/resource-documents.js';
import { validDocuments } from '../support/policy-files.js';
import { mulberry32 } from '../support/seeded-random.js';

const genericHash = (state: DesiredState): string => {
  const { hash: _ignored, ...rest } = state;
  return createHash('sha256').update(canonicalHashText(rest)).digest('hex');
};

function compiled(): DesiredState {
  return compileHost(
    validDocuments(
      hostEndpoint('web-eth0', 'web', { interfaceName: 'eth0', expectedIPs: ['10.0.0.5'] }, { role: 'web' }),
      hostEndpoint('web-eth1', 'web', { interfaceName: 'eth1' }, { role: 'web' }),
      networkSet('deny', { list: 'deny' }, ['203.0.113.0/24', '2001:db8::/32']),
      untrackedPolicy('p', {
        order: 1,
        types: ['Ingress'],
        ingress: [
          { action: 'Deny', source: { selector: "list == 'deny'" } },
          {
            action: 'Allow',
            protocol: 'TCP',
            destination: { ports: [22, '8000:8080'] },
            source: { nets: ['10.0.0.0/8'] },
          },
          { action: 'Deny', protocol: 'ICMP', icmp: { type: 8, code: 0 } },
          { action: 'Pass', notProtocol: 'UDP', source: { notNets: ['192.168.0.0/16'] } },
        ],
      }),
    ),
    'web',
  );
}

test('a compiled state hashes as its generic canonical text', () => {
  const state = compiled();
  assert.is(state.hash, genericHash(state));
  assert.ok(state.interfaces[0]!.ingress.v4.length >= 4);
});

/** Every way a state can differ from what compileHost builds, one at a time, on a copy of the entry. */
const RESHAPES: [string, (e: IngressEntry) => object][] = [
  ['a field more', (e) => ({ ...e, extra: 1 })],
  ['a field less', ({ icmp: _gone, ...e }) => e],
  ['an undefined field', (e) => ({ ...e, notICMP: undefined })],
  ['fields in another order', ({ destination, source, ...rest }) => ({ destination, source, ...rest })],
  ['ICMP in another key order', (e) => ({ ...e, icmp: { code: 3, type: 1 } })],
  ['ports with fields reversed', (e) => ({ ...e, source: { ...e.source, ports: [{ to: 9, from: 1 }] } })],
  ['a side with a field more', (e) => ({ ...e, destination: { ...e.destination, note: 'x' } })],
  ['a side with a set id that is not a string', (e) => ({ ...e, source: { ...e.source, inSets: [7] } })],
  ['a protocol given as text', (e) => ({ ...e, protocol: 'tcp' })],
  ['a fractional counter', (e) => ({ ...e, counter: 1.5 })],
  ['a null side', (e) => ({ ...e, source: null })],
];

for (const [what, reshape] of RESHAPES) {
  test(`an entry with ${what} hashes as its generic canonical text`, () => {
    const state = compiled();
    const list = state.interfaces[0]!.ingress.v4;
    list[1] = reshape(list[1]!) as IngressEntry;
    assert.is(desiredStateHash(state), genericHash(state));
  });
}

test('counters, interfaces and set records of other shapes hash as their generic canonical text', () => {
  const r = mulberry32(11);
  const edits: ((s: DesiredState) => void)[] = [
    (s) => (s.interfaces[0]!.counters[0] = { ...s.interfaces[0]!.counters[0]!, extra: true } as never),
    (s) => (s.interfaces[0]!.counters[0] = { direction: 'ingress', policy: 'p' } as never),
    (s) => (s.interfaces[1] = { ...s.interfaces[1]!, note: 'x' } as never),
    (s) => (s.interfaces[1]!.ingress = { ...s.interfaces[1]!.ingress, v8: [] } as never),
    (s) => s.interfaces.push(undefined as never),
    (s) => {
      const [id, set] = Object.entries(s.sets)[0]!;
      s.sets[id] = { id: set.id, family: set.family, origin: set.origin, prefixes: [...set.prefixes] };
    },
    (s) => (s.sets = Object.fromEntries(Object.entries(s.sets).reverse())),
  ];
  for (let round = 0; round < 40; round++) {
    const state = compiled();
    for (const edit of edits) if (r() < 0.4) edit(state);
    assert.is(desiredStateHash(state), genericHash(state), `round ${round}`);
  }
});

test.run();

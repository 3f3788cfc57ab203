// The state as a whole: canonical bytes and content hash, failsafes and settings from configuration, limits.
import { createHash } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { ResourceSet } from '../../src/model/resources.js';
import { compileHost } from '../../src/compile/compile-host.js';
import { serializeDesiredState } from '../../src/compile/hash.js';
import { CompileError } from '../../src/compile/compile-error.js';
import { NotrackError } from '../../src/errors.js';
import { documentsFile, validResources } from '../support/policy-files.js';
import { hostEndpoint, networkSet, notrackConfiguration, untrackedPolicy } from '../support/resource-documents.js';

/** Each document in its own file, in the order given. */
function load(...docs: object[]): ResourceSet {
  return validResources(docs.map((d, i) => documentsFile(`f${String(i).padStart(2, '0')}.yaml`, [d])));
}

/** The CompileError compiling the host throws; compiling without one, or throwing anything else, fails the test. */
function compileError(r: ResourceSet, host: string): CompileError {
  let thrown: unknown;
  try {
    compileHost(r, host);
  } catch (e) {
    thrown = e;
  }
  if (thrown === undefined) assert.unreachable('should have thrown');
  assert.instance(thrown, CompileError);
  return thrown as CompileError;
}

const DOCS = [
  hostEndpoint(
    'web-eth0',
    'web',
    { interfaceName: 'eth0', expectedIPs: ['10.0.0.10'], ports: [{ name: 'https', protocol: 'TCP', port: 443 }] },
    { role: 'web' },
  ),
  hostEndpoint('web-eth1', 'web', { interfaceName: 'eth1' }, { role: 'web' }),
  networkSet('deny', { list: 'deny' }, ['203.0.113.0/24', '198.51.100.0/24', '2001:db8::/32']),
  untrackedPolicy('deny-list', { order: 1, ingress: [{ action: 'Deny', source: { selector: "list == 'deny'" } }] }),
  untrackedPolicy('web', {
    order: 10,
    types: ['Ingress', 'Egress'],
    ingress: [{ action: 'Allow', protocol: 'TCP', destination: { ports: ['https', 80] } }],
    egress: [
      {
        action: 'Allow',
        protocol: 'TCP',
        source: { ports: ['https', 80] },
        destination: { notSelector: "list == 'deny'" },
      },
    ],
  }),
];

test('compiling the same input twice gives the same bytes and hash; file order does not matter', () => {
  const a = compileHost(load(...DOCS), 'web');
  const b = compileHost(load(...DOCS), 'web');
  const reversed = compileHost(load(...[...DOCS].reverse()), 'web');
  assert.is(serializeDesiredState(a), serializeDesiredState(b));
  assert.is(serializeDesiredState(a), serializeDesiredState(reversed));
  assert.match(a.hash, /^[0-9a-f]{64}$/);
});

test('the hash is the sha256 of the canonical JSON (sorted keys, no spaces) of everything but the hash, sets by digest', () => {
  const s = compileHost(load(...DOCS), 'web');
  const text = serializeDesiredState(s);
  const plainSets = Object.fromEntries(
    Object.entries(s.sets).map(([id, { family, origin, prefixes }]) => [id, { id, family, origin, prefixes }]),
  );
  assert.equal(JSON.parse(text), { ...s, sets: plainSets }, 'the serialization holds the whole state');
  assert.ok(text.startsWith('{"config":{"acceptMark":'), 'keys sorted at every level');
  assert.not.match(text, /\n| "/);
  // The hashed text is the same JSON with each set's prefixes replaced by the sha256 of `ipv<family>\n` and their lines.
  const hashed = JSON.parse(text) as typeof s;
  for (const set of Object.values(hashed.sets) as unknown as Record<string, unknown>[]) {
    const prefixes = set['prefixes'] as string[];
    delete set['prefixes'];
    set['digest'] = createHash('sha256')
      .update(`ipv${String(set['family'])}\n${prefixes.join('\n')}`)
      .digest('hex');
  }
  const { hash, ...rest } = hashed;
  const expected = createHash('sha256')
    .update(serializeDesiredState({ ...rest, hash: undefined } as unknown as typeof s))
    .digest('hex');
  assert.is(hash, expected);
});

test('any change that reaches the dataplane changes the hash', () => {
  const base = compileHost(load(...DOCS), 'web').hash;
  const port = DOCS.map((d) =>
    d === DOCS[4]
      ? untrackedPolicy('web', {
          order: 10,
          types: ['Ingress', 'Egress'],
          ingress: [{ action: 'Allow', protocol: 'TCP', destination: { ports: ['https', 8080] } }],
          egress: [
            {
              action: 'Allow',
              protocol: 'TCP',
              source: { ports: ['https', 80] },
              destination: { notSelector: "list == 'deny'" },
            },
          ],
        })
      : d,
  );
  const setMember = DOCS.map((d) =>
    d === DOCS[2] ? networkSet('deny', { list: 'deny' }, ['203.0.113.0/24', '198.51.100.0/25', '2001:db8::/32']) : d,
  );
  const logRate = [...DOCS, notrackConfiguration('default', { logRate: 7 })];
  const hashes = [port, setMember, logRate].map((docs) => compileHost(load(...docs), 'web').hash);
  assert.is(new Set([base, ...hashes]).size, 4);
});

test("failsafes are Calico's defaults unless the configuration says otherwise, default first, then node.<host>", () => {
  const defaults = compileHost(load(...DOCS), 'web').failsafes;
  assert.equal(
    defaults.filter((f) => f.direction === 'inbound').map((f) => `${f.protocol}/${f.port}`),
    ['6/22', '6/179', '6/2379', '6/2380', '6/5473', '6/6443', '6/6666', '6/6667', '17/68'],
  );
  assert.equal(
    defaults.filter((f) => f.direction === 'outbound').map((f) => `${f.protocol}/${f.port}`),
    ['6/179', '6/2379', '6/2380', '6/5473', '6/6443', '6/6666', '6/6667', '17/53', '17/67'],
  );

  const r = load(
    ...DOCS,
    notrackConfiguration('default', {
      failsafeInboundHostPorts: [{ protocol: 'TCP', port: 22, net: '10.0.255.0/24' }],
      logRate: 50,
    }),
    notrackConfiguration('node.web', {
      failsafeOutboundHostPorts: [{ protocol: 'UDP', port: 53, net: 'fd00:0:0:ff::1/64' }],
      xdpMode: 'native',
    }),
    hostEndpoint('db-eth0', 'db', { interfaceName: 'eth0' }),
  );
  const web = compileHost(r, 'web');
  assert.equal(web.failsafes, [
    { direction: 'inbound', protocol: 6, port: 22, net: '10.0.255.0/24' },
    { direction: 'outbound', protocol: 17, port: 53, net: 'fd00:0:0:ff::/64' },
  ]);
  assert.equal([web.config.logRate, web.config.xdpMode], [50, 'native']);
  const db = compileHost(r, 'db');
  assert.equal(db.failsafes.filter((f) => f.direction === 'outbound').length, 9, 'node.web does not reach db');
  assert.equal([db.config.logRate, db.config.xdpMode], [50, 'auto']);
});

test('more rules on an interface than limits.maxRulesPerInterface is a compile-limit error naming it and the numbers', () => {
  const err = compileError(
    load(...DOCS, notrackConfiguration('node.web', { limits: { maxRulesPerInterface: 1 } })),
    'web',
  );
  assert.instance(err, NotrackError);
  assert.is(err.code, 'compile-limit');
  assert.match(
    err.message,
    /interface eth0 of host web \(HostEndpoint web-eth0\) has 2 ingress rules, over limits\.maxRulesPerInterface 1/,
  );
  assert.equal(err.details, { host: 'web', interface: 'eth0', limit: 'maxRulesPerInterface', actual: 2, max: 1 });
});

test('a set larger than limits.maxSetPrefixes is a compile-limit error naming the interface, the set and the numbers', () => {
  const err = compileError(load(...DOCS, notrackConfiguration('default', { limits: { maxSetPrefixes: 1 } })), 'web');
  assert.is(err.code, 'compile-limit');
  assert.match(
    err.message,
    /interface eth0 of host web .* uses the set selector list == "deny" with 2 IPv4 prefixes, over limits\.maxSetPrefixes 1/,
  );
});

test('two endpoints on one interface of a host is a conflict, not a guess', () => {
  const r = load(...DOCS, hostEndpoint('web-eth0-again', 'web', { interfaceName: 'eth0' }));
  assert.throws(
    () => compileHost(r, 'web'),
    (e: unknown) =>
      e instanceof CompileError &&
      e.code === 'compile-conflict' &&
      /web-eth0 and web-eth0-again both claim interface eth0 of host web/.test(e.message),
  );
});

test.run();

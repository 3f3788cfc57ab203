// The generated policy program behind the real entry program and epilogues (BPF_PROG_TEST_RUN of nt_xdp_entry):
// evaluation order (also across the layout's groups), Log then Deny, Pass, every not-field, later fragments against
// port rules, ICMP, IPv6, and no match, with the rule and global counters the epilogues keep.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { DesiredState, IngressEntry, PacketDescription, SideMatch } from '../../src/compile/desired-state.js';
import type { CounterName } from '../../src/abi/notrack.js';
import { frameFor, Pipeline, XDP_DROP, XDP_PASS } from '../support/pipeline.js';
import { kernelGate } from '../support/kernel-gate.js';

const gate = kernelGate('program-verdicts');
const kernelTest = gate.test;

let pl: Pipeline;
test.before(() => {
  if (gate.runs) pl = Pipeline.open();
});
test.after(() => {
  if (gate.runs) pl.close();
});

const side = (m: Partial<SideMatch> = {}): SideMatch => ({ inSets: [], notInSets: [], ports: [], notPorts: [], ...m });
const port = (p: number) => [{ from: p, to: p }];

function entry(counter: number, action: IngressEntry['action'], m: Partial<IngressEntry> = {}): IngressEntry {
  return {
    counter,
    action,
    protocol: null,
    notProtocol: null,
    icmp: null,
    notICMP: null,
    source: side(),
    destination: side(),
    ...m,
  };
}

function state(v4: IngressEntry[], v6: IngressEntry[] = [], sets: Record<string, string[]> = {}): DesiredState {
  const counters = Math.max(0, ...[...v4, ...v6].map((e) => e.counter + 1));
  return {
    formatVersion: 1,
    host: 'h',
    hash: '',
    config: {
      acceptMark: 0,
      passMark: 0,
      xdpMode: 'native' as DesiredState['config']['xdpMode'],
      logRate: 0,
      logBurst: 0,
    },
    failsafes: [],
    sets: Object.fromEntries(
      Object.entries(sets).map(([id, prefixes]) => [
        id,
        { id, family: prefixes[0]?.includes(':') ? 6 : 4, prefixes, origin: id } as const,
      ]),
    ),
    interfaces: [
      {
        name: 'eth0',
        endpoint: 'ep',
        ingress: { v4, v6 },
        counters: Array.from({ length: counters }, (_, i) => ({
          policy: `p${i}`,
          direction: 'ingress' as const,
          index: 0,
        })),
      },
    ],
    egress: { interfaces: [], ipsets: [] },
  };
}

const tcp = (src: string, dport: number, extra: Partial<PacketDescription> = {}): PacketDescription => ({
  family: 4,
  protocol: 6,
  src,
  dst: '192.0.2.1',
  sport: 40000,
  dport,
  ...extra,
});

type Outcome = 'allow' | 'deny' | 'pass';

function verdict(p: PacketDescription): Outcome {
  const r = pl.run(frameFor(p));
  if (r.action === XDP_DROP) return 'deny';
  assert.is(r.action, XDP_PASS);
  return r.accepted ? 'allow' : 'pass';
}

/** Runs `fn` and returns how much the rule counters (packets) and the named global counters moved. */
function moved(
  rules: number[],
  globals: CounterName[],
  fn: () => void,
): { rules: number[]; globals: Record<string, number> } {
  const before = pl.ruleCounters(rules);
  const g0 = globals.map((g) => pl.counter(g).packets);
  fn();
  const after = pl.ruleCounters(rules);
  return {
    rules: rules.map((_, i) => Number(after[i]!.packets - before[i]!.packets)),
    globals: Object.fromEntries(globals.map((g, i) => [g, Number(pl.counter(g).packets - g0[i]!)])),
  };
}

kernelTest('the first matching rule in evaluation order decides', () => {
  pl.install(
    state(
      [
        entry(0, 'Deny', { protocol: 6, destination: side({ ports: port(80) }) }),
        entry(1, 'Allow', { source: side({ inSets: ['ten'] }) }),
        entry(2, 'Pass', { protocol: 6, source: side({ inSets: ['ten'] }), destination: side({ ports: port(80) }) }),
      ],
      [],
      { ten: ['10.0.0.0/8'] },
    ),
    'eth0',
  );
  assert.is(verdict(tcp('10.1.1.1', 80)), 'deny');
  assert.is(verdict(tcp('10.1.1.1', 81)), 'allow');
  assert.is(verdict(tcp('11.1.1.1', 80)), 'deny');
  assert.is(verdict({ family: 4, protocol: 17, src: '10.9.9.9', dst: '192.0.2.1', sport: 1, dport: 80 }), 'allow');
});

kernelTest('across groups of the layout, an earlier rule of a later group still wins', () => {
  // Groups of one entry and up: A = {0, 2} (protocol + port), B = {1} (source). A is scanned first; a packet that
  // matches 2 (in A) and 1 (in B) must get 1.
  const s = state(
    [
      entry(0, 'Deny', { protocol: 6, destination: side({ ports: port(22) }) }),
      entry(1, 'Allow', { source: side({ inSets: ['ten'] }) }),
      entry(2, 'Deny', { protocol: 6, destination: side({ ports: port(80) }) }),
    ],
    [],
    { ten: ['10.0.0.0/8'] },
  );
  for (const minGroupEntries of [1, 64]) {
    pl.install(s, 'eth0', { minGroupEntries });
    assert.is(verdict(tcp('10.1.1.1', 80)), 'allow', `groups of ${minGroupEntries}`);
    assert.is(verdict(tcp('11.1.1.1', 80)), 'deny');
    assert.is(verdict(tcp('10.1.1.1', 22)), 'deny');
  }
});

kernelTest(
  'Log then Deny: the Log rule is counted and recorded, the Deny decides; past four Log rules only the overflow is counted',
  () => {
    pl.install(
      state([
        entry(0, 'Log', { protocol: 6 }),
        entry(1, 'Deny', { protocol: 6, destination: side({ ports: port(23) }) }),
        entry(2, 'Allow', { protocol: 6 }),
      ]),
      'eth0',
    );
    const once = moved([0, 1, 2], ['logRateLimited', 'dropped'], () =>
      assert.is(verdict(tcp('198.51.100.1', 23)), 'deny'),
    );
    // The log rate is 0 here, so the epilogue's event for the recorded Log rule is rate-limited (counted as such).
    assert.equal(once, { rules: [1, 1, 0], globals: { logRateLimited: 1, dropped: 1 } });

    pl.install(
      state([
        ...Array.from({ length: 6 }, (_, i) => entry(i, 'Log', { protocol: 6 })),
        entry(6, 'Allow', { protocol: 6 }),
      ]),
      'eth0',
    );
    const many = moved([0, 1, 2, 3, 4, 5, 6], ['logOverflow', 'accepted'], () =>
      assert.is(verdict(tcp('198.51.100.1', 1)), 'allow'),
    );
    assert.equal(many, { rules: [1, 1, 1, 1, 0, 0, 1], globals: { logOverflow: 2, accepted: 1 } });
  },
);

kernelTest('Pass leaves the packet to tracked processing without the flag, and no match does too', () => {
  pl.install(
    state([entry(0, 'Pass', { source: side({ inSets: ['net'] }) }), entry(1, 'Allow', { protocol: 17 })], [], {
      net: ['203.0.113.0/24'],
    }),
    'eth0',
  );
  const pass = moved([0, 1], ['policyPassed', 'noMatch'], () =>
    assert.is(verdict({ ...tcp('203.0.113.9', 53), protocol: 17 }), 'pass'),
  );
  assert.equal(pass, { rules: [1, 0], globals: { policyPassed: 1, noMatch: 0 } });
  const none = moved([0, 1], ['policyPassed', 'noMatch'], () => assert.is(verdict(tcp('198.51.100.1', 53)), 'pass'));
  assert.equal(none, { rules: [0, 0], globals: { policyPassed: 0, noMatch: 1 } });
  assert.is(verdict({ ...tcp('198.51.100.1', 53), protocol: 17 }), 'allow');
});

kernelTest('not-fields: notProtocol, notPorts, notNets and notICMP exclude what they name', () => {
  pl.install(
    state(
      [
        entry(0, 'Deny', { notProtocol: 6, source: side({ inSets: ['a'] }) }),
        entry(1, 'Deny', {
          protocol: 6,
          source: side({ inSets: ['b'] }),
          destination: side({ notPorts: [{ from: 1, to: 1023 }] }),
        }),
        entry(2, 'Deny', { source: side({ inSets: ['c'], notInSets: ['c-hole'] }) }),
        entry(3, 'Deny', { protocol: 1, notICMP: { type: 8 } }),
        entry(4, 'Allow'),
      ],
      [],
      { a: ['10.1.0.0/16'], b: ['10.2.0.0/16'], c: ['10.3.0.0/16'], 'c-hole': ['10.3.3.0/24'] },
    ),
    'eth0',
  );
  assert.is(verdict({ ...tcp('10.1.0.1', 1), protocol: 17 }), 'deny', 'UDP is not TCP');
  assert.is(verdict(tcp('10.1.0.1', 1)), 'allow', 'TCP is excluded');
  assert.is(verdict(tcp('10.2.0.1', 8080)), 'deny', 'port outside the excluded range');
  assert.is(verdict(tcp('10.2.0.1', 443)), 'allow', 'port inside the excluded range');
  assert.is(verdict(tcp('10.3.9.9', 1)), 'deny', 'in c, outside the hole');
  assert.is(verdict(tcp('10.3.3.3', 1)), 'allow', 'in the hole');
  const icmp = (type: number): PacketDescription => ({
    family: 4,
    protocol: 1,
    src: '198.51.100.7',
    dst: '192.0.2.1',
    icmpType: type,
    icmpCode: 0,
  });
  assert.is(verdict(icmp(0)), 'deny', 'echo reply is not echo request');
  assert.is(verdict(icmp(8)), 'allow', 'echo request is excluded');
});

kernelTest(
  'a later fragment has no ports: a port rule (or notPorts rule) does not match it, a protocol rule does',
  () => {
    pl.install(
      state([
        entry(0, 'Deny', { protocol: 6, destination: side({ ports: port(80) }) }),
        entry(1, 'Deny', { protocol: 6, destination: side({ notPorts: port(443) }) }),
        entry(2, 'Pass', { protocol: 6 }),
      ]),
      'eth0',
    );
    const later = { family: 4, protocol: 6, src: '198.51.100.1', dst: '192.0.2.1', laterFragment: true } as const;
    assert.is(verdict(later), 'pass');
    assert.is(verdict(tcp('198.51.100.1', 80)), 'deny', 'the first fragment (or a whole packet) has its ports');
    assert.is(verdict(tcp('198.51.100.1', 443)), 'pass');
    const first = pl.run(frameFor(tcp('198.51.100.1', 80), { fragment: { offset: 0, more: true } }));
    assert.is(first.action, XDP_DROP, 'a first fragment carries the ports');
  },
);

kernelTest('IPv6 and ICMPv6: the family picks its own entries', () => {
  pl.install(
    state(
      [entry(0, 'Deny', { protocol: 6 })],
      [
        entry(1, 'Allow', { protocol: 58, icmp: { type: 128 } }),
        entry(2, 'Deny', { protocol: 6, source: side({ inSets: ['doc'] }), destination: side({ ports: port(22) }) }),
      ],
      { doc: ['2001:db8::/32'] },
    ),
    'eth0',
  );
  const v6 = (p: Partial<PacketDescription>): PacketDescription => ({
    family: 6,
    protocol: 6,
    src: '2001:db8::1',
    dst: '2001:db8:ffff::2',
    ...p,
  });
  assert.is(verdict(v6({ protocol: 58, icmpType: 128, icmpCode: 0 })), 'allow');
  assert.is(verdict(v6({ protocol: 58, icmpType: 129, icmpCode: 0 })), 'pass');
  assert.is(verdict(v6({ sport: 1, dport: 22 })), 'deny');
  assert.is(
    verdict(v6({ src: '2001:db9::1', sport: 1, dport: 22 })),
    'pass',
    'outside the set; IPv4 rules do not apply',
  );
  assert.is(verdict(tcp('198.51.100.1', 22)), 'deny');
});

test.run();

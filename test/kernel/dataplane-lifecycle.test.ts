// The life of notrack on an interface, in test namespaces: a foreign XDP program is a conflict that is never
// replaced; a new generation is switched in under traffic without losing a packet and the old one is removed;
// after a "crash" (every handle closed) the pins alone keep enforcing and detach + removal leave nothing behind.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync } from 'node:fs';
import { pinDir, run, vethPair, type NetNs, type VethPair } from '../support/netns.js';
import { loadHandPolicy, type HandRule } from '../support/hand-policy.js';
import {
  conntrackFlows,
  ping,
  pingFlood,
  receiveUdp,
  sendUdp,
  staticNeighbours,
  stopTraffic,
} from '../support/traffic.js';
import { ProgramBuilder, R0 } from '../../src/asm/index.js';
import {
  applyIptables,
  removeAll,
  DEFAULT_ACCEPT_MARK,
  DEFAULT_PASS_MARK,
  type CommandRunner,
  type IptablesDesired,
} from '../../src/dataplane/iptables/index.js';
import { applyIpsets, removeAllIpsets } from '../../src/dataplane/ipset/index.js';
import {
  attachInterface,
  detachInterface,
  loadInterfaceGeneration,
  observeInterface,
  setPolicyProgram,
  switchGeneration,
  XdpDataplaneError,
  type InterfaceGeneration,
} from '../../src/dataplane/xdp/index.js';
import {
  attachXdp,
  BpfError,
  interfaceIndex,
  loadProgram,
  ProgType,
  tcxQuery,
  xdpQuery,
  type BpfProgram,
} from '../../src/libbpf/index.js';
import { kernelGate } from '../support/kernel-gate.js';
import { clsBpfFilters } from '../../src/dataplane/tc-filters.js';

const gate = kernelGate('dataplane-lifecycle', {
  tools: ['iptables-restore', 'ipset', 'conntrack', 'socat', 'ss', 'ping', 'tc'],
});
const kt = gate.test;

const runnerIn =
  (ns: NetNs): CommandRunner =>
  (argv, input) =>
    ns.exec(argv, { input, allowFail: true });
const CONFIG = { acceptMark: DEFAULT_ACCEPT_MARK.value, acceptMask: DEFAULT_ACCEPT_MARK.mask, logRate: 0, logBurst: 0 };
const SSH = [{ direction: 'inbound' as const, protocol: 6, port: 22, net: null }];

function load(pair: VethPair, pins: string, ruleCounters = 4): InterfaceGeneration {
  return loadInterfaceGeneration({ ifname: pair.aDev, pinDir: pins, config: CONFIG, failsafes: SSH, ruleCounters });
}

function withPolicy(gen: InterfaceGeneration, rules: HandRule[], programs: BpfProgram[]): void {
  const p = loadHandPolicy(gen, rules);
  programs.push(p);
  setPolicyProgram(gen, p);
}

/** What is pinned under a bpffs mount, without the kernel's own preloaded iterators (maps.debug, progs.debug). */
const pinned = (dir: string): string[] => readdirSync(dir).filter((n) => !n.endsWith('.debug'));

function catchError(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected an error');
}

/** Nothing of notrack on the interface, in its pins, its iptables or its ipsets. */
function assertNothingLeft(pair: VethPair, pins: string): void {
  const { a, aDev } = pair;
  a.enter(() => {
    const ifindex = interfaceIndex(aDev);
    assert.is(xdpQuery(ifindex).mode, 'none', 'no XDP program');
    assert.equal(tcxQuery(ifindex, 'ingress').programIds, [], 'no tcx program');
    assert.equal(clsBpfFilters(ifindex, 'ingress'), [], 'no cls_bpf filter');
  });
  assert.equal(pinned(pins), [], 'no pin');
  for (const save of ['iptables-save', 'ip6tables-save']) {
    assert.not.match(a.exec([save]).stdout, /NOTRACK/, `no notrack chain or jump in ${save}`);
  }
  assert.is(a.exec(['ipset', 'list', '-n']).stdout.trim(), '', 'no ipset');
}

kt('a foreign XDP program is reported as a conflict, never replaced, and survives observe and detach', () => {
  const pair = vethPair(64);
  const pins = pinDir();
  const programs: BpfProgram[] = [];
  let gen: InterfaceGeneration | undefined;
  const foreign = loadProgram({
    type: ProgType.XDP,
    name: 'someone_else',
    insns: new ProgramBuilder().mov64(R0, 2).exit().assemble().bytes,
  });
  const { a, aDev } = pair;
  const foreignLink = a.enter(() =>
    attachXdp({ ifindex: interfaceIndex(aDev), program: foreign, mode: 'generic' }),
  ).link;
  try {
    gen = load(pair, pins.path);
    withPolicy(gen, [{ action: 'deny' }], programs);
    const g = gen;
    const e = catchError(() => a.enter(() => attachInterface({ ifname: aDev, generation: g, xdpMode: 'auto' })));
    assert.instance(e, BpfError);
    assert.is((e as BpfError).code, 'bpf-xdp-conflict');
    assert.match(e.message, new RegExp(`another XDP program is attached to ${aDev}.*someone_else`));

    a.enter(() => {
      const ifindex = interfaceIndex(aDev);
      assert.is(xdpQuery(ifindex).genericProgId, foreign.id, 'the foreign program is still attached');
      assert.equal(tcxQuery(ifindex, 'ingress').programIds, [], 'the TC half was rolled back');
    });
    assert.ok(ping(pair.b, pair.aAddr4, 4), 'the deny-all policy never ran: traffic flows');

    const obs = a.enter(() => observeInterface({ ifname: aDev, pinDir: pins.path }));
    assert.equal(
      obs.xdp.programs.map((p) => [p.id, p.ours]),
      [[foreign.id, false]],
    );
    assert.equal(obs.findings.map((f) => f.code).sort(), ['xdp-foreign', 'xdp-not-attached']);

    const detached = a.enter(() => detachInterface({ ifname: aDev, pinDir: pins.path }));
    assert.is(detached.xdpDetached, false);
    assert.equal(detached.otherXdpPrograms, [foreign.id], 'detach reports the foreign program and leaves it');
    assert.is(a.enter(() => xdpQuery(interfaceIndex(aDev))).genericProgId, foreign.id);
    assert.equal(pinned(pins.path), [], 'the unused generation was unpinned');
  } finally {
    a.enter(() => foreignLink.detach());
    foreign.close();
    gen?.close();
    for (const p of programs) p.close();
    pins.cleanup();
    pair.a.delete();
    pair.b.delete();
  }
});

kt(
  'switchGeneration moves XDP and TC to a new generation under traffic without losing a packet, then removes the old one',
  async () => {
    const pair = vethPair(65);
    const pins = pinDir();
    const programs: BpfProgram[] = [];
    const gens: InterfaceGeneration[] = [];
    const { a, aDev, b } = pair;
    try {
      staticNeighbours(pair);
      const first = load(pair, pins.path);
      gens.push(first);
      withPolicy(
        first,
        [
          { action: 'allow', proto: 1 },
          { action: 'deny', proto: 17, dport: 7500 },
        ],
        programs,
      );
      const attached = a.enter(() => attachInterface({ ifname: aDev, generation: first, xdpMode: 'auto' }));
      assert.is(attached.xdp.mode, 'native', 'auto picks native on veth');
      assert.is(attached.xdp.fallbackReason, undefined);
      const again = catchError(() =>
        a.enter(() => attachInterface({ ifname: aDev, generation: first, xdpMode: 'auto' })),
      );
      assert.instance(again, XdpDataplaneError);
      assert.is((again as XdpDataplaneError).code, 'xdp-already-attached');

      const blocked = await receiveUdp(a, 4, 7500, 1);
      sendUdp(b, 4, pair.aAddr4, 7500, 'before');
      assert.is(await blocked.received(), '', 'generation 1 denies udp 7500');

      const second = load(pair, pins.path);
      gens.push(second);
      assert.is(second.number, 2);
      withPolicy(
        second,
        [
          { action: 'allow', proto: 1 },
          { action: 'allow', proto: 17, dport: 7500 },
        ],
        programs,
      );

      const flood = pingFlood(b, pair.aAddr4, 4, 150, 0.01);
      await new Promise((r) => setTimeout(r, 600));
      const result = a.enter(() => switchGeneration({ ifname: aDev, pinDir: pins.path, to: second }));
      const { sent, received } = await flood;
      assert.equal(result, { ifname: aDev, from: 1, to: 2, switched: true, tcMechanism: 'tcx', removed: [1] });
      assert.is(sent, 150);
      assert.is(received, sent, 'no echo was lost across the switch');

      const open = await receiveUdp(a, 4, 7500, 3);
      sendUdp(b, 4, pair.aAddr4, 7500, 'after');
      assert.is(await open.received(), 'after', 'generation 2 allows udp 7500');
      assert.equal(
        conntrackFlows(a, 4).filter((l) => l.includes('dport=7500')),
        [],
      );

      const obs = a.enter(() => observeInterface({ ifname: aDev, pinDir: pins.path }));
      assert.is(obs.activeGeneration, 2);
      assert.equal(
        obs.generations.map((g) => g.number),
        [2],
        'generation 1 is unpinned',
      );
      assert.is(obs.xdp.link?.id, attached.xdp.linkId, 'the same XDP link, updated in place');
      assert.is(obs.tc.link?.id, attached.tc.linkId, 'the same tcx link, updated in place');
      assert.equal(
        obs.tc.programs.map((p) => p.generation),
        [2],
      );
      const live = obs.generations[0]!;
      assert.ok(live.counters.accepted.packets > 0n, 'generation 2 accepted the pings after the switch');
      assert.is(live.counters.noPolicy.packets, 0n, 'no packet met an empty policy slot');
      assert.equal(obs.findings, []);

      const noop = a.enter(() => switchGeneration({ ifname: aDev, pinDir: pins.path, to: second }));
      assert.is(noop.switched, false, 'switching to the running generation changes nothing');
    } finally {
      stopTraffic();
      try {
        a.enter(() => detachInterface({ ifname: aDev, pinDir: pins.path }));
      } finally {
        for (const g of gens) g.close();
        for (const p of programs) p.close();
        pins.cleanup();
        pair.a.delete();
        pair.b.delete();
      }
    }
  },
);

kt(
  'after a crash the pins alone keep enforcing; detach, iptables and ipset removal leave nothing, and detach twice is safe',
  async () => {
    const pair = vethPair(66);
    const pins = pinDir();
    const { a, aDev, b } = pair;
    const runner = runnerIn(a);
    try {
      staticNeighbours(pair);
      // A process sets everything up, then "dies": every fd it had is closed, only pins and kernel state remain.
      {
        const gen = load(pair, pins.path, 2);
        const policy = loadHandPolicy(gen, [
          { action: 'deny', proto: 17, dport: 7600 },
          { action: 'allow', proto: 17, dport: 7601 },
        ]);
        setPolicyProgram(gen, policy);
        a.enter(() => attachInterface({ ifname: aDev, generation: gen, xdpMode: 'generic' }));
        applyIpsets(runner, [{ name: 'notrack-peers', family: 4, members: ['10.200.66.0/24'] }]);
        const desired: IptablesDesired = {
          marks: { accept: DEFAULT_ACCEPT_MARK, pass: DEFAULT_PASS_MARK },
          failsafe: { inbound: [{ protocol: 6, port: 22 }], outbound: [] },
          log: { rate: 10, burst: 20 },
          egress: {
            interfaces: [
              {
                iface: aDev,
                policies: [
                  {
                    name: 'to-peers',
                    rules: [
                      {
                        index: 0,
                        action: 'Allow',
                        ipVersion: 4,
                        match: ['-m', 'set', '--match-set', 'notrack-peers', 'dst'],
                      },
                    ],
                  },
                ],
              },
            ],
          },
        };
        applyIptables(runner, desired, 4);
        applyIptables(runner, desired, 6);
        policy.close();
        gen.close();
      }

      const denied = await receiveUdp(a, 4, 7600, 1);
      sendUdp(b, 4, pair.aAddr4, 7600, 'x');
      assert.is(await denied.received(), '', 'the pinned generation still denies');
      const allowed = await receiveUdp(a, 4, 7601, 3);
      sendUdp(b, 4, pair.aAddr4, 7601, 'y');
      assert.is(await allowed.received(), 'y', 'and still allows');
      const obs = a.enter(() => observeInterface({ ifname: aDev, pinDir: pins.path }));
      assert.is(obs.activeGeneration, 1);
      assert.is(obs.xdp.mode, 'generic');
      assert.ok(obs.generations[0]!.policy.program, 'the policy program lives on in nt_jump');
      assert.is(obs.generations[0]!.ruleCounters.length, 2, 'nt_rule_counters was sized to the policy');
      assert.ok(obs.generations[0]!.ruleCounters[0]!.packets >= 1n);

      const first = a.enter(() => detachInterface({ ifname: aDev, pinDir: pins.path }));
      assert.is(first.xdpDetached, true);
      assert.is(first.tcDetached, 'tcx');
      assert.equal(first.otherXdpPrograms, []);
      removeAll(runner);
      removeAllIpsets(runner);
      assertNothingLeft(pair, pins.path);

      const second = a.enter(() => detachInterface({ ifname: aDev, pinDir: pins.path }));
      assert.equal(second, {
        ifname: aDev,
        interfacePresent: true,
        xdpDetached: false,
        tcDetached: null,
        otherXdpPrograms: [],
        unpinned: [],
      });
      const udp = await receiveUdp(a, 4, 7600, 3);
      sendUdp(b, 4, pair.aAddr4, 7600, 'free');
      assert.is(await udp.received(), 'free', 'nothing drops traffic any more');
    } finally {
      stopTraffic();
      try {
        a.enter(() => detachInterface({ ifname: aDev, pinDir: pins.path }));
        removeAll(runner);
        removeAllIpsets(runner);
      } finally {
        pins.cleanup();
        pair.a.delete();
        pair.b.delete();
      }
    }
  },
);

kt('when the interface is deleted, observe reports the stale pins and detach removes them', () => {
  const pair = vethPair(67);
  const pins = pinDir();
  const { a, aDev, b, bDev } = pair;
  let gen: InterfaceGeneration | undefined;
  try {
    gen = load(pair, pins.path);
    const g = gen;
    a.enter(() => attachInterface({ ifname: aDev, generation: g, xdpMode: 'native' }));
    b.exec(['ip', 'link', 'del', bDev]);
    const obs = a.enter(() => observeInterface({ ifname: aDev, pinDir: pins.path }));
    assert.is(obs.ifindex, null);
    assert.is(obs.xdp.link?.live, false);
    assert.equal(
      obs.findings.map((f) => f.code),
      ['interface-missing', 'xdp-link-defunct'],
    );
    const detached = a.enter(() => detachInterface({ ifname: aDev, pinDir: pins.path }));
    assert.equal([detached.interfacePresent, detached.xdpDetached, detached.tcDetached], [false, false, null]);
    assert.is(detached.unpinned.length, 3, 'both link pins and the generation folder');
    assert.equal(pinned(pins.path), []);
  } finally {
    gen?.close();
    pins.cleanup();
    pair.a.delete();
    pair.b.delete();
  }
});

test.run();

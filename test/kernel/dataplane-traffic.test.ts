// Real IPv4 and IPv6 traffic through notrack's whole ingress path (XDP entry + hand-made policy, TC mark, iptables
// raw/filter) between two namespaces: Deny drops at XDP, Allow is untracked and gets past INPUT DROP with its mark
// cleared, Pass and no match stay tracked, failsafes pass tracked under a deny-all policy; native and generic XDP,
// tcx and cls_bpf (switched in place too).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { pinDir, run, vethPair, type NetNs, type VethPair } from '../support/netns.js';
import { loadHandPolicy, type HandRule } from '../support/hand-policy.js';
import {
  conntrackFlows,
  ping,
  receiveTcp,
  receiveUdp,
  sendTcp,
  sendUdp,
  staticNeighbours,
  stopTraffic,
  type Family,
} from '../support/traffic.js';
import {
  applyIptables,
  parseIptablesSave,
  removeAll,
  DEFAULT_ACCEPT_MARK,
  DEFAULT_PASS_MARK,
  type CommandRunner,
  type IptablesDesired,
} from '../../src/dataplane/iptables/index.js';
import {
  attachInterface,
  detachInterface,
  loadInterfaceGeneration,
  observeInterface,
  setPolicyProgram,
  switchGeneration,
  type InterfaceGeneration,
  type ObservedGeneration,
} from '../../src/dataplane/xdp/index.js';
import type { BpfProgram, TcMechanism } from '../../src/libbpf/index.js';
import { kernelGate } from '../support/kernel-gate.js';

const gate = kernelGate('dataplane-traffic', {
  tools: ['iptables-restore', 'ip6tables-restore', 'conntrack', 'socat', 'ss', 'ping', 'tc'],
});
const kt = gate.test;

const runnerIn =
  (ns: NetNs): CommandRunner =>
  (argv, input) =>
    ns.exec(argv, { input, allowFail: true });
const MARK = '0x40000000/0x40000000';

/** The policy under test; a rule's index is its position (and its counter). */
const RULES: HandRule[] = [
  { action: 'deny', proto: 17, dport: 7100 }, // 0
  { action: 'deny', proto: 6, dport: 7101 }, // 1
  { action: 'allow', proto: 17, dport: 7200 }, // 2
  { action: 'allow', proto: 6, dport: 7201 }, // 3
  { action: 'allow', proto: 1, icmpType: 8 }, // 4: ICMP echo request
  { action: 'allow', proto: 58, icmpType: 128 }, // 5: ICMPv6 echo request
  { action: 'pass', proto: 17, dport: 7300 }, // 6
];
const DENY_ALL: HandRule[] = [{ action: 'deny' }];

/**
 * The host's own rules, as on a locked-down server: INPUT drops everything but established flows and a few
 * services. Around them, counters that watch the mark: mangle PREROUTING (after raw, before filter) sees what TC
 * marked; security INPUT (after filter) must never see the mark, since notrack's filter chain clears it.
 */
const HOST_RULES = `*filter
:INPUT DROP [0:0]
-A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
-A INPUT -p udp -m udp --dport 7300 -j ACCEPT
-A INPUT -p udp -m udp --dport 7400 -j ACCEPT
-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT
COMMIT
*mangle
-A PREROUTING -m mark --mark ${MARK}
COMMIT
*security
-A INPUT -m mark --mark ${MARK}
COMMIT
`;

/** notrack's iptables side: replies of the allowed services leave untracked too (stateless needs both ways). */
function iptablesDesired(iface: string): IptablesDesired {
  return {
    marks: { accept: DEFAULT_ACCEPT_MARK, pass: DEFAULT_PASS_MARK },
    failsafe: { inbound: [{ protocol: 6, port: 22 }], outbound: [] },
    log: { rate: 10, burst: 20 },
    egress: {
      interfaces: [
        {
          iface,
          policies: [
            {
              name: 'replies',
              rules: [
                { index: 0, action: 'Allow', match: ['-p', 'icmp', '-m', 'icmp', '--icmp-type', '0'], ipVersion: 4 },
                {
                  index: 1,
                  action: 'Allow',
                  match: ['-p', 'ipv6-icmp', '-m', 'icmp6', '--icmpv6-type', '129'],
                  ipVersion: 6,
                },
                { index: 2, action: 'Allow', match: ['-p', 'tcp', '-m', 'tcp', '--sport', '7201'] },
              ],
            },
          ],
        },
      ],
    },
  };
}

interface Host {
  pair: VethPair;
  pins: { path: string; cleanup: () => void };
  gen?: InterfaceGeneration;
  policies: BpfProgram[];
}

/** Namespaces, host rules, a generation attached to a's veth, notrack's chains, and `rules` as the policy. */
function setUp(host: Host, opts: { xdpMode: 'native' | 'generic'; tcMechanism: TcMechanism; rules: HandRule[] }): void {
  const { a, aDev } = host.pair;
  staticNeighbours(host.pair);
  a.exec(['iptables-restore', '--noflush'], { input: HOST_RULES });
  a.exec(['ip6tables-restore', '--noflush'], { input: HOST_RULES });
  host.gen = loadInterfaceGeneration({
    ifname: aDev,
    pinDir: host.pins.path,
    config: { acceptMark: DEFAULT_ACCEPT_MARK.value, acceptMask: DEFAULT_ACCEPT_MARK.mask, logRate: 0, logBurst: 0 },
    failsafes: [{ direction: 'inbound', protocol: 6, port: 22, net: null }],
    ruleCounters: RULES.length,
  });
  const gen = host.gen;
  const attachment = a.enter(() =>
    attachInterface({ ifname: aDev, generation: gen, xdpMode: opts.xdpMode, tcMechanism: opts.tcMechanism }),
  );
  assert.is(attachment.xdp.mode, opts.xdpMode);
  assert.is(attachment.tc.mechanism, opts.tcMechanism);
  for (const family of [4, 6] as const) applyIptables(runnerIn(a), iptablesDesired(aDev), family);
  const policy = loadHandPolicy(gen, opts.rules);
  host.policies.push(policy);
  setPolicyProgram(gen, policy);
}

function tearDown(host: Host): void {
  stopTraffic();
  const { a, aDev } = host.pair;
  try {
    a.enter(() => detachInterface({ ifname: aDev, pinDir: host.pins.path }));
    removeAll(runnerIn(a));
  } finally {
    host.gen?.close();
    for (const p of host.policies) p.close();
    host.pins.cleanup();
    host.pair.a.delete();
    host.pair.b.delete();
  }
}

function observeGen(host: Host): ObservedGeneration {
  const { a, aDev } = host.pair;
  const obs = a.enter(() => observeInterface({ ifname: aDev, pinDir: host.pins.path }));
  const gen = obs.generations.find((g) => g.attached);
  if (!gen) throw new Error(`no attached generation: ${JSON.stringify(obs.findings)}`);
  return gen;
}

/** Packets counted by the host rule `-m mark --mark ...` in `table` `chain` (iptables or ip6tables). */
function markCounter(ns: NetNs, family: Family, table: 'mangle' | 'security', chain: string): number {
  const saved = ns.exec([family === 4 ? 'iptables-save' : 'ip6tables-save', '-c', '-t', table]).stdout;
  const rule = parseIptablesSave(saved)
    .get(table)
    ?.find((c) => c.name === chain)
    ?.rules.find((r) => r.text === `-m mark --mark ${MARK}`);
  if (!rule) throw new Error(`no mark counter in ${table} ${chain} (IPv${family})`);
  return rule.packets;
}

const addrOf = (pair: VethPair, family: Family): string => (family === 4 ? pair.aAddr4 : pair.aAddr6);
const delta = (
  after: ObservedGeneration,
  before: ObservedGeneration,
  counter: keyof ObservedGeneration['counters'],
): bigint => after.counters[counter].packets - before.counters[counter].packets;
const ruleDelta = (after: ObservedGeneration, before: ObservedGeneration, rule: number): bigint =>
  after.ruleCounters[rule]!.packets - before.ruleCounters[rule]!.packets;

kt(
  'native XDP + tcx: Deny drops at XDP, Allow is untracked past INPUT DROP with its mark cleared, Pass and no match stay tracked (IPv4 and IPv6)',
  async () => {
    const host: Host = { pair: vethPair(61), pins: pinDir(), policies: [] };
    try {
      setUp(host, { xdpMode: 'native', tcMechanism: 'tcx', rules: RULES });
      const { a, b } = host.pair;
      const obs = a.enter(() => observeInterface({ ifname: host.pair.aDev, pinDir: host.pins.path }));
      assert.is(obs.xdp.mode, 'native', 'observeInterface reads native mode back');
      assert.is(obs.tc.mechanism, 'tcx');
      assert.equal(obs.findings, []);

      for (const family of [4, 6] as const) {
        const to = addrOf(host.pair, family);
        const v = `IPv${family}`;
        a.exec(['conntrack', '-F'], { allowFail: true });

        // Deny: dropped at XDP, counted as DROPPED and against rules 0 and 1.
        let before = observeGen(host);
        const udpDenied = await receiveUdp(a, family, 7100, 1.5);
        sendUdp(b, family, to, 7100, 'denied');
        assert.not.ok(sendTcp(b, family, to, 7101, 'denied', 1), `${v} Deny: no TCP connection`);
        assert.is(await udpDenied.received(), '', `${v} Deny: the UDP datagram never arrived`);
        let after = observeGen(host);
        assert.ok(
          delta(after, before, 'dropped') >= 2n,
          `${v} Deny: DROPPED rose by ${delta(after, before, 'dropped')}`,
        );
        assert.ok(
          ruleDelta(after, before, 0) >= 1n && ruleDelta(after, before, 1) >= 1n,
          `${v} Deny: rules 0 and 1 counted`,
        );

        // Allow: arrives although INPUT drops all but established flows, without any conntrack entry, mark cleared.
        before = observeGen(host);
        const markedBefore = markCounter(a, family, 'mangle', 'PREROUTING');
        const udpAllowed = await receiveUdp(a, family, 7200, 3);
        sendUdp(b, family, to, 7200, 'allowed-udp');
        assert.is(await udpAllowed.received(), 'allowed-udp', `${v} Allow: the UDP datagram arrived`);
        const tcpAllowed = await receiveTcp(a, family, 7201, 3);
        assert.ok(sendTcp(b, family, to, 7201, 'allowed-tcp', 2), `${v} Allow: TCP connected`);
        assert.is(await tcpAllowed.received(), 'allowed-tcp', `${v} Allow: the TCP data arrived`);
        assert.ok(ping(b, to, family), `${v} Allow: echo answered`);
        after = observeGen(host);
        const flows = conntrackFlows(a, family);
        assert.equal(
          flows.filter((l) => /dport=720[01]|sport=720[01]|icmp/.test(l)),
          [],
          `${v} Allow: no conntrack entry`,
        );
        assert.ok(
          delta(after, before, 'accepted') >= 4n,
          `${v} Allow: ACCEPTED rose by ${delta(after, before, 'accepted')}`,
        );
        assert.ok(
          after.tcCounters.accepted.packets - before.tcCounters.accepted.packets >= 4n,
          `${v} Allow: TC marked them`,
        );
        for (const rule of [2, 3, family === 4 ? 4 : 5])
          assert.ok(ruleDelta(after, before, rule) >= 1n, `${v} Allow: rule ${rule} counted`);
        assert.ok(
          markCounter(a, family, 'mangle', 'PREROUTING') - markedBefore >= 4,
          `${v} Allow: the packets reached netfilter with the mark`,
        );
        assert.is(
          markCounter(a, family, 'security', 'INPUT'),
          0,
          `${v} Allow: no packet left the filter table with the mark`,
        );

        // Pass and no match: XDP lets them on tracked; the host's own INPUT rules accept them.
        before = observeGen(host);
        const passed = await receiveUdp(a, family, 7300, 3);
        sendUdp(b, family, to, 7300, 'passed');
        assert.is(await passed.received(), 'passed', `${v} Pass: arrived`);
        const unmatched = await receiveUdp(a, family, 7400, 3);
        sendUdp(b, family, to, 7400, 'unmatched');
        assert.is(await unmatched.received(), 'unmatched', `${v} no match: arrived`);
        after = observeGen(host);
        const tracked = conntrackFlows(a, family);
        assert.ok(
          tracked.some((l) => l.includes('dport=7300')),
          `${v} Pass: tracked\n${tracked.join('\n')}`,
        );
        assert.ok(
          tracked.some((l) => l.includes('dport=7400')),
          `${v} no match: tracked\n${tracked.join('\n')}`,
        );
        assert.ok(
          delta(after, before, 'policyPassed') >= 1n && ruleDelta(after, before, 6) >= 1n,
          `${v} Pass: counted as a Pass by rule 6`,
        );
        assert.ok(delta(after, before, 'noMatch') >= 1n, `${v} no match: counted as NO_MATCH`);
      }
    } finally {
      tearDown(host);
    }
  },
);

kt('failsafe: tcp 22 gets through, tracked, while the policy denies everything (IPv4 and IPv6)', async () => {
  const host: Host = { pair: vethPair(62), pins: pinDir(), policies: [] };
  try {
    setUp(host, { xdpMode: 'native', tcMechanism: 'tcx', rules: DENY_ALL });
    const { a, b } = host.pair;
    for (const family of [4, 6] as const) {
      const to = addrOf(host.pair, family);
      const v = `IPv${family}`;
      const before = observeGen(host);
      const ssh = await receiveTcp(a, family, 22, 3);
      assert.ok(sendTcp(b, family, to, 22, 'operator', 2), `${v}: the failsafe port connects`);
      assert.is(await ssh.received(), 'operator');
      const other = await receiveUdp(a, family, 7300, 1);
      sendUdp(b, family, to, 7300, 'denied');
      assert.is(
        await other.received(),
        '',
        `${v}: everything else is denied (udp 7300, accepted by the host, never arrives)`,
      );
      const after = observeGen(host);
      assert.ok(
        conntrackFlows(a, family).some((l) => l.includes('dport=22')),
        `${v}: the failsafe flow is tracked`,
      );
      assert.ok(delta(after, before, 'failsafe') >= 2n, `${v}: FAILSAFE counted the connection's packets`);
      assert.ok(
        delta(after, before, 'dropped') >= 1n && ruleDelta(after, before, 0) >= 1n,
        `${v}: the deny-all rule dropped the rest`,
      );
    }
  } finally {
    tearDown(host);
  }
});

kt(
  "generic XDP + cls_bpf: the modes are read back, Allow is untracked and marked, Deny drops; a switch replaces the filter's program; detach removes filter and qdisc",
  async () => {
    const host: Host = { pair: vethPair(63), pins: pinDir(), policies: [] };
    try {
      setUp(host, { xdpMode: 'generic', tcMechanism: 'cls_bpf', rules: RULES });
      const { a, aDev, b } = host.pair;
      const obs = a.enter(() => observeInterface({ ifname: aDev, pinDir: host.pins.path }));
      assert.is(obs.xdp.mode, 'generic', 'observeInterface reads generic mode back');
      assert.is(obs.tc.mechanism, 'cls_bpf');
      assert.equal(
        obs.tc.programs.map((p) => [p.via, p.ours]),
        [['cls_bpf', true]],
      );
      assert.equal(obs.findings, []);

      for (const family of [4, 6] as const) {
        const to = addrOf(host.pair, family);
        const v = `IPv${family}`;
        const before = observeGen(host);
        const allowed = await receiveUdp(a, family, 7200, 3);
        sendUdp(b, family, to, 7200, 'allowed');
        assert.is(await allowed.received(), 'allowed', `${v} Allow: arrived past INPUT DROP`);
        const denied = await receiveUdp(a, family, 7100, 1);
        sendUdp(b, family, to, 7100, 'denied');
        assert.is(await denied.received(), '', `${v} Deny: dropped`);
        const after = observeGen(host);
        assert.equal(
          conntrackFlows(a, family).filter((l) => l.includes('dport=7200')),
          [],
          `${v} Allow: untracked`,
        );
        assert.ok(
          after.tcCounters.accepted.packets - before.tcCounters.accepted.packets >= 1n,
          `${v}: cls_bpf marked it`,
        );
        assert.ok(delta(after, before, 'dropped') >= 1n, `${v}: DROPPED counted`);
        assert.is(markCounter(a, family, 'security', 'INPUT'), 0, `${v}: the mark was cleared`);
      }

      // A switch replaces the cls_bpf filter's program in place (tc filter replace) and keeps marking.
      const next = loadInterfaceGeneration({
        ifname: aDev,
        pinDir: host.pins.path,
        config: {
          acceptMark: DEFAULT_ACCEPT_MARK.value,
          acceptMask: DEFAULT_ACCEPT_MARK.mask,
          logRate: 0,
          logBurst: 0,
        },
        failsafes: [],
        ruleCounters: RULES.length,
      });
      try {
        const policy = loadHandPolicy(next, RULES);
        host.policies.push(policy);
        setPolicyProgram(next, policy);
        const switched = a.enter(() => switchGeneration({ ifname: aDev, pinDir: host.pins.path, to: next }));
        assert.equal([switched.switched, switched.tcMechanism, switched.removed], [true, 'cls_bpf', [1]]);
        const afterSwitch = a.enter(() => observeInterface({ ifname: aDev, pinDir: host.pins.path }));
        assert.equal(
          afterSwitch.tc.programs.map((p) => [p.via, p.generation]),
          [['cls_bpf', 2]],
          'one filter, running generation 2',
        );
        const allowed = await receiveUdp(a, 4, 7200, 3);
        sendUdp(b, 4, host.pair.aAddr4, 7200, 'after-switch');
        assert.is(
          await allowed.received(),
          'after-switch',
          'Allow still gets past INPUT DROP: the new TC program marks',
        );
        assert.ok(observeGen(host).tcCounters.accepted.packets >= 1n, 'generation 2 marked it');
      } finally {
        next.close();
      }

      a.enter(() => detachInterface({ ifname: aDev, pinDir: host.pins.path }));
      assert.is(a.exec(['tc', 'filter', 'show', 'dev', aDev, 'ingress']).stdout.trim(), '', 'no filter left');
      assert.not.match(
        a.exec(['tc', 'qdisc', 'show', 'dev', aDev]).stdout,
        /clsact/,
        'the clsact qdisc notrack made is gone',
      );
      assert.not.match(a.exec(['ip', 'link', 'show', aDev]).stdout, /xdp/, 'no XDP program left');
    } finally {
      tearDown(host);
    }
  },
);

test.run();

// Real packets between two namespaces through notrack's chains: marked ingress is untracked and accepted past a
// DROP policy with its mark cleared, unmarked ingress is tracked and dropped; egress Deny drops, Allow untracks,
// Pass ends evaluation and leaves the packet tracked.
import { spawn } from 'node:child_process';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { run, vethPair, type NetNs, type VethPair } from '../support/netns.js';
import {
  applyIptables,
  observeIptables,
  parseIptablesSave,
  readRuleCounters,
  DEFAULT_ACCEPT_MARK,
  DEFAULT_PASS_MARK,
  type CommandRunner,
  type EgressPolicy,
  type IptablesDesired,
} from '../../src/dataplane/iptables/index.js';
import { kernelGate } from '../support/kernel-gate.js';

const gate = kernelGate('iptables-traffic', { tools: ['iptables-restore', 'conntrack', 'socat', 'nft', 'ss'] });
const kt = gate.test;

const runnerIn =
  (ns: NetNs): CommandRunner =>
  (argv, input) =>
    ns.exec(argv, { input, allowFail: true });

const desired = (policies: EgressPolicy[] = [], iface = ''): IptablesDesired => ({
  marks: { accept: DEFAULT_ACCEPT_MARK, pass: DEFAULT_PASS_MARK },
  failsafe: { inbound: [], outbound: [] },
  log: { rate: 10, burst: 20 },
  egress: { interfaces: policies.length ? [{ iface, policies }] : [] },
});

/** Packet count of the host rule in `table` `chain` that iptables-save prints as `text`. */
function hostCounter(ns: NetNs, table: string, chain: string, text: string): number {
  const saved = ns.exec(['iptables-save', '-c', '-t', table]).stdout;
  const rule = parseIptablesSave(saved)
    .get(table)
    ?.find((c) => c.name === chain)
    ?.rules.find((r) => r.text === text);
  if (!rule) throw new Error(`no rule "${text}" in ${table} ${chain}`);
  return rule.packets;
}

/** The packets counted by a policy rule (by its comment) or a structural rule (by its chain and target). */
function notrackCounter(ns: NetNs, rule: string | { chain: string; target: string }, family: 4 | 6 = 4): number {
  const c = readRuleCounters(observeIptables(runnerIn(ns), family)).find((r) =>
    typeof rule === 'string' ? r.comment === rule : r.chain === rule.chain && r.target === rule.target,
  );
  if (!c) throw new Error(`no notrack rule ${JSON.stringify(rule)}`);
  return c.packets;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Receives one UDP datagram on `port` inside `ns` (empty string when none came within `seconds`). */
async function receiveUdp(ns: NetNs, port: number, seconds: number): Promise<() => Promise<string>> {
  const child = spawn(
    'ip',
    ['netns', 'exec', ns.name, 'timeout', String(seconds), 'socat', '-u', `UDP4-RECVFROM:${port}`, 'STDOUT'],
    {
      stdio: ['ignore', 'pipe', 'ignore'],
    },
  );
  let out = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const closed = new Promise<string>((resolve) => child.on('close', () => resolve(out)));
  for (let i = 0; i < 100; i++) {
    if (ns.exec(['ss', '-Hlun', `sport = :${port}`]).stdout.trim() !== '') return () => closed;
    await sleep(20);
  }
  child.kill();
  throw new Error(`nothing listens on udp ${port} in ${ns.name}`);
}

function sendUdp(from: NetNs, to: string, port: number, text: string): void {
  from.exec(['socat', '-u', 'STDIN', `UDP4-SENDTO:${to}:${port}`], { input: text });
}

const ping = (ns: NetNs, to: string, family: 4 | 6 = 4): boolean =>
  ns.exec(['ping', `-${family}`, '-c', '1', '-W', '1', to], { allowFail: true }).status === 0;

const conntrackEntries = (ns: NetNs): string => ns.exec(['conntrack', '-L'], { allowFail: true }).stdout;

kt(
  'a marked packet is untracked, gets past INPUT DROP and loses its mark; an unmarked one is tracked and dropped',
  async () => {
    let pair: VethPair | undefined;
    try {
      pair = vethPair(31);
      const { a, b, aAddr4 } = pair;
      // The host: INPUT DROP with only a stateful accept. Counters around the filter table show what happened:
      // mangle INPUT runs before filter (conntrack state), security INPUT after it (what filter let through).
      a.exec(['iptables-restore', '--noflush'], {
        input: `*filter
:INPUT DROP [0:0]
-A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
COMMIT
*mangle
-A INPUT -p udp --dport 7000 -m conntrack --ctstate UNTRACKED
-A INPUT -p udp --dport 7001 -m conntrack --ctstate NEW
COMMIT
*security
-A INPUT -p udp --dport 7000 -m mark --mark 0x40000000/0x40000000
-A INPUT -p udp --dport 7000
COMMIT
`,
      });
      // Stand-in for the TC hook: mark port 7000 before raw PREROUTING (priority -300) sees the packet. A mangle
      // PREROUTING rule would come too late: conntrack (priority -200) would already have tracked the packet.
      a.exec(['nft', '-f', '-'], {
        input:
          'table ip nttmark {\n chain pre {\n  type filter hook prerouting priority -350; policy accept;\n  udp dport 7000 meta mark set meta mark | 0x40000000\n }\n}\n',
      });
      applyIptables(runnerIn(a), desired(), 4);

      const marked = await receiveUdp(a, 7000, 5);
      const unmarked = await receiveUdp(a, 7001, 1);
      sendUdp(b, aAddr4, 7000, 'marked');
      sendUdp(b, aAddr4, 7001, 'unmarked');
      assert.is(await marked(), 'marked', 'the marked datagram reached the socket');
      assert.is(await unmarked(), '', 'the unmarked datagram was dropped by INPUT DROP');

      assert.is(
        hostCounter(a, 'mangle', 'INPUT', '-p udp -m udp --dport 7000 -m conntrack --ctstate UNTRACKED'),
        1,
        'marked: conntrack state UNTRACKED',
      );
      assert.not.ok(conntrackEntries(a).includes('dport=7000'), 'marked: no conntrack entry');
      assert.is(
        notrackCounter(a, { chain: 'NOTRACK-PREROUTING', target: 'NOTRACK' }),
        1,
        'raw NOTRACK rule counted it',
      );
      assert.is(notrackCounter(a, { chain: 'NOTRACK-INPUT', target: 'NOTRACK-ACCEPT' }), 1, 'filter INPUT accepted it');
      assert.is(
        hostCounter(a, 'security', 'INPUT', '-p udp -m udp --dport 7000 -m mark --mark 0x40000000/0x40000000'),
        0,
        'the mark was cleared before the packet left filter',
      );
      assert.is(
        hostCounter(a, 'security', 'INPUT', '-p udp -m udp --dport 7000'),
        1,
        'the packet went on past filter INPUT',
      );
      assert.is(
        hostCounter(a, 'mangle', 'INPUT', '-p udp -m udp --dport 7001 -m conntrack --ctstate NEW'),
        1,
        'unmarked: conntrack state NEW (tracked)',
      );
    } finally {
      pair?.a.delete();
      pair?.b.delete();
    }
  },
);

kt(
  'egress: Deny drops in raw, Allow untracks past a DROP OUTPUT policy, Pass ends evaluation and stays tracked',
  async () => {
    let pair: VethPair | undefined;
    try {
      pair = vethPair(32);
      const { a, aDev, bAddr4, bAddr6 } = pair;
      const runner = runnerIn(a);
      const icmp = ['-p', 'icmp'];
      a.exec(['iptables', '-t', 'raw', '-A', 'OUTPUT', '-p', 'icmp', '-m', 'mark', '--mark', '0x20000000/0x20000000']);
      a.exec(['iptables', '-t', 'raw', '-A', 'OUTPUT', '-p', 'icmp']);
      a.exec(['iptables', '-A', 'OUTPUT', '-m', 'conntrack', '--ctstate', 'NEW']); // turns conntrack on in the namespace
      assert.ok(ping(a, bAddr4), 'the peer answers before any policy');

      // Deny.
      applyIptables(
        runner,
        desired([{ name: 'deny-ping', rules: [{ index: 0, action: 'Deny', match: icmp }] }], aDev),
        4,
      );
      assert.not.ok(ping(a, bAddr4), 'Deny: no answer');
      assert.ok(notrackCounter(a, 'notrack:deny-ping:0') >= 1, 'Deny: the rule counted the packet');

      // No match in one policy goes on to the next, which denies.
      applyIptables(
        runner,
        desired(
          [
            { name: 'smtp-only', rules: [{ index: 0, action: 'Allow', match: ['-p', 'tcp', '--dport', '25'] }] },
            { name: 'deny-rest', rules: [{ index: 0, action: 'Deny', match: [] }] },
          ],
          aDev,
        ),
        4,
      );
      assert.not.ok(ping(a, bAddr4), 'no match falls through to the next policy');

      // Pass ends evaluation: the later Deny is skipped, the packet is tracked, the pass bit is gone from raw OUTPUT.
      a.exec(['conntrack', '-F'], { allowFail: true });
      const deniedBefore = notrackCounter(a, 'notrack:deny-rest:0');
      applyIptables(
        runner,
        desired(
          [
            { name: 'pass-ping', rules: [{ index: 0, action: 'Pass', match: icmp }] },
            { name: 'deny-rest', rules: [{ index: 0, action: 'Deny', match: [] }] },
          ],
          aDev,
        ),
        4,
      );
      assert.ok(ping(a, bAddr4), 'Pass: the later Deny did not apply');
      assert.ok(conntrackEntries(a).includes(`dst=${bAddr4}`), 'Pass: the flow is tracked');
      assert.ok(notrackCounter(a, 'notrack:pass-ping:0') >= 1);
      // deny-rest did not change, so its chain (and counter) survived the apply: the ping must not have reached it.
      assert.is(notrackCounter(a, 'notrack:deny-rest:0'), deniedBefore, 'Pass: the later policy saw nothing');
      assert.is(
        hostCounter(a, 'raw', 'OUTPUT', '-p icmp -m mark --mark 0x20000000/0x20000000'),
        0,
        "no packet left notrack's chains with the pass bit",
      );
      assert.ok(
        hostCounter(a, 'raw', 'OUTPUT', '-p icmp') >= 1,
        "Pass returned to raw OUTPUT: the host's raw rules still ran",
      );

      // Allow: untracked, and accepted by filter even though the host's OUTPUT policy drops new flows.
      a.exec(['conntrack', '-F'], { allowFail: true });
      applyIptables(
        runner,
        desired([{ name: 'allow-ping', rules: [{ index: 0, action: 'Allow', match: icmp }] }], aDev),
        4,
      );
      a.exec(['iptables', '-P', 'OUTPUT', 'DROP']);
      assert.ok(ping(a, bAddr4), 'Allow: answered although OUTPUT drops');
      assert.not.ok(conntrackEntries(a).includes(`dst=${bAddr4}`), 'Allow: no conntrack entry');
      assert.ok(notrackCounter(a, 'notrack:allow-ping:0') >= 1);
      a.exec(['iptables', '-P', 'OUTPUT', 'ACCEPT']);

      // IPv6: a Deny for ICMPv6 echo requests only, rendered into ip6tables; IPv4 is not affected.
      applyIptables(
        runner,
        desired(
          [
            {
              name: 'deny-ping6',
              rules: [{ index: 0, action: 'Deny', match: ['-p', 'ipv6-icmp', '--icmpv6-type', '128'], ipVersion: 6 }],
            },
          ],
          aDev,
        ),
        4,
      );
      applyIptables(
        runner,
        desired(
          [
            {
              name: 'deny-ping6',
              rules: [{ index: 0, action: 'Deny', match: ['-p', 'ipv6-icmp', '--icmpv6-type', '128'], ipVersion: 6 }],
            },
          ],
          aDev,
        ),
        6,
      );
      assert.not.ok(ping(a, bAddr6, 6), 'IPv6 Deny: no answer');
      assert.ok(notrackCounter(a, 'notrack:deny-ping6:0', 6) >= 1);
      assert.ok(ping(a, bAddr4), 'IPv4 still answered');
    } finally {
      pair?.a.delete();
      pair?.b.delete();
    }
  },
);

test.run();

// Applying notrack's chains in a namespace: one jump at the top of each built-in chain, the host's rules untouched
// and in order, a second apply changes nothing, unchanged chains keep counting, removeAll restores the tables.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { NetNs, run } from '../support/netns.js';
import {
  applyIptables,
  observeIptables,
  diffIptables,
  removeAll,
  readRuleCounters,
  parseIptablesSave,
  DEFAULT_ACCEPT_MARK,
  DEFAULT_PASS_MARK,
  type CommandRunner,
  type IptablesDesired,
  type Family,
} from '../../src/dataplane/iptables/index.js';
import { kernelGate } from '../support/kernel-gate.js';

const gate = kernelGate('iptables-apply', { tools: ['iptables-restore'] });
const kt = gate.test;

const runnerIn =
  (ns: NetNs): CommandRunner =>
  (argv, input) =>
    ns.exec(argv, { input, allowFail: true });

const desired = (extraRule = false): IptablesDesired => ({
  marks: { accept: DEFAULT_ACCEPT_MARK, pass: DEFAULT_PASS_MARK },
  failsafe: { inbound: [{ protocol: 6, port: 22 }], outbound: [{ protocol: 17, port: 53 }] },
  log: { rate: 10, burst: 20 },
  egress: {
    interfaces: [
      {
        iface: 'lo',
        policies: [
          {
            name: 'egress-db',
            rules: [
              { index: 0, action: 'Allow', match: ['-p', 'tcp', '--dport', '5432', '-d', '10.1.2.0/24'], ipVersion: 4 },
              { index: 1, action: 'Pass', match: ['-p', 'udp', '--dport', '5000:5100'] },
              ...(extraRule ? [{ index: 2, action: 'Deny' as const, match: ['-p', 'tcp', '--dport', '25'] }] : []),
            ],
          },
        ],
      },
    ],
  },
});

/** The host's own rules, loaded before notrack: a stateful filter and something in raw. */
const HOST: Record<Family, string[]> = {
  4: [
    `*filter
:INPUT DROP [0:0]
:HOST-LOG - [0:0]
-A INPUT -i lo -j ACCEPT
-A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
-A INPUT -p tcp --dport 22 -j ACCEPT
-A FORWARD -j HOST-LOG
-A OUTPUT -o lo -j ACCEPT
-A HOST-LOG -j RETURN
COMMIT
`,
    `*raw
-A PREROUTING -p udp --dport 9999 -j CT --notrack
-A OUTPUT -p udp --sport 9999 -j CT --notrack
COMMIT
`,
  ],
  6: [
    `*filter
-A INPUT -p ipv6-icmp -j ACCEPT
COMMIT
`,
    `*raw
-A PREROUTING -p udp --dport 9999 -j NOTRACK
COMMIT
`,
  ],
};

/** raw and filter of one family as iptables-save prints them without counters, minus the timestamp comments. */
function save(ns: NetNs, family: Family): string {
  const cmd = family === 4 ? 'iptables-save' : 'ip6tables-save';
  return ['raw', 'filter']
    .map((t) =>
      ns
        .exec([cmd, '-t', t])
        .stdout.split('\n')
        .filter((l) => !l.startsWith('#'))
        .join('\n'),
    )
    .join('');
}

function rulesOf(text: string, table: string, chain: string): string[] {
  const t = parseIptablesSave(text).get(table) ?? [];
  return t.find((c) => c.name === chain)?.rules.map((r) => r.text) ?? [];
}

const JUMPS: [string, string, string][] = [
  ['raw', 'PREROUTING', 'NOTRACK-PREROUTING'],
  ['raw', 'OUTPUT', 'NOTRACK-OUTPUT'],
  ['filter', 'INPUT', 'NOTRACK-INPUT'],
  ['filter', 'FORWARD', 'NOTRACK-FORWARD'],
  ['filter', 'OUTPUT', 'NOTRACK-OUTPUT'],
];

kt(
  'apply adds one jump per built-in chain at the top, keeps the host rules in order; a second apply changes nothing; removeAll restores',
  () => {
    const ns = NetNs.create('ip');
    try {
      const runner = runnerIn(ns);
      for (const family of [4, 6] as const) {
        for (const input of HOST[family])
          ns.exec([family === 4 ? 'iptables-restore' : 'ip6tables-restore', '--noflush'], { input });
      }
      const before = { 4: save(ns, 4), 6: save(ns, 6) };

      for (const family of [4, 6] as const) {
        const first = applyIptables(runner, desired(), family);
        assert.equal(first.restored, ['filter', 'raw'], `IPv${family}: both tables restored`);
        const after = save(ns, family);
        for (const [table, from, to] of JUMPS) {
          const rules = rulesOf(after, table, from);
          assert.is(rules[0], `-j ${to}`, `IPv${family} ${table} ${from} starts with the jump`);
          assert.is(rules.filter((r) => r.includes(to)).length, 1, `IPv${family} ${table} ${from}: one jump`);
          assert.equal(
            rules.slice(1),
            rulesOf(before[family], table, from),
            `IPv${family} ${table} ${from}: host rules unchanged, in order`,
          );
        }
        if (family === 4) {
          assert.equal(rulesOf(after, 'filter', 'HOST-LOG'), ['-j RETURN'], 'host chain untouched');
          assert.ok(after.includes(':INPUT DROP'), 'host INPUT policy untouched');
        }
        assert.equal(diffIptables(desired(), observeIptables(runner, family)), [], `IPv${family} in sync`);

        const second = applyIptables(runner, desired(), family);
        assert.equal(second, { family, fixed: [], restored: [] }, `IPv${family}: second apply is a no-op`);
        assert.is(save(ns, family), after, `IPv${family}: iptables-save identical after the second apply`);
      }

      // Traffic through raw OUTPUT counts on clear-marks; changing one policy must not reset that counter.
      ns.exec(['ping', '-c', '2', '-W', '1', '127.0.0.1']);
      const clearMarks = (): number =>
        readRuleCounters(observeIptables(runner, 4)).find((c) => c.chain === 'NOTRACK-OUTPUT' && c.target === 'MARK')!
          .packets;
      const counted = clearMarks();
      assert.ok(counted >= 4, `clear-marks counted ${counted} packets`);
      const changed = applyIptables(runner, desired(true), 4);
      assert.equal(changed.restored, ['raw']);
      assert.equal(
        changed.fixed.map((c) => `${c.kind} ${'chain' in c ? c.chain : ''}`),
        ['rule-mismatch NOTRACK-PO-egress-db'],
      );
      assert.ok(clearMarks() >= counted, 'the unchanged chain kept its counters');

      const removed = removeAll(runner);
      assert.equal(
        removed.map((r) => `${r.family} ${r.table} ${r.jumps}`),
        ['4 raw 2', '4 filter 3', '6 raw 2', '6 filter 3'],
      );
      assert.is(save(ns, 4), before[4], 'IPv4 tables exactly as before');
      assert.is(save(ns, 6), before[6], 'IPv6 tables exactly as before');
      assert.equal(removeAll(runner), [], 'nothing left to remove');
    } finally {
      ns.delete();
    }
  },
);

test.run();

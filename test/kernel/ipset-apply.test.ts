// ipsets in a namespace: v4 and v6 sets filled and read back, a new generation swapped in under a live rule,
// 100k members, leftovers and mistyped sets repaired, pruning that spares sets in use, removal.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { run, vethPair, NetNs, type VethPair } from '../support/netns.js';
import {
  applyIpsets,
  observeIpsets,
  diffIpsets,
  pruneIpsets,
  removeAllIpsets,
  type CommandRunner,
  type IpsetDesired,
} from '../../src/dataplane/ipset/index.js';
import { spawnRunner } from '../../src/dataplane/command-runner.js';
import {
  applyIptables,
  removeAll,
  readRuleCounters,
  observeIptables,
  DEFAULT_ACCEPT_MARK,
  DEFAULT_PASS_MARK,
  type IptablesDesired,
} from '../../src/dataplane/iptables/index.js';
import { kernelGate } from '../support/kernel-gate.js';

const gate = kernelGate('ipset-apply', { tools: ['ipset', 'iptables-restore'] });
const kt = gate.test;

const runnerIn =
  (ns: NetNs): CommandRunner =>
  (argv, input) =>
    ns.exec(argv, { input, allowFail: true });
const setNames = (ns: NetNs): string[] => ns.exec(['ipset', 'list', '-n']).stdout.split('\n').filter(Boolean).sort();

kt('v4 and v6 sets are filled, read back in canonical form, and a second apply leaves them alone', () => {
  const ns = NetNs.create('is');
  try {
    const runner = runnerIn(ns);
    const want: IpsetDesired[] = [
      { name: 'notrack-peers', family: 4, members: ['10.0.0.5/32', '192.168.7.9/24', '10.8.0.0/16'] },
      { name: 'notrack-peers6', family: 6, members: ['FD00:1::/48', 'fd00::1/128', '::ffff:10.1.1.1'] },
    ];
    const first = applyIpsets(runner, want);
    assert.equal(first.created, ['notrack-peers', 'notrack-peers6']);
    const seen = observeIpsets(runner);
    assert.equal(
      seen.sets.map((s) => [s.name, s.type, s.family, [...s.members].sort()]),
      [
        ['notrack-peers', 'hash:net', 4, ['10.0.0.5', '10.8.0.0/16', '192.168.7.0/24']],
        ['notrack-peers6', 'hash:net', 6, ['::ffff:10.1.1.1', 'fd00:1::/48', 'fd00::1']],
      ],
    );
    assert.equal(diffIpsets(want, seen), []);
    const second = applyIpsets(runner, want);
    assert.equal([second.created, second.replaced, second.unchanged], [[], [], ['notrack-peers', 'notrack-peers6']]);
    assert.equal(setNames(ns), ['notrack-peers', 'notrack-peers6'], 'no temporary set left');
  } finally {
    ns.delete();
  }
});

kt(
  'a new generation is swapped in while an iptables rule uses the set, and the rule sees the new members at once',
  () => {
    let pair: VethPair | undefined;
    try {
      pair = vethPair(33);
      const { a, aDev, bAddr4 } = pair;
      const runner = runnerIn(a);
      const ping = (): boolean => a.exec(['ping', '-c', '1', '-W', '1', bAddr4], { allowFail: true }).status === 0;
      const iptables: IptablesDesired = {
        marks: { accept: DEFAULT_ACCEPT_MARK, pass: DEFAULT_PASS_MARK },
        failsafe: { inbound: [], outbound: [] },
        log: { rate: 10, burst: 20 },
        egress: {
          interfaces: [
            {
              iface: aDev,
              policies: [
                {
                  name: 'blocklist',
                  rules: [
                    {
                      index: 0,
                      action: 'Deny',
                      match: ['-m', 'set', '--match-set', 'notrack-blocked', 'dst'],
                      ipVersion: 4,
                    },
                  ],
                },
              ],
            },
          ],
        },
      };
      // Order for the reconciler: sets first, then the rules that use them.
      applyIpsets(runner, [{ name: 'notrack-blocked', family: 4, members: ['192.0.2.0/24'] }]);
      applyIptables(runner, iptables, 4);
      assert.ok(ping(), 'the peer is not in the set yet');

      const swapped = applyIpsets(runner, [{ name: 'notrack-blocked', family: 4, members: ['192.0.2.0/24', bAddr4] }]);
      assert.equal(swapped.replaced, ['notrack-blocked']);
      assert.not.ok(ping(), 'the new member is live: the peer is blocked');
      assert.ok(
        readRuleCounters(observeIptables(runner, 4)).find((c) => c.comment === 'notrack:blocklist:0')!.packets >= 1,
      );
      assert.equal(
        observeIpsets(runner, { members: false }).sets.map((s) => [s.name, s.references]),
        [['notrack-blocked', 1]],
      );

      // A set still used by a rule is not pruned; once the rules are gone it is.
      assert.equal(pruneIpsets(runner, []), { destroyed: [], inUse: ['notrack-blocked'] });
      removeAll(runner);
      assert.equal(removeAllIpsets(runner), { destroyed: ['notrack-blocked'], inUse: [] });
      assert.equal(setNames(a), []);
    } finally {
      pair?.a.delete();
      pair?.b.delete();
    }
  },
);

kt('100k members apply, read back equal, and one changed member swaps a new generation', () => {
  const ns = NetNs.create('ib');
  try {
    // `ipset save` of 100k members is megabytes: ns.exec buffers only 1 MiB, the product's runner much more.
    const runner: CommandRunner = (argv, input) => spawnRunner(['ip', 'netns', 'exec', ns.name, ...argv], input);
    const members: string[] = [];
    for (let i = 0; i < 100_000; i++)
      members.push(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}${i % 3 === 0 ? '' : '/32'}`);
    const want: IpsetDesired[] = [{ name: 'notrack-big', family: 4, members }];
    let t = Date.now();
    applyIpsets(runner, want);
    const applyMs = Date.now() - t;
    t = Date.now();
    const seen = observeIpsets(runner);
    assert.equal(diffIpsets(want, seen), []);
    const observeMs = Date.now() - t;
    t = Date.now();
    const again = applyIpsets(
      runner,
      [{ name: 'notrack-big', family: 4, members: [...members.slice(1), '172.16.0.0/12'] }],
      { actual: seen },
    );
    const swapMs = Date.now() - t;
    assert.equal(again.replaced, ['notrack-big']);
    const after = observeIpsets(runner, { members: false }).sets[0]!;
    console.log(
      `ipset: 100k members applied in ${applyMs} ms, observed+diffed in ${observeMs} ms, swapped in ${swapMs} ms (hashsize ${after.hashsize}, maxelem ${after.maxelem})`,
    );
    assert.equal(
      diffIpsets(
        [{ name: 'notrack-big', family: 4, members: [...members.slice(1), '172.16.0.0/12'] }],
        observeIpsets(runner),
      ),
      [],
    );
  } finally {
    ns.delete();
  }
});

kt('a leftover temporary set and a set of the wrong type are repaired; extra sets are pruned', () => {
  const ns = NetNs.create('ir');
  try {
    const runner = runnerIn(ns);
    ns.exec(['ipset', 'create', 'notrack-peers-tmp', 'hash:net']);
    ns.exec(['ipset', 'add', 'notrack-peers-tmp', '203.0.113.0/24']);
    ns.exec(['ipset', 'create', 'notrack-peers', 'hash:ip']);
    ns.exec(['ipset', 'create', 'notrack-retired', 'hash:net']);
    ns.exec(['ipset', 'create', 'host-own-set', 'hash:net']);
    const want: IpsetDesired[] = [{ name: 'notrack-peers', family: 4, members: ['10.0.0.0/8'] }];
    assert.equal(
      diffIpsets(want, observeIpsets(runner)).map((c) => `${c.kind} ${c.name}`),
      ['set-type-mismatch notrack-peers', 'extra-set notrack-retired', 'leftover-temporary-set notrack-peers-tmp'],
    );
    const r = applyIpsets(runner, want);
    assert.equal([r.leftoversRemoved, r.replaced], [['notrack-peers-tmp'], ['notrack-peers']]);
    assert.equal(pruneIpsets(runner, want), { destroyed: ['notrack-retired'], inUse: [] });
    assert.equal(diffIpsets(want, observeIpsets(runner)), []);
    assert.equal(setNames(ns), ['host-own-set', 'notrack-peers'], "the host's own set is never touched");
  } finally {
    ns.delete();
  }
});

kt(
  "a host's own big set is never read through: notrack's sets are read by name, and a second apply leaves them alone",
  () => {
    const ns = NetNs.create('if');
    try {
      // A fail2ban/CrowdSec-style deny list of 50,000 addresses beside notrack's small set.
      const own: string[] = ['create host-deny hash:ip family inet hashsize 65536 maxelem 131072'];
      for (let i = 0; i < 50_000; i++) own.push(`add host-deny 198.${18 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`);
      const runner: CommandRunner = (argv, input) => spawnRunner(['ip', 'netns', 'exec', ns.name, ...argv], input);
      assert.equal(runner(['ipset', 'restore'], `${own.join('\n')}\n`).status, 0);
      const ran: string[] = [];
      const recording: CommandRunner = (argv, input) => {
        ran.push(argv.join(' '));
        return runner(argv, input);
      };
      const want: IpsetDesired[] = [{ name: 'notrack-peers', family: 4, members: ['10.0.0.0/8', '192.0.2.7/32'] }];
      assert.equal(applyIpsets(recording, want).created, ['notrack-peers']);
      ran.length = 0;
      const seen = observeIpsets(recording);
      assert.equal(ran, ['ipset list -t', 'ipset list notrack-peers'], "only the headers, then notrack's set by name");
      assert.equal(
        seen.sets.map((s) => [s.name, [...s.members].sort()]),
        [['notrack-peers', ['10.0.0.0/8', '192.0.2.7']]],
      );
      assert.equal(applyIpsets(recording, want).unchanged, ['notrack-peers']);
      assert.equal(
        ran.filter((c) => c === 'ipset list' || c.startsWith('ipset save')),
        [],
        "the host's set was never listed with its members",
      );
      assert.equal(setNames(ns), ['host-deny', 'notrack-peers']);
    } finally {
      ns.delete();
    }
  },
);

test.run();

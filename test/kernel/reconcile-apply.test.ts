// `notrack apply` on a host in a namespace: the first apply attaches XDP and TC and writes the chains and ipsets
// (postgres then flows untracked), a second apply changes nothing, status shows the applied commit and generation,
// and a policy change switches to generation n+1 and removes n.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { HOST, IFNAME, dbPolicy, postgresConnection, RECONCILE_TOOLS, withLab } from '../support/reconcile-fixture.js';
import { stopTraffic } from '../support/traffic.js';
import { kernelGate } from '../support/kernel-gate.js';

const gate = kernelGate('reconcile-apply', { tools: RECONCILE_TOOLS });
const kt = gate.test;

/** iptables-save without the packet and byte counts, which traffic changes. */
const rules = (save: string): string => save.replace(/\[\d+:\d+\]/g, '[-]');

interface StatusJson {
  host: string;
  revision: { commit: string | null; ref: string | null };
  interfaces: { name: string; generation: number | null; xdpMode: string; tc: string; findings: unknown[] }[];
  rules: { policy: string; rule: string; action: string; packets: number }[];
}

kt(
  'apply converges a host, a second apply changes nothing, status shows what runs, a policy change builds generation n+1 and removes n',
  async () => {
    await withLab(async (lab) => {
      try {
        const first = lab.commit(dbPolicy(), 'postgres and the feed, untracked');

        // First apply: everything is created.
        const applied = lab.cli('apply');
        assert.is(applied.status, 0, `first apply: ${applied.stdout}${applied.stderr}`);
        assert.match(
          applied.stdout,
          /XDP on eth0: attached generation 1 in (native|generic) mode with TC via (tcx|cls_bpf)/,
        );
        assert.match(applied.stdout, /iptables: \d+ change\(s\) applied/);
        assert.match(applied.stdout, new RegExp(`applied ${first.slice(0, 12)}: \\d+ changes, generation 1`));
        const obs = lab.observe();
        assert.is(obs.activeGeneration, 1);
        assert.ok(obs.xdp.mode === 'native' || obs.xdp.mode === 'generic', `XDP attached (${obs.xdp.mode})`);
        assert.ok(obs.tc.mechanism !== 'none', 'TC ingress program attached');
        assert.equal(obs.findings, []);
        const save4 = lab.iptablesSave(4);
        for (const line of [
          '-A PREROUTING -j NOTRACK-PREROUTING',
          '-A OUTPUT -j NOTRACK-OUTPUT',
          '-A INPUT -j NOTRACK-INPUT',
          ':NOTRACK-PO-db-untracked',
        ]) {
          assert.ok(save4.includes(line), `iptables has ${line}`);
        }
        assert.ok(
          lab.iptablesSave(6).includes('-A PREROUTING -j NOTRACK-PREROUTING'),
          "ip6tables has notrack's chains too",
        );
        const sets = lab.ipsets();
        assert.is(sets.length, 1, `one ipset for the feed's two reply prefixes: ${sets.join(', ')}`);
        const members = lab.a.exec(['ipset', 'list', sets[0]!]).stdout;
        assert.ok(members.includes('10.0.1.0/24') && members.includes('10.0.3.0/24'), `ipset members: ${members}`);
        assert.ok(save4.includes(`--match-set ${sets[0]!} dst`), 'the egress rule uses the set');

        // The dataplane works: postgres from the app subnet gets through INPUT DROP untracked, both families.
        for (const family of [4, 6] as const) {
          const pg = await postgresConnection(lab, family);
          assert.ok(pg.arrived, `IPv${family}: the connection to postgres went through`);
          assert.equal(pg.tracked, [], `IPv${family}: no conntrack entry for postgres`);
        }

        // Second apply: nothing changes, not even the generation or a rule.
        const before = {
          v4: rules(lab.iptablesSave(4)),
          v6: rules(lab.iptablesSave(6)),
          sets: lab.ipsets(),
          policy: lab.observe().generations[0]?.policy.program?.id,
        };
        const again = lab.cli('apply');
        assert.is(again.status, 0, again.stderr);
        // The blob ids say nothing changed, and the host is checked against what was applied: nothing is read.
        assert.match(
          again.stdout,
          /already at [0-9a-f]{12} \(policy files unchanged: not read, not compiled again\), generation 1 /,
        );
        assert.not.match(again.stdout, /XDP on|iptables:|ipset/, 'no step was taken');
        assert.is(rules(lab.iptablesSave(4)), before.v4, 'iptables-save is identical (counters aside)');
        assert.is(rules(lab.iptablesSave(6)), before.v6, 'ip6tables-save is identical (counters aside)');
        assert.equal(lab.ipsets(), before.sets);
        assert.equal(lab.pinnedGenerations(), [1], 'still generation 1 alone');
        assert.is(lab.observe().generations[0]?.policy.program?.id, before.policy, 'the same policy program runs');

        // What was applied is recorded and shown.
        assert.is(lab.record().revision.commit, first);
        assert.is(lab.record().interfaces[IFNAME]?.generation, 1);
        const table = lab.cli('status');
        assert.is(table.status, 0, table.stderr);
        assert.match(table.stdout, new RegExp(`^host ${HOST}: ${first.slice(0, 12)} \\(main\\), applied \\d{4}-`));
        assert.match(table.stdout, /\neth0\s+1\s+(native|generic)\s+(tcx|cls_bpf)\s+\d+/);
        assert.match(
          table.stdout,
          /eth0\s+db-untracked\s+ingress\[0\]\s+Allow\s+[1-9]\d*\s/,
          'the postgres rule counted the connections',
        );
        const json = lab.cli('status', '--format', 'json');
        assert.is(json.status, 0, json.stderr);
        const status = JSON.parse(json.stdout) as StatusJson;
        assert.is(status.host, HOST);
        assert.is(status.revision.commit, first);
        assert.is(status.revision.ref, 'main');
        assert.is(status.interfaces.length, 1);
        assert.is(status.interfaces[0]!.name, IFNAME);
        assert.is(status.interfaces[0]!.generation, 1);
        assert.is(status.interfaces[0]!.xdpMode, obs.xdp.mode);
        assert.is(status.interfaces[0]!.tc, obs.tc.mechanism);
        assert.equal(status.interfaces[0]!.findings, []);
        assert.ok(status.rules.some((r) => r.policy === 'db-untracked' && r.rule === 'ingress[0]' && r.packets > 0));

        // A policy change: generation 2 is built beside 1, switched in, and 1 is removed.
        const second = lab.commit(dbPolicy({ denyUdpPorts: [9000] }), 'deny udp 9000');
        const changed = lab.cli('apply');
        assert.is(changed.status, 0, changed.stderr);
        assert.match(changed.stdout, /XDP on eth0: switched from generation 1 to 2/);
        assert.match(changed.stdout, new RegExp(`applied ${second.slice(0, 12)}: \\d+ changes?, generation 2`));
        assert.equal(lab.pinnedGenerations(), [2], 'generation 1 is gone');
        const after = lab.observe();
        assert.is(after.activeGeneration, 2);
        assert.equal(after.findings, []);
        assert.is(after.generations[0]!.ruleCounters.length, 4, 'the new program counts four rules');
        assert.is(lab.record().revision.commit, second);
        const status2 = JSON.parse(lab.cli('status', '--format', 'json').stdout) as StatusJson;
        assert.is(status2.revision.commit, second);
        assert.is(status2.interfaces[0]!.generation, 2);
        assert.ok(
          status2.rules.some((r) => r.rule === 'ingress[0]' && r.action === 'Deny'),
          'status lists the new Deny rule',
        );
        const pg = await postgresConnection(lab, 4);
        assert.ok(pg.arrived && pg.tracked.length === 0, 'postgres still flows untracked on generation 2');
      } finally {
        stopTraffic();
      }
    });
  },
);

test.run();

// Drift on a real host in a namespace: each kind of tampering (a detached XDP program, a flushed or deleted
// notrack chain, an overwritten class table (IPv4 and IPv6), a deleted ipset member, a foreign rule in a notrack chain) is named by
// `notrack drift` (exit 2) and repaired by `notrack apply` (then drift exits 0); checkDrift warns or enforces;
// a new policy revision is pending, not drift, until it is applied.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { run } from '../support/netns.js';
import {
  IFNAME,
  dbPolicy,
  overwriteAppSourceSlots,
  policyMap,
  postgresConnection,
  RECONCILE_TOOLS,
  withLab,
  type ReconcileLab,
} from '../support/reconcile-fixture.js';
import { stopTraffic } from '../support/traffic.js';
import { kernelGate } from '../support/kernel-gate.js';

const gate = kernelGate('reconcile-drift', { tools: RECONCILE_TOOLS });
const kt = gate.test;

/** The "  object: description" lines of `notrack drift`'s drift section. */
function driftLines(stdout: string): string[] {
  const lines = stdout.split('\n');
  const start = lines.findIndex((l) => l.startsWith('drift: '));
  const out: string[] = [];
  for (const l of lines.slice(start + 1)) {
    if (!l.startsWith('  ')) break;
    out.push(l.trim());
  }
  return out;
}

/** Drift reports exactly the expected objects (exit 2), apply repairs them, and drift is clean again (exit 0). */
function detectAndRepair(lab: ReconcileLab, what: string, expected: RegExp[]): void {
  const drift = lab.cli('drift');
  assert.is(drift.status, 2, `${what}: drift exits 2\n${drift.stdout}${drift.stderr}`);
  const lines = driftLines(drift.stdout);
  for (const re of expected)
    assert.ok(
      lines.some((l) => re.test(l)),
      `${what}: drift names ${re} in:\n${lines.join('\n')}`,
    );
  assert.match(drift.stdout, /pending: none/, `${what}: drift is not mistaken for a pending change`);
  const apply = lab.cli('apply');
  assert.is(apply.status, 0, `${what}: apply exits 0\n${apply.stdout}${apply.stderr}`);
  assert.not.match(apply.stdout, /: 0 changes/, `${what}: apply changed something`);
  const clean = lab.cli('drift');
  assert.is(clean.status, 0, `${what}: drift exits 0 after apply\n${clean.stdout}`);
  assert.match(clean.stdout, /drift: none/);
}

kt('each tamper is named by drift and repaired by apply', async () => {
  await withLab(async (lab) => {
    try {
      lab.commit(dbPolicy());
      const first = lab.cli('apply');
      assert.is(first.status, 0, first.stderr);
      assert.is(lab.cli('drift').status, 0, 'in sync after the first apply');

      // The XDP program detached: its pinned link removed, so the kernel drops the attachment.
      const link = path.join(lab.bpffs, IFNAME, 'links', 'xdp');
      assert.ok(existsSync(link));
      rmSync(link);
      assert.not.match(lab.a.exec(['ip', 'link', 'show', IFNAME]).stdout, /xdp/, 'no XDP program on eth0 any more');
      detectAndRepair(lab, 'XDP detached', [/^XDP program on eth0: detached$/]);
      assert.match(lab.a.exec(['ip', 'link', 'show', IFNAME]).stdout, /xdp/, 'XDP is attached again');
      assert.equal(lab.observe().findings, []);

      // A notrack chain flushed.
      lab.a.exec(['iptables', '-t', 'raw', '-F', 'NOTRACK-PO-db-untracked']);
      detectAndRepair(lab, 'chain flushed', [
        /^iptables chain raw\/NOTRACK-PO-db-untracked: rules changed \(2 expected, 0 found\)$/,
      ]);

      // A notrack chain deleted (the rule that used it had to go first).
      lab.a.exec(['ip6tables', '-t', 'raw', '-F', 'NOTRACK-OUTPUT']);
      lab.a.exec(['ip6tables', '-t', 'raw', '-F', 'NOTRACK-TH-eth0']);
      lab.a.exec(['ip6tables', '-t', 'raw', '-X', 'NOTRACK-TH-eth0']);
      detectAndRepair(lab, 'chain deleted', [
        /^ip6tables chain raw\/NOTRACK-TH-eth0: deleted$/,
        /^ip6tables chain raw\/NOTRACK-OUTPUT: rules changed/,
      ]);

      // The policy program's IPv4 source table tampered with: postgres from the app subnet no longer matches its
      // Allow, goes tracked and meets the host's INPUT DROP, until apply rebuilds the program.
      overwriteAppSourceSlots(lab);
      assert.not.ok((await postgresConnection(lab, 4)).arrived, 'without its slots postgres is cut off');
      detectAndRepair(lab, 'class table overwritten', [/^policy map ntp4_src on eth0: contents changed$/]);
      const pg = await postgresConnection(lab, 4);
      assert.ok(pg.arrived && pg.tracked.length === 0, 'postgres flows untracked again');

      // The IPv6 source table (a hash) tampered with, its element count kept: the app subnet's prefix moved to the
      // next /64, so postgres over IPv6 from fd00:0:0:1::/64 meets the host's INPUT DROP until apply rebuilds it.
      const src6 = policyMap(lab, 'ntp6_src');
      const elements = JSON.parse(run(['bpftool', '-j', 'map', 'dump', 'pinned', src6]).stdout) as {
        key: string[];
        value: string[];
      }[];
      assert.is(elements.length, 1, 'one element: fd00:0:0:1::/64 (one prefix length, no marker)');
      const key = elements[0]!.key.map((b) => b.replace(/^0x/, ''));
      const moved = key.map((b, i) => (i === 4 + 7 ? '02' : b));
      const value = elements[0]!.value.map((b) => b.replace(/^0x/, ''));
      run(['bpftool', 'map', 'delete', 'pinned', src6, 'key', 'hex', ...key]);
      run(['bpftool', 'map', 'update', 'pinned', src6, 'key', 'hex', ...moved, 'value', 'hex', ...value]);
      assert.not.ok((await postgresConnection(lab, 6)).arrived, 'without its prefix postgres over IPv6 is cut off');
      detectAndRepair(lab, 'IPv6 class table overwritten', [/^policy map ntp6_src on eth0: contents changed$/]);
      const pg6 = await postgresConnection(lab, 6);
      assert.ok(pg6.arrived && pg6.tracked.length === 0, 'postgres over IPv6 flows untracked again');

      // An ipset member deleted.
      const [set] = lab.ipsets();
      lab.a.exec(['ipset', 'del', set!, '10.0.3.0/24']);
      detectAndRepair(lab, 'ipset member deleted', [
        new RegExp(`^ipset ${set!}: 1 entry deleted \\(10\\.0\\.3\\.0/24\\)$`),
      ]);
      assert.match(lab.a.exec(['ipset', 'list', set!]).stdout, /10\.0\.3\.0\/24/, 'the member is back');

      // A foreign rule inside a notrack chain.
      lab.a.exec(['iptables', '-t', 'raw', '-I', 'NOTRACK-PREROUTING', '1', '-s', '192.0.2.1', '-j', 'ACCEPT']);
      detectAndRepair(lab, 'foreign rule', [
        /^iptables chain raw\/NOTRACK-PREROUTING: foreign rule at position 1: .*192\.0\.2\.1.*ACCEPT/,
      ]);
      assert.not.match(lab.iptablesSave(4), /192\.0\.2\.1/, 'the foreign rule is gone');
    } finally {
      stopTraffic();
    }
  });
});

interface Outcome {
  status: string;
  drifted: { object: string; description: string }[];
  corrected: boolean;
  message: string;
}

const checkDrift = (lab: ReconcileLab, mode: 'warn' | 'enforce'): Outcome => {
  const r = lab.reconcilerScript(
    `process.stdout.write(JSON.stringify(await new HostReconciler(opts).checkDrift(${JSON.stringify(mode)})));`,
  );
  assert.is(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as Outcome;
};

kt(
  'checkDrift: warn reports and changes nothing, enforce repairs; a new revision is pending, not drift, until applied',
  async () => {
    await withLab(async (lab) => {
      const first = lab.commit(dbPolicy());
      assert.is(lab.cli('apply').status, 0);
      assert.is(checkDrift(lab, 'warn').status, 'InSync');

      lab.a.exec(['iptables', '-t', 'raw', '-F', 'NOTRACK-PREROUTING']);
      const warned = checkDrift(lab, 'warn');
      assert.is(warned.status, 'Drifted');
      assert.is(warned.corrected, false);
      assert.equal(
        warned.drifted.map((d) => d.object),
        ['iptables chain raw/NOTRACK-PREROUTING'],
      );
      assert.match(warned.message, /warn mode leaves them/);
      assert.not.match(lab.iptablesSave(4), /-A NOTRACK-PREROUTING/, 'warn left the chain empty');
      assert.is(lab.cli('drift').status, 2, 'still drifted');

      const enforced = checkDrift(lab, 'enforce');
      assert.is(enforced.status, 'Drifted');
      assert.is(enforced.corrected, true, enforced.message);
      assert.equal(
        enforced.drifted.map((d) => d.object),
        ['iptables chain raw/NOTRACK-PREROUTING'],
      );
      assert.match(lab.iptablesSave(4), /-A NOTRACK-PREROUTING .*-j NOTRACK/, 'enforce refilled the chain');
      assert.is(lab.cli('drift').status, 0);

      // A new revision: pending (exit 2), while the host itself has not drifted.
      const second = lab.commit(dbPolicy({ denyUdpPorts: [9000] }), 'deny udp 9000');
      const pending = lab.cli('drift');
      assert.is(pending.status, 2, pending.stdout);
      assert.match(pending.stdout, /drift: none, the host matches what notrack applied/);
      assert.match(pending.stdout, new RegExp(`pending: ${second.slice(0, 12)} would change:`));
      const json = JSON.parse(lab.cli('drift', '--format', 'json').stdout) as {
        inSync: boolean;
        drift: unknown[];
        pending: { action: string };
        applied: { commit: string };
        head: { commit: string };
      };
      assert.is(json.inSync, false);
      assert.equal(json.drift, []);
      assert.is(json.pending.action, 'update');
      assert.is(json.applied.commit, first);
      assert.is(json.head.commit, second);
      assert.is(checkDrift(lab, 'warn').status, 'InSync', 'a pending revision is not drift to the agent either');

      assert.is(lab.cli('apply').status, 0);
      const applied = lab.cli('drift');
      assert.is(applied.status, 0, applied.stdout);
      assert.match(applied.stdout, new RegExp(`pending: none, the host runs ${second.slice(0, 12)}`));
    });
  },
);

test.run();

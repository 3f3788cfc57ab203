// The unread fast path on a real host in a namespace: an apply over policy files whose blob ids produced the applied
// state reads neither the files nor the state, checks the live host against the applied view, and takes the full
// path (which repairs) for every kind of tampering a drift check names, and for a torn or edited digest file.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  IFNAME,
  dbPolicy,
  overwriteAppSourceSlots,
  RECONCILE_TOOLS,
  withLab,
  type LabOutcome,
  type ReconcileLab,
} from '../support/reconcile-fixture.js';
import { kernelGate } from '../support/kernel-gate.js';

const gate = kernelGate('reconcile-unread', { tools: RECONCILE_TOOLS });
const kt = gate.test;

const UNREAD = /\(policy files unchanged: not read, not compiled again\)$/;

/**
 * In one process inside the lab's namespace: `notrack apply`'s reconcile (repair) `times` times, then what a drift
 * check finds. A process per step costs seconds on a loaded machine.
 */
function applyTimes(lab: ReconcileLab, times: number): { outcomes: LabOutcome[]; drift: unknown[] } {
  const r = lab.reconcilerScript(
    `const outcomes = [];
for (let i = 0; i < ${times}; i++) outcomes.push((await new HostReconciler(opts).apply(true)).outcome);
process.stdout.write(JSON.stringify({ outcomes, drift: new HostReconciler(opts).drift() }));`,
  );
  assert.is(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as { outcomes: LabOutcome[]; drift: unknown[] };
}

/** The tamper is repaired by the full path, and the apply after it takes the unread path again. */
function repairedThenUnread(lab: ReconcileLab, what: string): void {
  const { outcomes, drift } = applyTimes(lab, 2);
  const [repair, again] = outcomes;
  assert.not.match(repair!.message, UNREAD, `${what}: the unread path does not take the record's word for it`);
  assert.is(repair!.status, 'Ready', `${what}: ${repair!.message}`);
  assert.ok(repair!.changes > 0, `${what}: repaired (${repair!.message})`);
  assert.match(again!.message, UNREAD, `${what}: once repaired, the next apply reads nothing`);
  assert.equal(drift, [], `${what}: nothing drifted after the repair`);
}

kt('an apply over unchanged blobs reads nothing, and every tamper still takes the full path and is repaired', () =>
  withLab((lab) => {
    const files = dbPolicy();
    lab.commit(files);
    const [first] = applyTimes(lab, 1).outcomes;
    assert.is(first!.reason, 'ReconciliationSucceeded', first!.message);

    // A commit that changes no policy file: nothing read, nothing changed, the record names the new commit.
    const readme = lab.commit({ ...files, 'README.md': 'policies of db-1\n' }, 'readme');
    const {
      outcomes: [same],
      drift,
    } = applyTimes(lab, 1);
    assert.equal([same!.status, same!.reason, same!.changes], ['Ready', 'UpToDate', 0], same!.message);
    assert.match(same!.message, UNREAD);
    assert.is(same!.revision?.commit, readme);
    assert.is(lab.record().revision.commit, readme, 'the record names the new commit');
    assert.equal(drift, []);

    // Each kind of tampering the view covers: XDP, iptables, ipsets, the policy program's tables.
    const link = path.join(lab.bpffs, IFNAME, 'links', 'xdp');
    rmSync(link);
    repairedThenUnread(lab, 'XDP detached');

    lab.a.exec(['iptables', '-t', 'raw', '-F', 'NOTRACK-PREROUTING']);
    repairedThenUnread(lab, 'iptables chain flushed');
    assert.match(lab.iptablesSave(4), /-A NOTRACK-PREROUTING .*-j NOTRACK/, 'the chain is refilled');

    const [set] = lab.ipsets();
    lab.a.exec(['ipset', 'del', set!, '10.0.3.0/24']);
    repairedThenUnread(lab, 'ipset member deleted');
    assert.match(lab.a.exec(['ipset', 'list', set!]).stdout, /10\.0\.3\.0\/24/, 'the member is back');

    // Slots of the IPv4 source table overwritten with others' values (the record keeps the table's digest).
    overwriteAppSourceSlots(lab);
    repairedThenUnread(lab, 'class table overwritten');

    // The digest file edited (its checksum fails) or torn: never trusted, the files are read and compiled again
    // (the host is in sync, so nothing changes), and the next apply reads nothing again.
    const digestFile = path.join(lab.stateDir, 'applied-source.json');
    const text = readFileSync(digestFile, 'utf8');
    for (const [what, broken] of [
      ['edited', text.replace(/"desiredHash":"[0-9a-f]/, '"desiredHash":"x')],
      ['torn', text.slice(0, Math.floor(text.length / 2))],
    ] as const) {
      writeFileSync(digestFile, broken);
      const [full, after] = applyTimes(lab, 2).outcomes;
      assert.not.match(full!.message, UNREAD, `${what} digest: not trusted`);
      assert.equal([full!.status, full!.changes], ['Ready', 0], `${what} digest: ${full!.message}`);
      assert.match(after!.message, UNREAD, `${what} digest: written again`);
    }
  }),
);

test.run();

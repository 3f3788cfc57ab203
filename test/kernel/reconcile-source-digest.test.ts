// The source-digest fast path on a real host in a namespace: a commit whose policy files are unchanged is not parsed
// or compiled again; a changed file, another policy path, a host that lost its program and a repair each take the
// full path, and a repair still repairs.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import {
  IFNAME,
  dbPolicy,
  RECONCILE_TOOLS,
  withLab,
  type LabOutcome,
  type ReconcileLab,
} from '../support/reconcile-fixture.js';
import { kernelGate } from '../support/kernel-gate.js';

const gate = kernelGate('reconcile-source-digest', { tools: RECONCILE_TOOLS });
const kt = gate.test;

const SKIPPED = /\(policy files unchanged: not (read, not )?compiled again\)$/;

/**
 * HostReconciler.apply inside the lab's namespace once per step, in one process (each process costs seconds on a
 * loaded machine): `path` is the policy path in the repository, `repair` as `notrack apply` asks.
 */
function reconcile(lab: ReconcileLab, steps: { path: string; repair?: boolean }[]): LabOutcome[] {
  const r = lab.reconcilerScript(
    `const out = [];
for (const step of ${JSON.stringify(steps)}) {
  const o = { ...opts, source: { ...opts.source, path: step.path } };
  out.push((await new HostReconciler(o).apply(step.repair === true)).outcome);
}
process.stdout.write(JSON.stringify(out));`,
  );
  assert.is(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as LabOutcome[];
}

/** dbPolicy's files under `folder`, plus whatever else is given. */
const under = (folder: string, files: Record<string, string>): Record<string, string> =>
  Object.fromEntries(Object.entries(files).map(([p, text]) => [`${folder}/${p}`, text]));

kt('unchanged policy files skip parse and compile; changed files, another path, a lost program, a repair do not', () =>
  withLab((lab) => {
    const files = { ...under('a', dbPolicy()), ...under('b', dbPolicy()) };
    lab.commit(files);
    const [first] = reconcile(lab, [{ path: 'a' }]);
    assert.is(first!.reason, 'ReconciliationSucceeded', first!.message);
    assert.ok(existsSync(path.join(lab.stateDir, 'applied-source.json')), 'the digest of what was applied is kept');

    // A commit that changes no policy file (a README): the compile is skipped, the host now runs that commit.
    const readme = lab.commit({ ...files, 'README.md': 'policies of db-1\n' }, 'readme');
    const [same] = reconcile(lab, [{ path: 'a' }]);
    assert.is(same!.reason, 'UpToDate');
    assert.match(same!.message, SKIPPED);
    assert.is(same!.revision?.commit, readme);
    assert.is(lab.record().revision.commit, readme, 'the record names the new commit');

    // `notrack apply` (a repair) over unchanged files: the host is checked, the applied state file (tens of MB with
    // a large set) is neither written again nor left pending, and it still reads back as the applied state.
    const stateFile = path.join(lab.stateDir, 'applied-state.json');
    const before = statSync(stateFile);
    const [checked] = reconcile(lab, [{ path: 'a', repair: true }]);
    assert.is(checked!.status, 'Ready', checked!.message);
    assert.is(checked!.changes, 0, checked!.message);
    const after = statSync(stateFile);
    assert.equal([after.ino, after.mtimeMs], [before.ino, before.mtimeMs], 'the applied state was not rewritten');
    assert.not.ok(existsSync(path.join(lab.stateDir, 'applied-state.next.json')), 'no pending state is left');
    assert.is((lab.record() as { pending?: unknown }).pending, undefined, 'the record is not left pending');
    assert.match(reconcile(lab, [{ path: 'a' }])[0]!.message, SKIPPED, 'the kept state still serves the fast path');

    // A changed policy file (a comment), then the same files read from another policy path: each is parsed and
    // compiled once, and known the next time.
    const comment = lab.commit({ ...files, 'a/policies/db.yaml': `# reviewed\n${files['a/policies/db.yaml']!}` });
    const [edited, editedAgain, moved, movedAgain] = reconcile(lab, [
      { path: 'a' },
      { path: 'a' },
      { path: 'b' },
      { path: 'b' },
    ]);
    assert.not.match(edited!.message, SKIPPED, 'a changed file is parsed and compiled');
    assert.is(edited!.status, 'Ready', edited!.message);
    assert.is(edited!.revision?.commit, comment);
    assert.match(editedAgain!.message, SKIPPED);
    assert.not.match(moved!.message, SKIPPED, 'another policy path is parsed and compiled');
    assert.is(moved!.status, 'Ready', moved!.message);
    assert.match(movedAgain!.message, SKIPPED);

    // The host lost its program: the fast path does not take the record's word for it, and a repair reattaches.
    rmSync(path.join(lab.bpffs, IFNAME, 'links', 'xdp'));
    const [lost, reattached] = reconcile(lab, [{ path: 'b' }, { path: 'b', repair: true }]);
    assert.not.match(lost!.message, SKIPPED, 'a host without its program is compiled for');
    assert.is(reattached!.reason, 'ReconciliationSucceeded', reattached!.message);
    assert.equal(lab.observe().findings, []);

    // Drift the fast path cannot see (a flushed chain) is left to drift checks, but a repair request repairs it.
    lab.a.exec(['iptables', '-t', 'raw', '-F', 'NOTRACK-PREROUTING']);
    const [flushed, repaired] = reconcile(lab, [{ path: 'b' }, { path: 'b', repair: true }]);
    assert.match(flushed!.message, SKIPPED);
    assert.is(repaired!.reason, 'ReconciliationSucceeded', repaired!.message);
    assert.ok(repaired!.changes > 0, repaired!.message);
    assert.match(lab.iptablesSave(4), /-A NOTRACK-PREROUTING .*-j NOTRACK/, 'the repair refilled the chain');
  }),
);

test.run();

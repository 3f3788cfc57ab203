// Provenance (issue 12, finding 6): a force-push back to an older commit is refused (Stalled, reason Rewind) and
// the host keeps what it runs, unless --allow-rewind says so.
import * as assert from 'uvu/assert';
import { kernelGate } from '../support/kernel-gate.js';
import { run } from '../support/netns.js';
import { RECONCILE_TOOLS, dbPolicy, withLab } from '../support/reconcile-fixture.js';

const gate = kernelGate('provenance', { tools: RECONCILE_TOOLS });

gate.test('a branch rewound to an older commit is refused as a rewind; --allow-rewind applies it', () =>
  withLab(async (lab) => {
    const older = lab.commit(dbPolicy(), 'older');
    assert.is(lab.cli('apply').status, 0);
    const newer = lab.commit(dbPolicy({ denyUdpPorts: [9999] }), 'newer');
    assert.is(lab.cli('apply').status, 0);
    assert.is(lab.record().revision.commit, newer);
    // The force-push: main points at the older commit again.
    run(['git', '-C', lab.repo, 'reset', '-q', '--hard', older]);
    const r = lab.cli('apply', '--format', 'json');
    assert.is(r.status, 1, r.stdout);
    const outcome = (JSON.parse(r.stdout) as { outcome: { status: string; reason: string; message: string } }).outcome;
    assert.equal([outcome.status, outcome.reason], ['Stalled', 'Rewind']);
    assert.match(outcome.message, /does not descend from the commit this host runs/);
    assert.is(lab.record().revision.commit, newer, 'the host keeps the newer commit');
    const allowed = lab.cli('apply', '--allow-rewind');
    assert.is(allowed.status, 0, allowed.stderr);
    assert.match(allowed.stderr, /does not descend/, 'the rewind is still reported');
    assert.is(lab.record().revision.commit, older);
    // A commit on top of the applied one is no rewind.
    const next = lab.commit(dbPolicy({ denyUdpPorts: [9001] }), 'next');
    assert.is(lab.cli('apply').status, 0);
    assert.is(lab.record().revision.commit, next);
  }),
);

gate.test.run();

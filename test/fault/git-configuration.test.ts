// Ways out set in Git (issue 12): NotrackConfiguration `suspend: true` keeps the dataplane and stops reconciling
// (drift reported, never repaired); `prune: true` takes notrack off a host whose HostEndpoints left the repository,
// and nothing is removed without it.
import * as assert from 'uvu/assert';
import { kernelGate } from '../support/kernel-gate.js';
import { notrackChains } from './lab-agent.js';
import { RECONCILE_TOOLS, dbPolicy, withLab, type ReconcileLab } from '../support/reconcile-fixture.js';

const gate = kernelGate('git-configuration', { tools: RECONCILE_TOOLS });

function configuration(name: string, spec: string): Record<string, string> {
  return {
    [`config/${name}.yaml`]: `apiVersion: notrack.dev/v1alpha1
kind: NotrackConfiguration
metadata:
  name: ${name}
spec:
  ${spec}
`,
  };
}

function applyJson(lab: ReconcileLab): {
  status: number;
  outcome: { status: string; reason: string; message: string };
} {
  const r = lab.cli('apply', '--format', 'json');
  return { status: r.status, outcome: (JSON.parse(r.stdout) as { outcome: never }).outcome };
}

gate.test('suspend: true in Git keeps the dataplane, applies nothing and repairs no drift until it is lifted', () =>
  withLab(async (lab) => {
    const first = lab.commit(dbPolicy());
    assert.is(lab.cli('apply').status, 0);
    const generation = lab.observe().activeGeneration;
    lab.commit({ ...dbPolicy({ denyUdpPorts: [9999] }), ...configuration('node.db-1', 'suspend: true') });
    const r = applyJson(lab);
    assert.is(r.status, 1);
    assert.equal([r.outcome.status, r.outcome.reason], ['Stalled', 'Suspended']);
    assert.match(r.outcome.message, 'suspend: true');
    assert.is(lab.record().revision.commit, first, 'the record still names the running commit');
    assert.is(lab.observe().activeGeneration, generation, 'the dataplane was kept as it was');
    // Drift while suspended in Git: the agent's reconciler reports it and leaves it.
    const jump = lab
      .iptablesSave(4)
      .split('\n')
      .find((l) => /^-A PREROUTING .*-j NOTRACK-/.test(l));
    assert.ok(jump, 'a jump into notrack raw chain exists');
    lab.a.exec(['iptables', '-t', 'raw', ...jump.replace(/^-A/, '-D').split(' ')]);
    const script = lab.reconcilerScript(`const r = new HostReconciler(opts);
const outcome = await r.reconcile('schedule');
const drift = await r.checkDrift('enforce');
process.stdout.write(JSON.stringify({ reason: outcome.reason, drift: drift.status, corrected: drift.corrected }));`);
    assert.equal(JSON.parse(script.stdout), { reason: 'Suspended', drift: 'Drifted', corrected: false });
    assert.not.ok(lab.iptablesSave(4).includes(jump), 'the removed jump was left removed');

    const lifted = lab.commit({
      ...dbPolicy({ denyUdpPorts: [9999] }),
      ...configuration('node.db-1', 'suspend: false'),
    });
    const after = applyJson(lab);
    assert.is(after.status, 0, after.outcome.message);
    assert.is(lab.record().revision.commit, lifted);
    assert.ok(lab.iptablesSave(4).includes(jump), 'the apply after the suspension repaired the jump');
  }),
);

gate.test('prune: true removes the dataplane of a host whose HostEndpoints left Git; without it nothing goes', () =>
  withLab(async (lab) => {
    lab.commit(dbPolicy());
    assert.is(lab.cli('apply').status, 0);
    // The db-1 HostEndpoint leaves; a policy for other hosts stays.
    const policy = (dbPolicy()['policies/db.yaml'] ?? '').replace(/ports: \[postgres\]/g, 'ports: [5432]');
    lab.commit({ 'policies/db.yaml': policy });
    const kept = applyJson(lab);
    assert.equal([kept.outcome.status, kept.outcome.reason], ['Stalled', 'HostNotFound']);
    assert.match(kept.outcome.message, /prune: true in NotrackConfiguration removes it/);
    assert.ok(lab.xdpAttached(), 'without prune the host keeps what it runs');
    assert.ok(notrackChains(lab) > 0);

    lab.commit({ 'policies/db.yaml': policy, ...configuration('default', 'prune: true') });
    const pruned = applyJson(lab);
    assert.is(pruned.status, 0, pruned.outcome.message);
    assert.equal([pruned.outcome.status, pruned.outcome.reason], ['Ready', 'Pruned']);
    assert.not.ok(lab.xdpAttached(), 'XDP detached');
    assert.is(notrackChains(lab), 0, 'no notrack chain left');
    assert.equal(lab.ipsets(), [], 'no notrack ipset left');
    assert.is(lab.pinnedGenerations().length, 0, 'no pins left');
    const again = applyJson(lab);
    assert.equal([again.status, again.outcome.reason], [0, 'UpToDate']);
  }),
);

gate.test.run();

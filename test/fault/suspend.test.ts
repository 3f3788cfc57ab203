// A way out that keeps the dataplane (issue 12, "ways out"): `notrack suspend` stops every change the agent makes
// (reconciles are Stalled with reason Suspended, /healthz says Suspended, /status shows it) and `resume` lets the
// next reconcile converge again.
import * as assert from 'uvu/assert';
import { kernelGate } from '../support/kernel-gate.js';
import { startLabAgent } from './lab-agent.js';
import { RECONCILE_TOOLS, dbPolicy, withLab } from '../support/reconcile-fixture.js';

const gate = kernelGate('suspend', { tools: RECONCILE_TOOLS });
const PORT = 9819;

gate.test('suspend keeps the dataplane and stops reconciling; /healthz and /status say so; resume converges', () =>
  withLab(async (lab) => {
    const first = lab.commit(dbPolicy());
    const agent = startLabAgent(lab, { port: PORT });
    const finished = (from: number, reason: string) =>
      agent.waitForLine((l) => (l.includes('"reconcile finished"') && l.includes(`"${reason}"`) ? l : null), {
        from,
        timeoutMs: 60_000,
        what: `a reconcile finished with ${reason}`,
      });
    try {
      await finished(0, 'ReconciliationSucceeded');
      const generation = lab.observe().activeGeneration;
      const s = lab.cli('suspend', '--reason', 'maintenance by hand');
      assert.is(s.status, 0, s.stderr);
      const second = lab.commit(dbPolicy({ denyUdpPorts: [9999] }));
      let mark = agent.output.length;
      agent.child.kill('SIGHUP');
      await finished(mark, 'Suspended');
      assert.is(lab.observe().activeGeneration, generation, 'the dataplane was kept as it was');
      assert.is(lab.record().revision.commit, first);
      const health = lab.httpGet(PORT, '/healthz');
      assert.is(health.status, 200, health.body);
      assert.match(health.body, /"reason":"Suspended"/);
      assert.match(health.body, /maintenance by hand/);
      const status = JSON.parse(lab.httpGet(PORT, '/status').body) as { condition: { reason: string } };
      assert.is(status.condition.reason, 'Suspended');
      assert.match(
        lab.httpGet(PORT, '/metrics').body,
        /notrack_reconcile_total\{status="Stalled",reason="Suspended"\} 1/,
      );

      assert.is(lab.cli('resume').status, 0);
      mark = agent.output.length;
      agent.child.kill('SIGHUP');
      await finished(mark, 'ReconciliationSucceeded');
      assert.is(lab.record().revision.commit, second, 'after resume the new commit is applied');
    } finally {
      await agent.stop('SIGTERM', 20_000);
    }
  }),
);

gate.test.run();

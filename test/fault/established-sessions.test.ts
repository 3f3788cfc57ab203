// Before applying, the host's established TCP sessions are judged against the new policy (issue 12, "commit
// confirmed"): a commit that would cut live sessions on non-failsafe ports is refused (Stalled, DisruptionRefused,
// naming them, IPv4 and IPv6), a session on a failsafe port (ssh) never counts, and --allow-disruption applies it.
import * as assert from 'uvu/assert';
import { kernelGate } from '../support/kernel-gate.js';
import { HOST_ADDR4, HOST_ADDR6, POSTGRES, RECONCILE_TOOLS, dbPolicy, withLab } from '../support/reconcile-fixture.js';
import { holdConnections, listen } from '../support/lab-sockets.js';
import { lockOutPolicy } from '../support/lock-out-policy.js';

const gate = kernelGate('established-sessions', { tools: RECONCILE_TOOLS });
const SSH = 22;

interface ApplyJson {
  outcome: { status: string; reason: string; message: string };
}

gate.test(
  'a commit that would cut live sessions is refused, naming them; ssh does not count; --allow-disruption applies',
  () =>
    withLab(async (lab) => {
      const first = lab.commit(dbPolicy(), 'first');
      assert.is(lab.cli('apply').status, 0);
      // The host's own firewall lets ssh in (a failsafe port notrack passes tracked, before any policy).
      lab.a.exec(['iptables', '-I', 'INPUT', '-p', 'tcp', '--dport', String(SSH), '-j', 'ACCEPT']);
      await listen(lab, lab.a, '::', POSTGRES, true);
      await listen(lab, lab.a, '::', SSH, true);
      const client = await holdConnections(lab, lab.b, [
        `${HOST_ADDR4}:${POSTGRES}`,
        `[${HOST_ADDR6}]:${POSTGRES}`,
        `${HOST_ADDR4}:${SSH}`,
      ]);

      const bad = lab.commit(lockOutPolicy('Ingress'), 'deny all inbound');
      const r = lab.cli('apply', '--format', 'json');
      assert.is(r.status, 1, r.stdout + r.stderr);
      const { outcome } = JSON.parse(r.stdout) as ApplyJson;
      assert.equal([outcome.status, outcome.reason], ['Stalled', 'DisruptionRefused']);
      assert.match(outcome.message, new RegExp(`^${bad.slice(0, 12)} would cut 2 established TCP sessions`));
      assert.match(outcome.message, new RegExp(`10\\.0\\.1\\.50:\\d+ -> ${HOST_ADDR4}:${POSTGRES} on eth0`));
      assert.match(outcome.message, new RegExp(`\\[fd00:0:0:1::50\\]:\\d+ -> \\[${HOST_ADDR6}\\]:${POSTGRES} on eth0`));
      assert.match(outcome.message, /inbound packets denied by deny-everything ingress rule 0/);
      assert.not.match(outcome.message, new RegExp(`:${SSH} on`), 'a session on a failsafe port is not counted');
      assert.match(outcome.message, /--allow-disruption applies it/);
      assert.is(lab.record().revision.commit, first, 'nothing was applied');
      assert.not.match(client.output, /closed/, 'the sessions live on');

      const allowed = lab.cli('apply', '--allow-disruption', '--no-confirm');
      assert.is(allowed.status, 0, allowed.stderr);
      assert.is(lab.record().revision.commit, bad);
      await client.stop('SIGTERM', 5_000);
    }),
);

gate.test.run();

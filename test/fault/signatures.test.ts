// Signatures (issue 12, finding 7): with --verify-signatures, apply and the agent refuse a head whose range from
// the applied commit holds an unsigned commit (Stalled, SignatureInvalid, nothing applied), and apply a range
// signed throughout by a key given out of band.
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { kernelGate } from '../support/kernel-gate.js';
import { run } from '../support/netns.js';
import { signedCommit, sshSigner, stage } from '../support/signing.js';
import { startLabAgent } from './lab-agent.js';
import { RECONCILE_TOOLS, dbPolicy, withLab } from '../support/reconcile-fixture.js';

const gate = kernelGate('signatures', { tools: [...RECONCILE_TOOLS, 'ssh-keygen'] });
const PORT = 9835;

type Outcome = { status: string; reason: string; message: string };

gate.test('an unsigned commit between the applied one and a signed head is refused; nothing is applied', () =>
  withLab(async (lab) => {
    const keys = mkdtempSync(path.join(tmpdir(), 'notrack-keys-'));
    try {
      const allowed = path.join(keys, 'allowed_signers');
      const alice = sshSigner(keys, 'alice', allowed);
      const verify = ['--verify-signatures', '--allowed-signers', allowed];
      stage(lab.repo, dbPolicy());
      const applied = signedCommit(lab.repo, alice, 'signed');
      const first = lab.cli('apply', ...verify);
      assert.is(first.status, 0, first.stderr);
      assert.is(lab.record().revision.commit, applied);
      const rules = lab.iptablesSave();

      stage(lab.repo, dbPolicy({ denyUdpPorts: [9999] }));
      const unsigned = signedCommit(lab.repo, null, 'unsigned, in the middle');
      stage(lab.repo, dbPolicy({ denyUdpPorts: [9001] }));
      signedCommit(lab.repo, alice, 'signed head');
      const r = lab.cli('apply', ...verify, '--format', 'json');
      assert.is(r.status, 1, r.stdout);
      const outcome = (JSON.parse(r.stdout) as { outcome: Outcome }).outcome;
      assert.equal([outcome.status, outcome.reason], ['Stalled', 'SignatureInvalid']);
      assert.match(outcome.message, new RegExp(`commit ${unsigned.slice(0, 12)} .*it is not signed`));
      assert.is(lab.record().revision.commit, applied, 'the record keeps the applied commit');
      assert.is(lab.iptablesSave(), rules, 'and the host its rules');

      // The agent says the same, and keeps serving the last good state.
      const agent = startLabAgent(lab, { port: PORT, extra: verify });
      try {
        const line = await agent.waitForLine(
          (l) => (l.includes('"reconcile finished"') && l.includes('"SignatureInvalid"') ? l : null),
          { timeoutMs: 120_000, what: 'a SignatureInvalid reconcile' },
        );
        assert.match(line, new RegExp(unsigned.slice(0, 12)));
        assert.is(lab.httpGet(PORT, '/healthz').status, 200);
        // The unsigned commit is taken out of history; a signed head on the applied commit is applied.
        run(['git', '-C', lab.repo, 'reset', '-q', '--hard', applied]);
        stage(lab.repo, dbPolicy({ denyUdpPorts: [9002] }));
        const fixed = signedCommit(lab.repo, alice, 'signed fix');
        const mark = agent.output.length;
        process.kill(agent.pid!, 'SIGHUP');
        await agent.waitForLine(
          (l) => (l.includes('"reconcile finished"') && l.includes('"ReconciliationSucceeded"') ? l : null),
          { from: mark, timeoutMs: 120_000, what: 'the signed fix applied' },
        );
        assert.is(lab.record().revision.commit, fixed);
      } finally {
        await agent.stop('SIGTERM', 20_000);
      }
    } finally {
      rmSync(keys, { recursive: true, force: true });
    }
  }),
);

gate.test('--verify-signatures without keys, or keys without it, is a usage error', () =>
  withLab((lab) => {
    const none = lab.cli('apply', '--verify-signatures');
    assert.is(none.status, 64, none.stderr);
    assert.match(none.stderr, /--verify-signatures needs the keys to trust/);
    const missing = lab.cli('apply', '--verify-signatures', '--trusted-keys', '/nonexistent/keys.gpg');
    assert.is(missing.status, 64);
    assert.match(missing.stderr, /--trusted-keys \/nonexistent\/keys\.gpg: no such file/);
    const alone = lab.cli('drift', '--allowed-signers', '/etc/hostname');
    assert.is(alone.status, 64);
    assert.match(alone.stderr, /take effect only with --verify-signatures/);
    const bytes = lab.cli('apply', '--max-object-bytes', '32M');
    assert.is(bytes.status, 64);
    assert.match(bytes.stderr, /--max-object-bytes takes a whole number of bytes/);
  }),
);

gate.test.run();

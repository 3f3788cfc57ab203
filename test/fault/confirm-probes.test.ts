// The probes of NotrackConfiguration confirm a switch made by `notrack apply` (issue 12, "commit confirmed"): a
// target that was already down before the switch never rolls a commit back, while a target the switch cuts off does,
// and apply then exits 1 saying so, with the host back on the previous commit.
import * as assert from 'uvu/assert';
import { kernelGate } from '../support/kernel-gate.js';
import { PEER_ADDR4, RECONCILE_TOOLS, dbPolicy, withLab } from '../support/reconcile-fixture.js';
import { holdConnections, listen } from '../support/lab-sockets.js';
import { lockOutPolicy, withProbes } from '../support/lock-out-policy.js';

const gate = kernelGate('confirm-probes', { tools: RECONCILE_TOOLS });
/** Served by the peer (up), nothing behind it (down), a service of the host itself. */
const UP = 8443;
const DOWN = 8444;
const LOCAL = 8445;
const PROBES = { tcp: [`${PEER_ADDR4}:${UP}`, `${PEER_ADDR4}:${DOWN}`], localPorts: [LOCAL] };

interface ApplyJson {
  outcome: { status: string; reason: string; message: string; confirming?: boolean };
  confirmation: {
    status: string;
    message: string;
    probes: { probe: string; before: boolean; after: boolean | null }[];
  } | null;
}

gate.test('a probe target down before the switch is not counted; a target the switch cuts off rolls apply back', () =>
  withLab(async (lab) => {
    await listen(lab, lab.b, PEER_ADDR4, UP, false);
    await listen(lab, lab.a, '127.0.0.1', LOCAL, false);
    lab.commit(withProbes(dbPolicy(), PROBES), 'first');
    assert.is(lab.cli('apply', '--confirm-timeout', '5s').status, 0);
    const second = lab.commit(withProbes(dbPolicy({ denyUdpPorts: [9999] }), PROBES), 'second');
    const ok = lab.cli('apply', '--confirm-timeout', '5s', '--format', 'json');
    assert.is(ok.status, 0, ok.stderr + ok.stdout);
    const confirmed = JSON.parse(ok.stdout) as ApplyJson;
    assert.equal([confirmed.outcome.status, confirmed.confirmation?.status], ['Ready', 'Confirmed']);
    const byName = (j: ApplyJson, name: string) => j.confirmation!.probes.find((p) => p.probe === name);
    assert.equal(byName(confirmed, `tcp ${PEER_ADDR4}:${DOWN}`), {
      probe: `tcp ${PEER_ADDR4}:${DOWN}`,
      before: false,
      after: null,
      error: 'ECONNREFUSED',
    });
    assert.is(byName(confirmed, `tcp ${PEER_ADDR4}:${UP}`)?.after, true);
    assert.is(byName(confirmed, `local port ${LOCAL}`)?.after, true);
    assert.match(confirmed.confirmation!.message, /not counted, already failing before it: tcp 10\.0\.1\.50:8444/);
    assert.is(lab.record().revision.commit, second);
    const generation = lab.observe().activeGeneration;

    // Deny-all inbound: the peer's SYN-ACKs are dropped at XDP, so the connection to the up target fails.
    const bad = lab.commit(withProbes(lockOutPolicy('Ingress'), PROBES), 'lock-out');
    const r = lab.cli('apply', '--confirm-timeout', '4s');
    assert.is(r.status, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /confirming: 3 probes within 4 s/, 'the switch is reported before its outcome');
    assert.match(r.stderr, new RegExp(`RolledBack: rolled back ${bad.slice(0, 12)}: tcp ${PEER_ADDR4}:${UP}: `));
    assert.match(r.stderr, new RegExp(`the host runs ${second.slice(0, 12)} again`));
    assert.match(r.stdout, new RegExp(`probe tcp ${PEER_ADDR4}:${UP}: before passed, after failed`));
    assert.is(lab.record().revision.commit, second, 'the record names the previous commit');
    assert.is.not(lab.observe().activeGeneration, generation, 'the previous state was switched back in');
    // The host can reach the target again.
    const again = await holdConnections(lab, lab.a, [`${PEER_ADDR4}:${UP}`]);
    await again.stop('SIGTERM', 5_000);
  }),
);

gate.test('--no-confirm switches without probing and leaves the commit in place', () =>
  withLab(async (lab) => {
    await listen(lab, lab.b, PEER_ADDR4, UP, false);
    lab.commit(withProbes(dbPolicy(), PROBES), 'first');
    assert.is(lab.cli('apply', '--no-confirm').status, 0);
    const bad = lab.commit(withProbes(lockOutPolicy('Ingress'), PROBES), 'lock-out');
    const r = lab.cli('apply', '--no-confirm', '--format', 'json');
    assert.is(r.status, 0, r.stderr);
    const j = JSON.parse(r.stdout) as ApplyJson;
    assert.is(j.confirmation, null);
    assert.is(j.outcome.confirming, undefined);
    assert.is(lab.record().revision.commit, bad);
  }),
);

gate.test.run();

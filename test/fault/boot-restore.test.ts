// After a reboot the host does not wait for Git (issue 12, finding 2): `notrack restore` puts the last applied state
// back from the state folder with no network, and the agent does the same first thing on start, so a host whose
// Git server is unreachable at boot is protected (XDP, chains, sets) and says so truthfully.
import * as assert from 'uvu/assert';
import { rmSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { kernelGate } from '../support/kernel-gate.js';
import { notrackChains, startLabAgent } from './lab-agent.js';
import {
  IFNAME,
  PEER_ADDR4,
  RECONCILE_TOOLS,
  dbPolicy,
  postgresConnection,
  withLab,
  type ReconcileLab,
} from '../support/reconcile-fixture.js';

const gate = kernelGate('boot-restore', { tools: RECONCILE_TOOLS });
const PORT = 9818;
/** A repository URL on the peer where nothing listens: Git is unreachable. */
const UNREACHABLE = `http://${PEER_ADDR4}:9/policy.git`;

/** What a reboot leaves: no pins (bpffs is memory), no notrack chains or sets, a new ifindex for eth0. */
function reboot(lab: ReconcileLab): void {
  for (const name of readdirSync(lab.bpffs)) rmSync(path.join(lab.bpffs, name), { recursive: true, force: true });
  const hostRules =
    '*filter\n:INPUT DROP [0:0]\n-A INPUT -i lo -j ACCEPT\n-A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT\nCOMMIT\n*raw\nCOMMIT\n';
  lab.a.exec(['iptables-restore'], { input: hostRules });
  lab.a.exec(['ip6tables-restore'], { input: hostRules });
  lab.a.exec(['ipset', 'destroy']);
  lab.deleteLink();
  lab.createLink();
}

gate.test('notrack restore: the applied state comes back from the state folder without Git', () =>
  withLab(async (lab) => {
    lab.commit(dbPolicy());
    assert.is(lab.cli('apply').status, 0);
    const chains = notrackChains(lab);
    const sets = lab.ipsets();
    reboot(lab);
    assert.not.ok(lab.xdpAttached(), 'the reboot left nothing');
    assert.is(notrackChains(lab), 0);
    rmSync(lab.repo, { recursive: true, force: true });
    const r = lab.cli('restore');
    assert.is(r.status, 0, r.stderr);
    assert.match(r.stdout, /restored [0-9a-f]{12}/);
    assert.ok(lab.xdpAttached(), 'XDP is back on eth0');
    assert.is(notrackChains(lab), chains, 'every notrack chain is back');
    assert.equal(lab.ipsets(), sets, 'the ipsets are back');
    const pg = await postgresConnection(lab);
    assert.ok(pg.arrived && pg.tracked.length === 0, 'postgres flows untracked again');
  }),
);

gate.test('the agent restores first on start: Git unreachable at boot, the host is protected anyway', () =>
  withLab(async (lab) => {
    lab.commit(dbPolicy());
    assert.is(lab.cli('apply').status, 0);
    reboot(lab);
    const agent = startLabAgent(lab, { port: PORT, extra: ['--repo', UNREACHABLE] });
    try {
      await agent.waitForLine((l) => (l.includes('"reconcile finished"') && l.includes('"Failed"') ? l : null), {
        timeoutMs: 60_000,
        what: 'a Failed reconcile (Git unreachable)',
      });
      assert.match(agent.output, /"restored the last applied state"/);
      assert.ok(lab.xdpAttached(), `XDP is on ${IFNAME} without Git`);
      assert.ok(notrackChains(lab) > 0, 'the chains are back without Git');
      const health = lab.httpGet(PORT, '/healthz');
      assert.is(health.status, 200, health.body);
      assert.match(health.body, /Retrying/);
      const pg = await postgresConnection(lab);
      assert.ok(pg.arrived && pg.tracked.length === 0, 'postgres flows untracked without Git');
    } finally {
      await agent.stop('SIGTERM', 20_000);
    }
  }),
);

gate.test.run();

// Lock-out (issue 12, finding 5): a commit that cuts the host off from its Git server (deny-all inbound, deny-all
// outbound) is rolled back by the agent on its own once the probes that passed before the switch fail after it:
// Stalled with reason RolledBack in /status, metrics and logs, never retried (not even after a restart) until the head
// moves, and the fixing commit pushed afterwards is fetched and applied. The Git server runs in the peer namespace,
// reached over eth0 through the firewall under test.
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { LabProcess } from '../../src/demo/lab-process.js';
import { gitServerArgv } from '../../src/demo/node-entry.js';
import { kernelGate } from '../support/kernel-gate.js';
import { startLabAgent } from './lab-agent.js';
import { lockOutPolicy } from '../support/lock-out-policy.js';
import { PEER_ADDR4, RECONCILE_TOOLS, dbPolicy, withLab, type ReconcileLab } from '../support/reconcile-fixture.js';

const gate = kernelGate('commit-confirmation', { tools: RECONCILE_TOOLS });
const PORT = 9833;
const GIT_PORT = 9834;

/** The lab's policy repository served over smart HTTP from the peer namespace `b` (across eth0). */
async function gitServer(lab: ReconcileLab): Promise<{ url: string; server: LabProcess; home: string }> {
  const home = mkdtempSync(path.join(tmpdir(), 'notrack-git-home-'));
  const [cmd, ...args] = gitServerArgv();
  const child = spawn(
    'ip',
    [
      'netns',
      'exec',
      lab.b.name,
      cmd!,
      ...args,
      '--root',
      path.dirname(lab.repo),
      '--home',
      home,
      '--listen',
      `${PEER_ADDR4}:${GIT_PORT}`,
    ],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  const server = new LabProcess(lab.track(child));
  await server.waitFor(/"listening"/, { timeoutMs: 60_000 });
  return { url: `http://${PEER_ADDR4}:${GIT_PORT}/${path.basename(lab.repo)}`, server, home };
}

/** The -A rules of notrack's chains and the jumps to them (no counters), to compare rule sets. */
function notrackRules(lab: ReconcileLab, family: 4 | 6): string[] {
  return lab
    .iptablesSave(family)
    .split('\n')
    .filter((l) => l.includes('NOTRACK-') || l.startsWith('*'));
}

async function lockOutRolledBack(direction: 'Ingress' | 'Egress'): Promise<void> {
  await withLab(async (lab) => {
    const good = lab.commit(dbPolicy(), 'good');
    const git = await gitServer(lab);
    const extra = ['--repo', git.url, '--confirm-timeout', '6s'];
    let agent = startLabAgent(lab, { port: PORT, extra });
    const finished = (from: number, reason: string) =>
      agent.waitForLine((l) => (l.includes('"reconcile finished"') && l.includes(`"${reason}"`) ? l : null), {
        from,
        timeoutMs: 90_000,
        what: `a reconcile finished with ${reason}`,
      });
    try {
      await agent.waitFor(/"commit confirmed"/, { timeoutMs: 90_000 });
      assert.is(lab.record().revision.commit, good);
      const rules4 = notrackRules(lab, 4);
      const rules6 = notrackRules(lab, 6);
      const sets = lab.ipsets();

      const bad = lab.commit(lockOutPolicy(direction), `deny all ${direction}`);
      let mark = agent.output.length;
      agent.child.kill('SIGHUP');
      // The switch is reported at once, the outcome follows.
      const switched = await finished(mark, 'ReconciliationSucceeded');
      assert.match(switched, /confirming: 1 probe within 6 s/);
      const rolled = await agent.waitForLine((l) => (l.includes('"commit rolled back"') ? l : null), {
        from: mark,
        timeoutMs: 60_000,
        what: 'the rollback',
      });
      assert.match(rolled, /"level":"error"/);
      assert.match(rolled, new RegExp(`"commit":"${bad}"`));
      assert.match(rolled, /git remote http:/);
      await finished(mark, 'RolledBack');
      assert.is(lab.record().revision.commit, good, 'the record names the good commit again');
      assert.equal(notrackRules(lab, 4), rules4, 'iptables rules are those of the good commit');
      assert.equal(notrackRules(lab, 6), rules6);
      assert.equal(lab.ipsets(), sets);
      assert.ok(lab.xdpAttached());
      const status = JSON.parse(lab.httpGet(PORT, '/status').body) as {
        condition: { status: string; reason: string; message: string };
        lastConfirmation: { outcome: { status: string; commit: string } };
      };
      assert.equal([status.condition.status, status.condition.reason], ['Stalled', 'RolledBack']);
      assert.equal(
        [status.lastConfirmation.outcome.status, status.lastConfirmation.outcome.commit],
        ['RolledBack', bad],
      );
      const metrics = lab.httpGet(PORT, '/metrics').body;
      assert.match(metrics, /notrack_rollbacks_total 1/);
      // `notrack status` says which commit is refused and why.
      const hostStatus = JSON.parse(lab.cli('status', '--format', 'json').stdout) as { rolledBack: { commit: string } };
      assert.is(hostStatus.rolledBack.commit, bad);
      assert.match(lab.cli('status').stdout, `rolled back: ${bad.slice(0, 12)} was rolled back at`);
      assert.match(metrics, new RegExp(`notrack_rolled_back_commit_info\\{commit="${bad}"\\} 1`));
      assert.match(metrics, /notrack_reconcile_total\{status="Stalled",reason="RolledBack"\} 1/);

      // The bad commit is not applied again: not on the next reconcile, not after a restart of the agent.
      const generation = lab.observe().activeGeneration;
      mark = agent.output.length;
      agent.child.kill('SIGHUP');
      const again = await finished(mark, 'RolledBack');
      assert.match(again, /not applied again until the head moves/);
      await agent.stop('SIGTERM', 20_000);
      agent = startLabAgent(lab, { port: PORT, extra });
      const afterRestart = await finished(0, 'RolledBack');
      assert.match(afterRestart, new RegExp(bad.slice(0, 12)));
      // The metric names the commit after the restart too (it is read from the mark the host keeps).
      assert.match(
        lab.httpGet(PORT, '/metrics').body,
        new RegExp(`notrack_rolled_back_commit_info\\{commit="${bad}"\\} 1`),
      );
      assert.is(lab.observe().activeGeneration, generation, 'nothing was switched');
      assert.not.match(agent.output, /"confirming/);

      // The fix pushed afterwards reaches the host (its Git path works again) and is confirmed.
      const fix = lab.commit(dbPolicy({ denyUdpPorts: [9999] }), 'fix');
      mark = agent.output.length;
      agent.child.kill('SIGHUP');
      await agent.waitFor(/"commit confirmed"/, { from: mark, timeoutMs: 90_000 });
      assert.is(lab.record().revision.commit, fix);
      const fixed = JSON.parse(lab.httpGet(PORT, '/status').body) as { condition: { status: string } };
      assert.is(fixed.condition.status, 'Ready');
    } finally {
      await agent.stop('SIGTERM', 20_000);
      await git.server.stop('SIGTERM', 5_000);
      rmSync(git.home, { recursive: true, force: true });
    }
  });
}

gate.test('a deny-all-inbound commit is rolled back; /status says RolledBack; not retried; the fix applies', () =>
  lockOutRolledBack('Ingress'),
);

gate.test('a deny-all-outbound commit is rolled back; /status says RolledBack; not retried; the fix applies', () =>
  lockOutRolledBack('Egress'),
);

type LabAgent = ReturnType<typeof startLabAgent>;

/** What a test body gets: the lab, its agent (which `restart` replaces), the two commits, and where the switch began. */
interface Confirming {
  lab: ReconcileLab;
  agent: LabAgent;
  restart(): LabAgent;
  good: string;
  bad: string;
  mark: number;
}

/**
 * A lab whose agent (confirming within `seconds`) runs a good commit and is then confirming its switch to a
 * deny-all-inbound commit when `body` runs; the agent and the Git server are stopped afterwards.
 */
function whileConfirmingLockOut(seconds: number, body: (c: Confirming) => Promise<void>): Promise<void> {
  return withLab(async (lab) => {
    const good = lab.commit(dbPolicy(), 'good');
    const git = await gitServer(lab);
    const extra = ['--repo', git.url, '--confirm-timeout', `${seconds}s`];
    const c: Confirming = {
      lab,
      agent: startLabAgent(lab, { port: PORT, extra }),
      restart: () => (c.agent = startLabAgent(lab, { port: PORT, extra })),
      good,
      bad: '',
      mark: 0,
    };
    try {
      await c.agent.waitFor(/"commit confirmed"/, { timeoutMs: 90_000 });
      c.bad = lab.commit(lockOutPolicy('Ingress'), 'deny all inbound');
      c.mark = c.agent.output.length;
      c.agent.child.kill('SIGHUP');
      await c.agent.waitFor(new RegExp(`confirming: 1 probe within ${seconds} s`), { from: c.mark, timeoutMs: 90_000 });
      await body(c);
    } finally {
      await c.agent.stop('SIGTERM', 20_000);
      await git.server.stop('SIGTERM', 5_000);
      rmSync(git.home, { recursive: true, force: true });
    }
  });
}

/** The agent's log line of a failed rollback, and that notrack still protects the host with the commit it switched to. */
async function rollbackFailedProtected(c: Confirming, from: number): Promise<string> {
  const failed = await c.agent.waitForLine((l) => (l.includes('"rollback failed"') ? l : null), {
    from,
    timeoutMs: 90_000,
    what: 'the failed rollback',
  });
  assert.match(failed, /no longer in/);
  assert.not.match(c.agent.output.slice(from), /"commit rolled back"/);
  assert.is(c.lab.record().revision.commit, c.bad, 'the record still names what runs');
  assert.ok(c.lab.xdpAttached(), 'notrack was not removed from the host');
  assert.ok(
    notrackRules(c.lab, 4).some((l) => l.startsWith('-A NOTRACK-')),
    'its iptables rules stay',
  );
  return failed;
}

gate.test('an agent killed (-9) while it confirms a lock-out commit rolls it back when it starts again', () =>
  whileConfirmingLockOut(8, async (c) => {
    await c.agent.stop('SIGKILL', 10_000);
    assert.is(c.lab.record().revision.commit, c.bad, 'the lock-out runs, unconfirmed');
    const agent = c.restart();
    const rolled = await agent.waitForLine((l) => (l.includes('"commit rolled back"') ? l : null), {
      timeoutMs: 90_000,
      what: 'the rollback after the restart',
    });
    assert.match(rolled, new RegExp(`"commit":"${c.bad}"`));
    assert.match(agent.output, /left unconfirmed \(the process ended\): confirming it now, before fetching/);
    assert.is(c.lab.record().revision.commit, c.good);
    const status = JSON.parse(c.lab.httpGet(PORT, '/status').body) as { condition: { reason: string } };
    assert.is(status.condition.reason, 'RolledBack');
  }),
);

gate.test(
  'a rollback whose kept previous state is gone fails and keeps the host protected (never removes notrack)',
  () =>
    whileConfirmingLockOut(6, async (c) => {
      // The way back is read only at rollback time (it is kept by a link, not in memory): take it away first.
      rmSync(path.join(c.lab.stateDir, 'applied-state.previous.json'));
      await rollbackFailedProtected(c, c.mark);
    }),
);

gate.test('after a kill -9 during confirmation, a lost previous state fails the rollback and keeps notrack on', () =>
  whileConfirmingLockOut(8, async (c) => {
    await c.agent.stop('SIGKILL', 10_000);
    rmSync(path.join(c.lab.stateDir, 'applied-state.previous.json'));
    c.restart();
    await rollbackFailedProtected(c, 0);
  }),
);

gate.test.run();

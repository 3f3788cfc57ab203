// Memory (issue 12, finding 8): under a real 384 MiB memory cgroup (the DaemonSet's limit) the agent fetching over
// HTTP survives a push of a 1 GiB blob (a 1 MiB pack) and of a YAML file nested 250k levels deep: not OOM-killed,
// the commit reported bad (Stalled), /healthz still serving the last good state, and the next good commit applied.
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { LabProcess } from '../../src/demo/lab-process.js';
import { gitServerArgv } from '../../src/demo/node-entry.js';
import { kernelGate } from '../support/kernel-gate.js';
import { run } from '../support/netns.js';
import { GIB, commitBlob, deeplyNested, writeZeroBlobPack } from '../support/big-blob.js';
import { MemoryCgroup, memoryCgroupProblem, peakRss } from '../support/memory-cgroup.js';
import { startLabAgent } from './lab-agent.js';
import { RECONCILE_TOOLS, dbPolicy, withLab, type ReconcileLab } from '../support/reconcile-fixture.js';

const gate = kernelGate('memory-bounds', { tools: RECONCILE_TOOLS });
const LIMIT = 384 * 1024 * 1024;
const MIB = 1024 * 1024;

/** The lab's repository served over smart HTTP inside the host's namespace, as a bare copy pushed to. */
async function serveOverHttp(lab: ReconcileLab, port: number) {
  const base = path.dirname(lab.stateDir);
  const root = path.join(base, 'served');
  const home = path.join(base, 'served-home');
  mkdirSync(home);
  run(['git', 'clone', '-q', '--bare', lab.repo, path.join(root, 'policy.git')]);
  const server = new LabProcess(
    lab.track(
      spawn(
        'ip',
        [
          'netns',
          'exec',
          lab.a.name,
          ...gitServerArgv(),
          '--root',
          root,
          '--home',
          home,
          '--listen',
          `127.0.0.1:${port}`,
        ],
        { stdio: ['pipe', 'pipe', 'pipe'] },
      ),
    ),
  );
  await server.waitFor(/"listening"/, { timeoutMs: 60_000 });
  const gitdir = path.join(root, 'policy.git');
  return {
    server,
    gitdir,
    url: `http://127.0.0.1:${port}/policy.git`,
    /** Pushes the lab repository's main over whatever the served one holds. */
    push: () => run(['git', '-C', lab.repo, 'push', '-q', '--force', gitdir, 'main:main']),
  };
}

async function finished(agent: LabProcess, reason: string, from: number): Promise<string> {
  return agent.waitForLine((l) => (l.includes('"reconcile finished"') && l.includes(`"${reason}"`) ? l : null), {
    from,
    timeoutMs: 240_000,
    what: `a reconcile that ends ${reason}`,
  });
}

/**
 * Starts the agent in a fresh 384 MiB cgroup against the served repository, applies the good commit, runs
 * `bad` (which pushes a hostile commit) and checks the agent's answer to it; returns the peaks for the report.
 */
async function underLimit(
  lab: ReconcileLab,
  ports: { agent: number; git: number },
  bad: (served: Awaited<ReturnType<typeof serveOverHttp>>) => Promise<void> | void,
  expect: { reason: string; message: RegExp },
): Promise<void> {
  const good = lab.commit(dbPolicy(), 'good');
  const served = await serveOverHttp(lab, ports.git);
  const group = MemoryCgroup.create(LIMIT);
  let agent: LabProcess | undefined;
  try {
    assert.is(group.limit(), LIMIT);
    agent = startLabAgent(lab, { port: ports.agent, extra: ['--repo', served.url], prefix: group.joinPrefix() });
    await finished(agent, 'ReconciliationSucceeded', 0);
    assert.is(lab.record().revision.commit, good);
    assert.ok(group.processes().includes(agent.pid!), 'the agent runs in the cgroup');

    await bad(served);
    const mark = agent.output.length;
    process.kill(agent.pid!, 'SIGHUP');
    const line = await finished(agent, expect.reason, mark).catch((e: Error) => {
      // Say what the kernel saw: on code that inflates the blob, the OOM killer ends the agent.
      throw new Error(
        `${e.message.split('\n')[0]} (OOM kills in the cgroup: ${group.oomKills()}, cgroup peak ` +
          `${(group.peak() / MIB).toFixed(1)} MiB of ${LIMIT / MIB} MiB; the agent ${agent!.running ? 'runs' : 'ended'})`,
      );
    });
    assert.match(line, expect.message);
    const rss = peakRss(agent.pid!);
    assert.ok(agent.running, 'the agent survives');
    assert.is(group.oomKills(), 0, 'nothing in the cgroup was OOM-killed');
    const health = lab.httpGet(ports.agent, '/healthz');
    assert.is(health.status, 200, health.body);
    assert.is(lab.record().revision.commit, good, 'the host keeps the last good commit');
    assert.ok(lab.xdpAttached(), 'and its dataplane');
    process.stdout.write(
      `memory-bounds: ${expect.reason}: agent peak RSS ${(rss / MIB).toFixed(1)} MiB, cgroup peak ` +
        `${(group.peak() / MIB).toFixed(1)} MiB of ${LIMIT / MIB} MiB\n`,
    );

    // The next good commit, on top of the last good one, is applied.
    const next = lab.commit(dbPolicy({ denyUdpPorts: [9999] }), 'next good');
    served.push();
    const again = agent.output.length;
    process.kill(agent.pid!, 'SIGHUP');
    await finished(agent, 'ReconciliationSucceeded', again);
    assert.is(lab.record().revision.commit, next);
    assert.is(group.oomKills(), 0);
  } finally {
    await agent?.stop('SIGTERM', 20_000);
    await served.server.stop('SIGTERM', 5_000);
    group.remove();
  }
}

gate.test('a 1 GiB blob from a 1 MiB pack, outside the policy path: refused from its header, agent unharmed', () => {
  const problem = memoryCgroupProblem();
  if (problem) throw new Error(problem);
  return withLab((lab) =>
    underLimit(
      lab,
      { agent: 9831, git: 9832 },
      async (served) => {
        const blob = await writeZeroBlobPack(served.gitdir, GIB);
        commitBlob(served.gitdir, 'main', 'assets/zeros.bin', blob, 'a 1 GiB blob');
      },
      { reason: 'SourceTooLarge', message: /is a blob of 1\.0 GiB \(1073741824 bytes\), over the 32\.0 MiB limit/ },
    ),
  );
});

gate.test('a 500 KB policy file nested 250k levels deep: refused by the nesting bound, agent unharmed', () =>
  withLab((lab) =>
    underLimit(
      lab,
      { agent: 9833, git: 9834 },
      (served) => {
        lab.commit({ ...dbPolicy(), 'policies/nested.yaml': deeplyNested(250_000) }, 'nested 250k deep');
        served.push();
      },
      { reason: 'ValidationFailed', message: /nest/ },
    ),
  ),
);

gate.test.run();

// A Git server that trickles (issue 12, finding 9): the fetch gives up after one rate window (1 KiB/s over 10 s)
// instead of holding the reconcile until the server dies, and drift checks keep running while it trickles.
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { LabProcess } from '../../src/demo/lab-process.js';
import { kernelGate } from '../support/kernel-gate.js';
import { startLabAgent } from './lab-agent.js';
import { RECONCILE_TOOLS, dbPolicy, withLab } from '../support/reconcile-fixture.js';

const gate = kernelGate('slow-git', { tools: RECONCILE_TOOLS });
const PORT = 9819;
const GIT_PORT = 9820;

/** An HTTP server that answers every request with one byte every 2 s, for ever (it prints "ready" when listening). */
const TRICKLE = `import http from 'node:http';
const server = http.createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'application/x-git-upload-pack-advertisement' });
  const timer = setInterval(() => res.write('0'), 2000);
  res.on('close', () => clearInterval(timer));
});
server.listen(${GIT_PORT}, '127.0.0.1', () => process.stdout.write('ready\\n'));
`;

gate.test('a trickling Git server fails the fetch within one rate window; drift checks run during the fetch', () =>
  withLab(async (lab) => {
    lab.commit(dbPolicy());
    assert.is(lab.cli('apply').status, 0);
    const server = new LabProcess(
      lab.track(
        spawn('ip', ['netns', 'exec', lab.a.name, process.execPath, '--input-type=module', '--eval', TRICKLE], {
          stdio: ['ignore', 'pipe', 'pipe'],
        }),
      ),
    );
    await server.waitFor(/ready/);
    const agent = startLabAgent(lab, {
      port: PORT,
      driftSchedule: '2s',
      extra: ['--repo', `http://127.0.0.1:${GIT_PORT}/policy.git`],
    });
    try {
      const started = Date.now();
      const failed = await agent.waitForLine(
        (l) => (l.includes('"reconcile finished"') && l.includes('"FetchFailed"') ? l : null),
        { timeoutMs: 90_000, what: 'a FetchFailed reconcile (the server trickles)' },
      );
      const took = Date.now() - started;
      assert.match(failed, /below the minimum of 1024 bytes\/s/);
      // One 10 s window, plus start-up on a loaded machine; the server would have held it for ever.
      assert.ok(took < 60_000, `the fetch gave up after ${took} ms`);
      // The fetch runs outside the agent's single-flight lock: drift checks went on while it trickled.
      const before = agent.output.slice(0, agent.output.indexOf(failed));
      const during = before.split('\n').filter((l) => l.includes('"drift check finished"')).length;
      assert.ok(during >= 1, `drift checks while the fetch trickled: ${during}`);
      assert.not.match(before, /"scheduled tick skipped","job":"drift","reason":"busy"/);
      assert.ok(lab.xdpAttached(), 'the host keeps its applied state');
    } finally {
      await agent.stop('SIGTERM', 20_000);
      await server.stop('SIGTERM', 5_000);
    }
  }),
);

gate.test.run();

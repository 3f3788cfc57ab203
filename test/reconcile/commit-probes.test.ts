// The probes of a switch: run once before it, then each one that passed retried until the deadline; one already
// failing before never counts; a real TCP connect and a local port.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createServer } from 'node:net';
import { brokenProbes, commitProbes, probeAfter, probeBefore, type Probe } from '../../src/reconcile/commit-probes.js';

/** A probe that passes while `up()` says so. */
const probe = (name: string, up: () => boolean): Probe & { tries: number } => {
  const p = {
    name,
    tries: 0,
    run: async () => {
      p.tries += 1;
      if (!up()) throw new Error('ECONNREFUSED');
    },
  };
  return p;
};

test('only a probe that passed before and fails until the deadline is broken; a flapping one recovers', async () => {
  let flapping = false;
  const steady = probe('steady', () => true);
  const down = probe('down before', () => false);
  const cut = probe('cut', () => false);
  const back = probe('back soon', () => flapping);
  const before = await probeBefore([steady, down, back]);
  const cutBefore = { probe: 'cut', before: true, after: null, error: null };
  assert.equal(
    before.map((b) => [b.probe, b.before]),
    [
      ['steady', true],
      ['down before', false],
      ['back soon', false],
    ],
  );
  // "back soon" passed before in this run: say so, then let it fail for a moment after the switch.
  before[2] = { ...before[2]!, before: true, error: null };
  setTimeout(() => (flapping = true), 300);
  const after = await probeAfter([steady, down, cut, back], [...before, cutBefore], 1_500);
  assert.equal(
    after.map((a) => [a.probe, a.after]),
    [
      ['steady', true],
      ['down before', null],
      ['back soon', true],
      ['cut', false],
    ],
  );
  assert.is(down.tries, 1, 'a probe down before the switch is not tried after it');
  assert.ok(cut.tries >= 2, 'a failing probe is retried until the deadline');
  assert.equal(
    brokenProbes(after).map((b) => [b.probe, b.error]),
    [['cut', 'ECONNREFUSED']],
  );
});

test('tcp and local-port probes connect for real; the Git probe is named without credentials', async () => {
  const server = createServer((s) => s.end());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  try {
    const probes = commitProbes(
      { repo: 'https://user:secret@git.example/policy.git' },
      { tcp: [`127.0.0.1:${port}`, '[::1]:1'], localPorts: [port] },
    );
    assert.equal(
      probes.map((p) => p.name),
      ['git remote https://git.example/policy.git', `tcp 127.0.0.1:${port}`, 'tcp [::1]:1', `local port ${port}`],
    );
    const results = await probeBefore(probes.slice(1), 2_000);
    assert.equal(
      results.map((r) => [r.probe, r.before, r.error]),
      [
        [`tcp 127.0.0.1:${port}`, true, null],
        ['tcp [::1]:1', false, 'ECONNREFUSED'],
        [`local port ${port}`, true, null],
      ],
    );
  } finally {
    server.close();
  }
});

test('a plain folder has no Git probe', () => {
  assert.equal(commitProbes({ path: 'policies' }, { tcp: [], localPorts: [] }), []);
});

test.run();

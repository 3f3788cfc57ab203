// `notrack demo` end to end, as a new user runs it: every step's outcome, the exit status, a failing step named,
// Ctrl-C, and nothing of the lab left behind in any case.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliCommand, runCli } from '../support/cli.js';
import { abandoned, LAB_NAME_PREFIX } from '../../src/demo/leftovers.js';
import { labGate, namespacesStartingWith, ROOT } from './lab-fixture.js';

const gate = labGate('demo');
const dt = gate.test;

// Each demo runs in a child that has ended by the time a test ends: none of its namespaces may remain. (Other
// labs, say of a second test suite running beside this one, belong to live processes and are not counted.)
test.after.each(() => {
  if (!gate.runs) return;
  assert.equal(
    namespacesStartingWith(LAB_NAME_PREFIX).filter(abandoned),
    [],
    'no namespace of an ended demo is left in ip netns list',
  );
});

dt('runs every step against policies-example and exits 0', () => {
  const r = runCli(['demo']);
  const out = r.stdout;
  assert.is(r.status, 0, `${out}\n${r.stderr}`);
  for (let i = 1; i <= 7; i++) assert.match(out, `== Step ${i}/7: `);
  assert.not.match(out, '✘');
  assert.match(out, /✔ host edge-1: eth0 \(edge-1-eth0\), eth1 \(edge-1-eth1\)/);
  assert.match(out, /✔ db-1: notrack apply exited 0/);
  assert.match(out, /✔ TCP 10\.0\.1\.50 -> 10\.0\.2\.10:5432 got through and was answered/);
  assert.match(out, /✔ UDP 10\.0\.1\.50 -> 10\.0\.2\.20:11211 got through and was answered/);
  assert.match(out, /✔ TCP 203\.0\.113\.66 -> 10\.0\.0\.10:80 never reached the web server/);
  assert.match(out, /✔ db-1 keeps no conntrack entry for the postgres connection/);
  assert.match(out, /✔ db-1 has a conntrack entry for it: tcp /);
  assert.match(out, /ddos-deny\s+ingress\[0\]\s+Deny\s+[1-9]/, 'status shows the deny rule counting packets');
  assert.match(out, /✔ notrack drift exited 2/);
  assert.match(out, /✔ notrack drift exited 0/);
  assert.match(out, /✔ removed lab ntd/);
  assert.match(out, /Every step behaved as expected/);
});

dt('names the step that failed, exits 1 and still removes the lab', () => {
  const folder = mkdtempSync(join(tmpdir(), 'notrack-demo-test-'));
  try {
    mkdirSync(join(folder, 'hosts'));
    writeFileSync(
      join(folder, 'hosts', 'web-1.yaml'),
      [
        'apiVersion: projectcalico.org/v3',
        'kind: HostEndpoint',
        'metadata:',
        '  name: web-1-all',
        'spec:',
        '  node: web-1',
        "  interfaceName: '*'",
        '  expectedIPs: [10.0.3.10]',
        '',
      ].join('\n'),
    );
    const r = runCli(['demo', '--policies', folder]);
    assert.is(r.status, 1, r.stdout);
    assert.match(r.stdout, /✘ unexpected error: HostEndpoint web-1-all has interfaceName "\*"/);
    assert.match(r.stdout, /did not go as expected at step 2 \(Build the lab\)/);
    assert.match(r.stdout, /== Step 7\/7: Remove everything ==/);
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
});

dt('Ctrl-C removes everything the demo made and exits 130', async () => {
  const [cmd, ...argv] = cliCommand(['demo']);
  const child = spawn(cmd!, argv, {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let interrupted = 0;
  child.stdout.on('data', (c: Buffer) => {
    out += c.toString();
    // Pressed twice, as impatient people do: the second must not cut the clean-up short.
    if (out.includes('== Step 4/7') && interrupted < 2) {
      interrupted += 1;
      child.kill('SIGINT');
    }
  });
  const status = await new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  assert.is(status, 130, out);
  assert.match(
    out,
    /Interrupted during step 4 \(Apply the policy on every host\); everything the demo made was removed/,
  );
  assert.match(out, /✔ removed lab ntd/);
});

test.run();

// `notrack fleet --prometheus` against a real Prometheus (Debian's package) scraping three agents in the lab: all in
// sync at the head; tampering with hosts (an iptables chain deleted, an XDP link removed) shows as drift and an
// unprotected interface naming those hosts (exit 2); a repair clears it (exit 0).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as assert from 'uvu/assert';
import { createLab, type Lab } from '../../src/demo/lab.js';
import { LabProcess } from '../../src/demo/lab-process.js';
import { runCommand } from '../../src/demo/command.js';
import { GIT_ADDRESS } from '../../src/demo/topology.js';
import type { FleetReport } from '../../src/fleet/fleet-report.js';
import { kernelGate } from '../support/kernel-gate.js';
import { cliCommand, ROOT } from '../support/cli.js';

const gate = kernelGate('fleet report from Prometheus', { tools: ['prometheus', 'iptables', 'bpftool'] });
const test = gate.test;
const POLICIES_EXAMPLE = resolve(ROOT, 'policies-example');
const PROMETHEUS = `http://${GIT_ADDRESS}:9090`;

let lab: Lab;
let head = '';
const agents: LabProcess[] = [];
let prometheus: LabProcess | null = null;

/**
 * The address an agent listens on: the IPv4 address of its host's last interface, the one its on-link routes to the
 * rest of the lab leave by, so Prometheus's scrapes come and go over one interface (on edge-1 that is the internal
 * one, as a real edge host serves metrics on its internal network, not its public one).
 */
function agentAddress(node: string): string {
  const a = lab
    .host(node)
    .plan.interfaces.at(-1)!
    .addresses.find((x) => !x.includes(':'))!;
  return a.split('/')[0]!;
}

/** Runs `notrack fleet` where Prometheus listens (the git namespace); resolves with its exit status and report. */
async function fleet(): Promise<{ status: number; report: FleetReport | null; stderr: string }> {
  const r = await runCommand(
    lab.git.wrap(
      cliCommand([
        'fleet',
        '--prometheus',
        PROMETHEUS,
        '--repo',
        lab.repoUrl,
        '--ref',
        lab.repository.branch,
        '--cache-dir',
        join(lab.dir, 'fleet-cache'),
        '--format',
        'json',
      ]),
    ),
    { timeoutMs: 60_000, allowFail: true },
  );
  let report: FleetReport | null = null;
  try {
    report = JSON.parse(r.stdout) as FleetReport;
  } catch {
    report = null;
  }
  return { status: r.status, report, stderr: r.stderr };
}

/** Polls the report until `ok` holds (Prometheus scrapes every second; agents check drift every 2 s). */
async function fleetUntil(
  what: string,
  ok: (r: FleetReport, status: number) => boolean,
): Promise<{ report: FleetReport; status: number }> {
  const deadline = Date.now() + 180_000;
  let last = '';
  while (Date.now() < deadline) {
    const r = await fleet();
    if (r.report && ok(r.report, r.status)) return { report: r.report, status: r.status };
    last = r.report ? JSON.stringify(r.report.hosts.map((h) => [h.host, h.problems])) : r.stderr;
    await new Promise((res) => setTimeout(res, 1000));
  }
  throw new Error(`fleet report never showed ${what}; last: ${last}`);
}

test.before(async () => {
  if (!gate.runs) return;
  lab = await createLab({ policyFolder: POLICIES_EXAMPLE });
  await lab.startGitServer();
  head = await lab.publish(POLICIES_EXAMPLE, 'policies-example');
  for (const h of lab.hosts) {
    agents.push(
      lab.startNotrack(h.node, [
        'agent',
        ...lab.hostOptions(h.node),
        '--schedule',
        '2s',
        '--drift-schedule',
        '2s',
        // warn: drift stays until someone repairs it, so the report can see it.
        '--drift-mode',
        'warn',
        '--jitter',
        '0',
        '--listen',
        `${agentAddress(h.node)}:9808`,
        '--listen-public',
      ]),
    );
  }
  const dir = join(lab.dir, 'prometheus');
  mkdirSync(join(dir, 'data'), { recursive: true });
  const targets = lab.hosts.map(
    (h) => `      - targets: ['${agentAddress(h.node)}:9808']\n        labels: { host: ${h.node} }`,
  );
  writeFileSync(
    join(dir, 'prometheus.yml'),
    `global: { scrape_interval: 1s, evaluation_interval: 1s }\nscrape_configs:\n  - job_name: notrack\n    static_configs:\n${targets.join('\n')}\n`,
  );
  prometheus = new LabProcess(
    lab.git.start([
      'prometheus',
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=${GIT_ADDRESS}:9090`,
      '--log.level=warn',
    ]),
  );
});

test.after(async () => {
  if (!gate.runs) return;
  for (const a of agents) await a.stop('SIGKILL');
  await prometheus?.stop('SIGKILL');
  await lab?.destroy();
});

test('every host is reported in sync at the head commit, protected, with its generation (exit 0)', async () => {
  const { report, status } = await fleetUntil(
    'all hosts in sync',
    (r) => r.inSync && r.hosts.length === lab.hosts.length,
  );
  assert.is(status, 0);
  assert.is(report.head.commit, head);
  assert.equal(
    report.hosts.map((h) => h.host),
    lab.hosts.map((h) => h.node).sort(),
  );
  for (const h of report.hosts) {
    assert.is(h.commit, head);
    assert.is(h.commitsBehind, 0);
    assert.is(h.protected, true);
    assert.is(h.condition, 'Ready');
    assert.ok((h.generation ?? 0) >= 1);
    assert.is(h.driftObjects, 0);
  }
});

test('tampering shows the tampered hosts as drifted and unprotected (exit 2); a repair clears them (exit 0)', async () => {
  const edge = lab.host('edge-1').namespace;
  const db = lab.host('db-1');
  // edge-1: one of notrack's iptables chains deleted by hand.
  await edge.exec(['iptables', '-t', 'raw', '-D', 'PREROUTING', '-j', 'NOTRACK-PREROUTING']);
  await edge.exec(['iptables', '-t', 'raw', '-F', 'NOTRACK-PREROUTING']);
  await edge.exec(['iptables', '-t', 'raw', '-X', 'NOTRACK-PREROUTING']);
  // db-1: the pinned XDP link removed: the program is detached, the interface unprotected.
  await db.namespace.exec(['rm', join(db.bpffs, 'eth0', 'links', 'xdp')]);

  // Untouched hosts are clean in the same report; polled for, since under load one scrape of them can time out.
  const tampered = await fleetUntil(
    'edge-1 drifted, db-1 unprotected, the others clean',
    (r) =>
      r.hosts.find((h) => h.host === 'edge-1')?.problems.includes('drifted') === true &&
      r.hosts.find((h) => h.host === 'db-1')?.problems.includes('unprotected') === true &&
      r.hosts.every((h) => h.host === 'edge-1' || h.host === 'db-1' || h.problems.length === 0),
  );
  assert.is(tampered.status, 2);
  assert.not.ok(tampered.report.inSync);
  const dbHost = tampered.report.hosts.find((h) => h.host === 'db-1')!;
  assert.equal(dbHost.unprotectedInterfaces, ['eth0']);
  const untouched = tampered.report.hosts.filter((h) => h.host !== 'edge-1' && h.host !== 'db-1');
  for (const h of untouched) assert.equal(h.problems, [], `${h.host} was not touched`);

  // The text form names the hosts for a person.
  const text = await runCommand(lab.git.wrap(cliCommand(['fleet', '--prometheus', PROMETHEUS, '--format', 'text'])), {
    timeoutMs: 60_000,
    allowFail: true,
  });
  assert.is(text.status, 2);
  assert.match(text.stdout, /^fleet not in sync/m);
  assert.match(text.stdout, /^edge-1\s+drifted/m);
  assert.match(text.stdout, /^db-1\s+.*unprotected/m);

  // Repair both hosts as an operator would: notrack apply rebuilds what drifted.
  for (const node of ['edge-1', 'db-1']) {
    const r = await lab.notrack(node, ['apply', ...lab.hostOptions(node)]);
    assert.is(r.status, 0, r.stderr);
  }
  const clear = await fleetUntil('the fleet in sync again', (r, status) => r.inSync && status === 0);
  assert.is(clear.report.summary.inSync, lab.hosts.length);
});

test('an unreachable Prometheus is an error (exit 1) that names it', async () => {
  const r = await runCommand(
    lab.git.wrap(cliCommand(['fleet', '--prometheus', `http://${GIT_ADDRESS}:9`, '--timeout', '5s'])),
    { timeoutMs: 60_000, allowFail: true },
  );
  assert.is(r.status, 1);
  assert.match(r.stderr, 'error[prometheus-unreachable]');
});

test.run();

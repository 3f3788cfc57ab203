// The demo lab for real: namespaces per host of policies-example joined by a bridge, the Git server in its own
// namespace serving clones and pushed commits over HTTP, stop/restart, and clean removal (also of a crashed lab).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLab, type Lab } from '../../src/demo/lab.js';
import { LAB_NAME_PREFIX } from '../../src/demo/leftovers.js';
import { ping, tcpExchange } from '../../src/demo/traffic.js';
import { ATTACKER_ADDRESS, CLIENT_APP_ADDRESS, GIT_ADDRESS } from '../../src/demo/topology.js';
import {
  gitIn,
  labGate,
  mountedUnder,
  namespacesStartingWith,
  POLICIES_EXAMPLE,
  processAlive,
  ROOT,
} from './lab-fixture.js';

const gate = labGate('lab');
const lt = gate.test;

/** This process's lab names; the list must look the same after every test as before it. */
const OWN = `${LAB_NAME_PREFIX}${process.pid.toString(36)}-`;
let lab: Lab;
let published: string;
let scratch: string;

test.before(async () => {
  if (!gate.runs) return;
  scratch = mkdtempSync(join(tmpdir(), 'notrack-lab-test-'));
  lab = await createLab({ policyFolder: POLICIES_EXAMPLE });
  await lab.startGitServer();
  published = await lab.publish(POLICIES_EXAMPLE, 'policies-example');
});

test.after(async () => {
  if (!gate.runs) return;
  await lab?.destroy();
  rmSync(scratch, { recursive: true, force: true });
  assert.equal(namespacesStartingWith(OWN), [], 'no namespace of this process is left');
});

lt('makes one namespace per host of policies-example, plus client, git and the lan bridge', () => {
  assert.equal(
    lab.hosts.map((h) => h.node),
    ['cache-1', 'db-1', 'edge-1'],
  );
  const names = namespacesStartingWith(lab.prefix).sort();
  assert.equal(
    names,
    ['cache-1', 'client', 'db-1', 'edge-1', 'git', 'lan'].map((r) => `${lab.prefix}-${r}`),
  );
});

lt('names host interfaces as the HostEndpoints say, with their expected addresses', async () => {
  const edge = await lab.host('edge-1').namespace.exec(['ip', '-o', '-4', 'addr', 'show']);
  assert.match(edge.stdout, /\beth0\s+inet 10\.0\.0\.10\/24/);
  assert.match(edge.stdout, /\beth1\s+inet 10\.0\.1\.10\/24/);
  const db = await lab.host('db-1').namespace.exec(['ip', '-o', 'addr', 'show', 'dev', 'eth0']);
  assert.match(db.stdout, /inet 10\.0\.2\.10\/24/);
  assert.match(db.stdout, /inet6 fd00:0:0:2::10\/64/);
  const client = await lab.client.exec(['ip', '-o', '-4', 'addr', 'show', 'dev', 'eth0']);
  assert.match(client.stdout, new RegExp(`inet ${CLIENT_APP_ADDRESS.replace(/\./g, '\\.')}/16`));
  assert.match(client.stdout, new RegExp(`inet ${ATTACKER_ADDRESS.replace(/\./g, '\\.')}/32`));
});

lt('hosts, client and git server reach each other over the bridge', async () => {
  assert.ok(await ping(lab.client, '10.0.2.10'), 'client -> db-1');
  assert.ok(await ping(lab.client, '10.0.2.20'), 'client -> cache-1');
  assert.ok(
    await ping(lab.client, '10.0.0.10', { from: ATTACKER_ADDRESS }),
    'attacker address -> edge-1 eth0 (no firewall yet)',
  );
  assert.ok(await ping(lab.host('db-1').namespace, '10.0.2.20'), 'db-1 -> cache-1');
  assert.ok(await ping(lab.host('edge-1').namespace, GIT_ADDRESS), 'edge-1 -> git');
  const tcp = await tcpExchange({
    client: lab.client,
    server: lab.host('db-1').namespace,
    to: '10.0.2.10',
    port: 5432,
  });
  assert.ok(tcp.delivered && tcp.answered, 'a TCP request to db-1 is answered');
});

lt('a packet for edge-1 eth0 arrives on eth0 even though eth1 shares the segment', async () => {
  const edge = lab.host('edge-1').namespace;
  // Each interface counts the echo requests from the attacker address it receives: an iptables rule without a target
  // in edge-1's own raw table. Interface byte counters would also count the segment's multicast (IPv6 router
  // solicitations, MLD reports), which every port hears and whose number depends on how fast the lab came up.
  const counted = (dev: string) => [
    'PREROUTING',
    '-i',
    dev,
    '-s',
    ATTACKER_ADDRESS,
    '-p',
    'icmp',
    '--icmp-type',
    'echo-request',
  ];
  const requests = async (): Promise<{ eth0: number; eth1: number }> => {
    const rules = (await edge.exec(['iptables', '-t', 'raw', '-S', 'PREROUTING', '-v'])).stdout.split('\n');
    const count = (dev: string) => Number(/ -c (\d+) /.exec(rules.find((r) => r.includes(` -i ${dev} `)) ?? '')?.[1]);
    return { eth0: count('eth0'), eth1: count('eth1') };
  };
  for (const dev of ['eth0', 'eth1']) await edge.exec(['iptables', '-t', 'raw', '-A', ...counted(dev)]);
  try {
    for (let i = 0; i < 3; i++) assert.ok(await ping(lab.client, '10.0.0.10', { from: ATTACKER_ADDRESS }));
    const seen = await requests();
    assert.ok(seen.eth0 >= 3, `eth0 received ${seen.eth0} echo requests`);
    assert.is(seen.eth1, 0, 'eth1 received none of them');
  } finally {
    for (const dev of ['eth0', 'eth1']) await edge.exec(['iptables', '-t', 'raw', '-D', ...counted(dev)]);
  }
});

lt('the Git server in the git namespace serves a clone to a host namespace over HTTP', async () => {
  const dest = join(scratch, 'clone');
  const r = gitIn(lab.host('db-1').namespace.name, ['clone', '--quiet', lab.repoUrl, dest]);
  assert.is(r.status, 0, r.stderr);
  assert.ok(existsSync(join(dest, 'hosts', 'db-1.yaml')), 'the clone holds the published files');
  assert.is(gitIn(lab.host('db-1').namespace.name, ['-C', dest, 'rev-parse', 'HEAD']).stdout.trim(), published);
  // The server reports each request on its stdout, read once this process's event loop runs again.
  const answered = () =>
    lab.gitServer.requests.some((q) => q.path === '/policies.git/git-upload-pack' && q.status === 200);
  for (let i = 0; i < 40 && !answered(); i++) await new Promise((r) => setTimeout(r, 50));
  assert.ok(answered(), 'the server reported the upload-pack request it answered');
});

lt('a pushed commit is fetched by a host', async () => {
  const dest = join(scratch, 'fetch');
  const ns = lab.host('cache-1').namespace.name;
  assert.is(gitIn(ns, ['clone', '--quiet', lab.repoUrl, dest]).status, 0);
  const next = await lab.commit({ 'sets/app-subnet.yaml': null }, 'drop the app subnet set');
  assert.is.not(next, published);
  const f = gitIn(ns, ['-C', dest, 'fetch', '--quiet', 'origin']);
  assert.is(f.status, 0, f.stderr);
  assert.is(gitIn(ns, ['-C', dest, 'rev-parse', 'origin/main']).stdout.trim(), next);
  assert.is(await lab.repository.head(), next);
});

lt('stopping the server makes the repository unreachable, restarting brings it back', async () => {
  const ns = lab.host('edge-1').namespace.name;
  const pid = lab.gitServer.pid!;
  await lab.stopGitServer();
  assert.not.ok(lab.gitServer.running);
  assert.not.ok(processAlive(pid), 'the server process has ended');
  const down = gitIn(ns, ['ls-remote', lab.repoUrl]);
  assert.is.not(down.status, 0);
  assert.match(down.stderr, /Failed to connect|Connection refused|Could not connect/i);
  await lab.startGitServer();
  const up = gitIn(ns, ['ls-remote', lab.repoUrl]);
  assert.is(up.status, 0, up.stderr);
  assert.match(up.stdout, /refs\/heads\/main/);
});

lt('destroy() removes the namespaces, the server process, the bpffs mount and the folder', async () => {
  const other = await createLab({ policyFolder: POLICIES_EXAMPLE });
  await other.startGitServer();
  const pid = other.gitServer.pid!;
  assert.is(namespacesStartingWith(other.prefix).length, 6);
  assert.ok(mountedUnder(other.dir), 'the private bpffs is mounted');
  assert.ok(existsSync(other.host('db-1').bpffs), 'each host has its folder on it');
  await other.destroy();
  assert.equal(namespacesStartingWith(other.prefix), []);
  assert.not.ok(mountedUnder(other.dir));
  assert.not.ok(existsSync(other.dir));
  assert.not.ok(processAlive(pid), 'the Git server process has ended');
  assert.equal(other.remains(), []);
});

lt('a lab whose process was killed is removed by the next createLab, and its Git server stops by itself', async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'test', 'e2e', 'lab-child.ts')], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr.on('data', (c: Buffer) => {
    err += c.toString();
  });
  const info = await new Promise<{ prefix: string; serverPid: number; dir: string }>((resolve, reject) => {
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes('\n'))
        resolve(JSON.parse(out.split('\n')[0]!) as { prefix: string; serverPid: number; dir: string });
    });
    child.on('close', (code) => reject(new Error(`lab child exited (${code}): ${err}`)));
  });
  const gone = new Promise<void>((resolve) => child.on('close', () => resolve()));
  child.kill('SIGKILL');
  await gone;
  assert.is(namespacesStartingWith(info.prefix).length, 6, 'the killed process left its lab behind');
  for (let i = 0; i < 50 && processAlive(info.serverPid); i++) await new Promise((r) => setTimeout(r, 100));
  assert.not.ok(processAlive(info.serverPid), 'its Git server noticed and stopped');

  const logs: string[] = [];
  const next = await createLab({ policyFolder: POLICIES_EXAMPLE, log: (l) => logs.push(l) });
  try {
    assert.equal(namespacesStartingWith(info.prefix), []);
    assert.not.ok(mountedUnder(info.dir));
    assert.not.ok(existsSync(info.dir));
    assert.ok(
      logs.some((l) => l.includes(`namespace ${info.prefix}-edge-1`) && l.startsWith('removed the leftover')),
      logs.join('\n'),
    );
  } finally {
    await next.destroy();
  }
});

test.run();

// A fleet of agents in the lab: every host of policies-example runs `notrack agent` against the Git server in the
// git namespace. A pushed commit converges on all of them; a broken commit and an unreachable repository leave
// every host on its last good state; hand tampering is repaired; SIGTERM stops the agents and leaves the dataplane.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLab, type Lab } from '../../src/demo/lab.js';
import type { LabProcess } from '../../src/demo/lab-process.js';
import { LAB_NAME_PREFIX } from '../../src/demo/leftovers.js';
import { ping } from '../../src/demo/traffic.js';
import { ATTACKER_ADDRESS } from '../../src/demo/topology.js';
import { labGate, namespacesStartingWith, POLICIES_EXAMPLE } from './lab-fixture.js';

const gate = labGate('fleet');
const ft = gate.test;

const OWN = `${LAB_NAME_PREFIX}${process.pid.toString(36)}-`;
const CONFIG = 'config/notrack.yaml';
const POSTGRES = 'policies/data/postgres.yaml';
let lab: Lab;
let agents: Map<string, LabProcess>;
let good: string;

interface LogRecord {
  msg: string;
  status?: string;
  reason?: string;
  corrected?: boolean;
  revision?: { commit?: string | null };
  appliedRevision?: { commit?: string | null; generation?: number } | null;
}

const record = (line: string): LogRecord | null => {
  try {
    return JSON.parse(line) as LogRecord;
  } catch {
    return null;
  }
};

/** Waits until every agent logs a record `accept` takes, after the output it had at `marks`. */
async function everyAgent(marks: Map<string, number>, what: string, accept: (r: LogRecord) => boolean): Promise<void> {
  await Promise.all(
    [...agents].map(([node, agent]) =>
      agent.waitForLine(
        (line) => {
          const r = record(line);
          return r && accept(r) ? r : null;
        },
        { from: marks.get(node) ?? 0, timeoutMs: 45_000, what: `${node}: ${what}` },
      ),
    ),
  );
}

const marks = (): Map<string, number> => new Map([...agents].map(([node, a]) => [node, a.output.length]));

async function appliedCommit(node: string): Promise<string | null> {
  const h = lab.host(node);
  const r = await lab.notrack(node, ['status', '--bpffs', h.bpffs, '--state-dir', h.stateDir, '--format', 'json']);
  return r.status === 0 ? (JSON.parse(r.stdout) as { revision: { commit: string | null } }).revision.commit : null;
}

test.before(async () => {
  if (!gate.runs) return;
  lab = await createLab({ policyFolder: POLICIES_EXAMPLE });
  await lab.startGitServer();
  good = await lab.publish(POLICIES_EXAMPLE, 'policies-example');
  agents = new Map(
    lab.hosts.map((h) => [
      h.node,
      lab.startNotrack(h.node, [
        'agent',
        ...lab.hostOptions(h.node),
        '--schedule',
        '2s',
        '--drift-schedule',
        '3s',
        '--drift-mode',
        'enforce',
        '--jitter',
        '0',
        '--retry-initial',
        '1s',
        '--retry-max',
        '2s',
        '--listen',
        'off',
        '--log-format',
        'json',
      ]),
    ]),
  );
});

test.after(async () => {
  if (!gate.runs) return;
  for (const a of agents?.values() ?? []) await a.stop('SIGKILL');
  await lab?.destroy();
  assert.equal(namespacesStartingWith(OWN), [], 'no namespace of this process is left');
});

ft('every host converges to the published commit', async () => {
  await everyAgent(
    new Map(),
    `Ready at ${good}`,
    (r) => r.msg === 'reconcile finished' && r.status === 'Ready' && r.appliedRevision?.commit === good,
  );
  for (const h of lab.hosts) assert.is(await appliedCommit(h.node), good, h.node);
  assert.not.ok(
    await ping(lab.client, '10.0.0.10', { from: ATTACKER_ADDRESS }),
    'edge-1 drops the deny-listed address',
  );
});

ft('a pushed commit converges on every host', async () => {
  const at = marks();
  const config = readFileSync(join(POLICIES_EXAMPLE, CONFIG), 'utf8').replace(
    '    - { protocol: TCP, port: 6667 }\n  failsafeOutboundHostPorts:',
    '    - { protocol: TCP, port: 6667 }\n    - { protocol: TCP, port: 8443 }\n  failsafeOutboundHostPorts:',
  );
  assert.match(config, /port: 8443/);
  good = await lab.commit({ [CONFIG]: config }, 'failsafe: tcp 8443 inbound');
  await everyAgent(
    at,
    `Ready at ${good}`,
    (r) => r.msg === 'reconcile finished' && r.status === 'Ready' && r.appliedRevision?.commit === good,
  );
  for (const h of lab.hosts) assert.is(await appliedCommit(h.node), good, h.node);
});

ft('a broken commit leaves every host on its last good state', async () => {
  const at = marks();
  const broken = await lab.commit(
    {
      [POSTGRES]:
        'apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: db-postgres}\nspec: {order: first}\n',
    },
    'broken',
  );
  await everyAgent(
    at,
    `Stalled at ${broken}`,
    (r) => r.msg === 'reconcile finished' && r.status === 'Stalled' && r.revision?.commit === broken,
  );
  for (const h of lab.hosts) assert.is(await appliedCommit(h.node), good, `${h.node} keeps ${good}`);
  assert.not.ok(
    await ping(lab.client, '10.0.0.10', { from: ATTACKER_ADDRESS }),
    'edge-1 still drops the deny-listed address',
  );
});

ft('an unreachable repository leaves every host as it is, and the fix converges once it is back', async () => {
  await lab.stopGitServer();
  const down = marks();
  await everyAgent(down, 'a Failed reconcile', (r) => r.msg === 'reconcile finished' && r.status === 'Failed');
  for (const h of lab.hosts) assert.is(await appliedCommit(h.node), good, `${h.node} keeps ${good}`);
  await lab.startGitServer();
  const at = marks();
  // The fix also changes what every host runs, so that every host records the new commit as applied.
  const config = readFileSync(join(POLICIES_EXAMPLE, CONFIG), 'utf8').replace(
    '    - { protocol: TCP, port: 6667 }\n  failsafeOutboundHostPorts:',
    '    - { protocol: TCP, port: 6667 }\n    - { protocol: TCP, port: 8444 }\n  failsafeOutboundHostPorts:',
  );
  good = await lab.commit(
    { [POSTGRES]: readFileSync(join(POLICIES_EXAMPLE, POSTGRES), 'utf8'), [CONFIG]: config },
    'fix db-postgres',
  );
  await everyAgent(
    at,
    `Ready at ${good}`,
    (r) => r.msg === 'reconcile finished' && r.status === 'Ready' && r.appliedRevision?.commit === good,
  );
});

/** Waits for `node`'s agent to log a drift check that found drift naming `object` and repaired it. */
async function repaired(node: string, from: number, object: RegExp): Promise<void> {
  await agents.get(node)!.waitForLine(
    (line) => {
      const r = record(line) as (LogRecord & { drifted?: { object: string; description: string }[] }) | null;
      if (r?.msg !== 'drift check finished' || r.status !== 'Drifted' || r.corrected !== true) return null;
      return r.drifted?.some((d) => object.test(`${d.object}: ${d.description}`)) ? r : null;
    },
    { from, timeoutMs: 30_000, what: `${node}: a repaired drift naming ${object}` },
  );
}

ft('hand tampering of four kinds is found and repaired by the agents (enforce mode)', async () => {
  const at = marks();
  const edge = lab.host('edge-1').namespace,
    db = lab.host('db-1'),
    cache = lab.host('cache-1');
  // edge-1: a notrack chain deleted (its jump first, as iptables requires), in one transaction: three commands
  // would let the agent's drift check see and repair the chain half deleted.
  await edge.exec(['iptables-restore', '--noflush'], {
    input: '*raw\n-D PREROUTING -j NOTRACK-PREROUTING\n-F NOTRACK-PREROUTING\n-X NOTRACK-PREROUTING\nCOMMIT\n',
  });
  // db-1: the XDP program detached (the pinned link is its last reference) and a foreign rule inside a notrack chain.
  await db.namespace.exec(['rm', join(db.bpffs, 'eth0', 'links', 'xdp')]);
  await db.namespace.exec([
    'iptables',
    '-t',
    'filter',
    '-I',
    'NOTRACK-INPUT',
    '-p',
    'udp',
    '--dport',
    '9',
    '-j',
    'ACCEPT',
  ]);
  // cache-1: the policy program's IPv4 source table (an array map) tampered with: the first slot of its first-level
  // table (0.0.0.0/16) changed by hand.
  const gen = (await cache.namespace.exec(['ls', join(cache.bpffs, 'eth0')])).stdout
    .split('\n')
    .find((n) => n.startsWith('gen-'))!;
  const map = join(cache.bpffs, 'eth0', gen, 'policy', 'ntp4_src');
  const slot = JSON.parse(
    (await cache.namespace.exec(['bpftool', '-j', 'map', 'lookup', 'pinned', map, 'key', '0', '0', '0', '0'])).stdout,
  ) as { value: string[] };
  const value = slot.value.map((b, i) => (parseInt(b, 16) ^ (i === 0 ? 1 : 0)).toString(16).padStart(2, '0'));
  await cache.namespace.exec([
    'bpftool',
    'map',
    'update',
    'pinned',
    map,
    'key',
    '0',
    '0',
    '0',
    '0',
    'value',
    'hex',
    ...value,
  ]);

  await Promise.all([
    repaired('edge-1', at.get('edge-1')!, /iptables chain raw\/NOTRACK-PREROUTING: deleted/),
    repaired('db-1', at.get('db-1')!, /XDP program on eth0: detached/),
    repaired('db-1', at.get('db-1')!, /iptables chain filter\/NOTRACK-INPUT: foreign rule/),
    repaired('cache-1', at.get('cache-1')!, /policy map ntp4_src on eth0: contents changed/),
  ]);
  assert.match(
    (await edge.exec(['iptables', '-t', 'raw', '-S', 'NOTRACK-PREROUTING'])).stdout,
    /-j NOTRACK/,
    'the raw chain is back',
  );
  assert.not.match(
    (await db.namespace.exec(['iptables', '-S', 'NOTRACK-INPUT'])).stdout,
    /--dport 9 /,
    'the foreign rule is gone',
  );
  assert.match(
    (await db.namespace.exec(['ip', 'link', 'show', 'eth0'])).stdout,
    /xdp/,
    'XDP is attached to db-1 eth0 again',
  );
  assert.not.ok(
    await ping(lab.client, '10.0.0.10', { from: ATTACKER_ADDRESS }),
    'edge-1 drops the deny-listed address',
  );
});

ft('SIGTERM stops every agent with exit 0 and leaves the dataplane in place', async () => {
  for (const [node, agent] of agents) assert.is(await agent.stop('SIGTERM', 30_000), 0, `${node} exit status`);
  assert.not.ok(
    await ping(lab.client, '10.0.0.10', { from: ATTACKER_ADDRESS }),
    'edge-1 still drops the deny-listed address',
  );
  for (const h of lab.hosts) assert.is(await appliedCommit(h.node), good, h.node);
});

test.run();

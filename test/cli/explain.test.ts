// `notrack explain` against policies-example: the verdict, the deciding rule with its file and line, and exit codes.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cliInProcess } from '../support/cli-in-process.js';

const explain = (host: string, iface: string, packet: string, ...more: string[]) =>
  cliInProcess('explain', '--path', 'policies-example', '--host', host, '--iface', iface, '--packet', packet, ...more);

test('a source on the DDoS deny list: denied by ddos-deny ingress[0], with the file and line of the rule', async () => {
  const r = await explain('edge-1', 'eth0', 'tcp 203.0.113.66:4000 > 10.0.0.10:80');
  assert.is(r.code, 0, r.err);
  assert.is(
    r.out,
    [
      'host edge-1, arriving on eth0 (HostEndpoint edge-1-eth0): tcp 203.0.113.66:4000 > 10.0.0.10:80',
      'verdict: deny: dropped at XDP',
      'decided by: ddos-deny ingress[0] Deny (policies-example/policies/edge/ddos.yaml:17:7)',
      '',
    ].join('\n'),
  );
});

test('reflected memcached on the edge: the Log rule that matched is listed before the Deny that decided', async () => {
  const r = await explain('edge-1', 'eth0', 'udp 192.0.2.10:11211 > 10.0.0.10:40000');
  assert.is(r.code, 0, r.err);
  assert.match(r.out, 'verdict: deny: dropped at XDP\n');
  assert.match(
    r.out,
    'decided by: edge-reflection-deny ingress[1] Deny (policies-example/policies/edge/ddos.yaml:39:7)\n',
  );
  assert.match(
    r.out,
    'logged by: edge-reflection-deny ingress[0] Log (policies-example/policies/edge/ddos.yaml:35:7)\n',
  );
});

test('the app subnet to the database over IPv6: accepted untracked by the second db-postgres rule', async () => {
  const r = await explain('db-1', 'eth0', 'tcp [fd00:0:0:1::7]:40000 > [fd00:0:0:2::10]:5432');
  assert.is(r.code, 0, r.err);
  assert.match(r.out, 'verdict: allow: accepted untracked at XDP\n');
  assert.match(r.out, 'decided by: db-postgres ingress[1] Allow (policies-example/policies/data/postgres.yaml:22:7)\n');
});

test('SSH from the management network is a failsafe; from elsewhere no rule matches', async () => {
  const ssh = await explain('edge-1', 'eth0', 'tcp 10.0.255.7:50000 > 10.0.0.10:22');
  assert.match(ssh.out, 'verdict: pass: failsafe tcp 22 from 10.0.255.0/24: passed tracked\n');
  assert.not.match(ssh.out, 'decided by');
  const other = await explain('edge-1', 'eth0', 'tcp 192.0.2.10:50000 > 10.0.0.10:22');
  assert.match(other.out, 'verdict: pass: no rule matched: passed to tracked processing\n');
  assert.is(other.code, 0);
});

test('--direction egress: the reply db-1 sends leaves untracked by db-postgres egress[0]; another source stays tracked', async () => {
  const r = await explain('db-1', 'eth0', 'tcp 10.0.2.10:5432 > 10.0.1.7:40000', '--direction', 'egress');
  assert.is(r.code, 0, r.err);
  assert.is(
    r.out,
    [
      'host db-1, leaving by eth0 (HostEndpoint db-1-eth0): tcp 10.0.2.10:5432 > 10.0.1.7:40000',
      'verdict: allow: accepted untracked in raw OUTPUT',
      'decided by: db-postgres egress[0] Allow (policies-example/policies/data/postgres.yaml:29:7)',
      '',
    ].join('\n'),
  );
  const dns = await explain(
    'db-1',
    'eth0',
    'udp 10.0.2.10:33333 > 10.0.2.1:53',
    '--direction',
    'egress',
    '--format',
    'json',
  );
  const j = JSON.parse(dns.out);
  assert.equal(
    [j.direction, j.verdict.reason, j.failsafe],
    ['egress', 'failsafe', { direction: 'outbound', protocol: 17, port: 53, net: null }],
  );
  const bad = await explain('db-1', 'eth0', 'tcp 10.0.2.10:5432 > 10.0.1.7:40000', '--direction', 'out');
  assert.is(bad.code, 64);
});

test('--format json gives the verdict, the rule with its position, the packet and the state hash', async () => {
  const r = await explain('cache-1', 'eth0', 'udp 10.0.1.7:40000 > 10.0.2.20:11211', '--format', 'json');
  assert.is(r.code, 0, r.err);
  const j = JSON.parse(r.out);
  assert.is(j.kind, 'notrack.explain');
  assert.is(j.formatVersion, 1);
  assert.equal(j.verdict, {
    outcome: 'allow',
    reason: 'rule',
    counter: 1,
    rule: { policy: 'cache-memcached', direction: 'ingress', index: 1 },
    logged: [],
  });
  assert.equal(j.decidedBy, {
    policy: 'cache-memcached',
    direction: 'ingress',
    index: 1,
    action: 'Allow',
    file: 'policies-example/policies/data/memcached.yaml',
    line: 23,
    col: 7,
  });
  assert.equal(j.packet, {
    text: 'udp 10.0.1.7:40000 > 10.0.2.20:11211',
    family: 4,
    protocol: 17,
    src: '10.0.1.7',
    dst: '10.0.2.20',
    sport: 40000,
    dport: 11211,
  });
  assert.match(j.stateHash, /^[0-9a-f]{64}$/);
});

test('a malformed packet is a usage error (64) that says what to write', async () => {
  const r = await explain('edge-1', 'eth0', 'tcp 10.0.0.1 > 10.0.0.10:80');
  assert.is(r.code, 64);
  assert.is(r.out, '');
  assert.match(
    r.err,
    /notrack explain: --packet: invalid packet "tcp 10\.0\.0\.1 > 10\.0\.0\.10:80": tcp needs both ports/,
  );
  const missing = await cliInProcess('explain', '--path', 'policies-example', '--host', 'edge-1', '--iface', 'eth0');
  assert.is(missing.code, 64);
  assert.match(missing.err, /--packet is required, e\.g\. --packet 'tcp 203\.0\.113\.5:4000 > 10\.0\.0\.5:5432'/);
});

test('an unknown host or interface is an error (1) that lists what there is', async () => {
  const host = await explain('edge-9', 'eth0', 'tcp 10.0.0.1:1 > 10.0.0.10:80');
  assert.is(host.code, 1);
  assert.match(host.err, 'error[unknown-host]: no HostEndpoint has node "edge-9" (hosts: cache-1, db-1, edge-1)');
  const iface = await explain('edge-1', 'eth7', 'tcp 10.0.0.1:1 > 10.0.0.10:80');
  assert.is(iface.code, 1);
  assert.match(
    iface.err,
    'error[unknown-interface]: host edge-1 has no HostEndpoint on interface eth7 (interfaces: eth0, eth1)',
  );
});

test.run();

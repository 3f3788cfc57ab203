// The lab's layout from a policy repository's HostEndpoints (pure; no root needed): one namespace per node,
// interfaces as named, addresses on their subnets, routes that make the lab one reachable segment, and the
// endpoints the lab cannot build refused with a reason.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readHostEndpoints } from '../../src/demo/lab.js';
import { LabError } from '../../src/demo/lab-error.js';
import { planTopology } from '../../src/demo/topology.js';
import { parseCidr } from '../../src/net/cidr.js';
import type { HostEndpoint } from '../../src/model/resources.js';
import { POLICIES_EXAMPLE } from './lab-fixture.js';

function endpoint(name: string, node: string, interfaceName: string | null, ips: string[]): HostEndpoint {
  return {
    name,
    node,
    interfaceName,
    expectedIPs: ips.map((ip) => parseCidr(ip)!),
    ports: [],
    labels: {},
    source: { file: 'hosts.yaml', document: 0 },
  };
}

test('policies-example gives three hosts; edge-1 has eth0 and eth1 with their expected addresses', async () => {
  const plan = planTopology('ntdx-1', await readHostEndpoints(POLICIES_EXAMPLE));
  assert.equal(
    plan.hosts.map((h) => h.namespace),
    ['ntdx-1-cache-1', 'ntdx-1-db-1', 'ntdx-1-edge-1'],
  );
  const edge = plan.hosts.find((h) => h.node === 'edge-1')!;
  assert.equal(
    edge.interfaces.map((i) => [i.name, i.addresses]),
    [
      ['eth0', ['10.0.0.10/24', 'fd00::10/64']],
      ['eth1', ['10.0.1.10/24', 'fd00:0:0:1::10/64']],
    ],
  );
  assert.equal(edge.endpoints, { eth0: 'edge-1-eth0', eth1: 'edge-1-eth1' });
  assert.ok(edge.strictArp, 'two interfaces on one segment answer ARP only for their own address');
  assert.equal(plan.lan, 'ntdx-1-lan');
  assert.equal(
    plan.client.interfaces[0]!.addresses.filter((a) => a.endsWith('/32')),
    ['192.0.2.80/32', '203.0.113.66/32'],
  );
});

test('the lab-wide routes go out of the last interface, the default route out of the first', async () => {
  const plan = planTopology('ntdx-1', await readHostEndpoints(POLICIES_EXAMPLE));
  const edge = plan.hosts.find((h) => h.node === 'edge-1')!;
  assert.equal(edge.routes, [
    { to: '10.0.0.0/16', dev: 'eth1', family: 4, src: '10.0.1.10' },
    { to: 'default', dev: 'eth0', family: 4, src: '10.0.0.10' },
    { to: 'fd00::/48', dev: 'eth1', family: 6, src: 'fd00:0:0:1::10' },
  ]);
  const db = plan.hosts.find((h) => h.node === 'db-1')!;
  assert.ok(db.routes.every((r) => r.dev === 'eth0'));
  assert.not.ok(db.strictArp);
});

test('bridge ports are named after host and interface, and stay unique', () => {
  const plan = planTopology('ntdx-1', [
    endpoint('a', 'web-1', 'eth0', ['10.0.3.1']),
    endpoint('b', 'a-very-long-host-name', 'eth0', ['10.0.3.2']),
  ]);
  const ports = plan.hosts.flatMap((h) => h.interfaces.map((i) => i.bridgePort));
  assert.ok(ports.includes('web-1-eth0'));
  assert.ok(
    ports.every((p) => p.length <= 15),
    ports.join(', '),
  );
  assert.is(new Set(ports).size, ports.length);
});

function refusal(endpoints: HostEndpoint[]): string {
  try {
    planTopology('ntdx-1', endpoints);
  } catch (e) {
    assert.instance(e, LabError);
    assert.is((e as LabError).code, 'lab-topology');
    return (e as Error).message;
  }
  assert.unreachable('planTopology accepted what the lab cannot build');
  return '';
}

test('refuses what the lab cannot build, saying why', () => {
  assert.match(
    refusal([endpoint('all', 'web-1', '*', ['10.0.3.1'])]),
    /HostEndpoint all has interfaceName "\*": the lab needs a concrete interface name/,
  );
  assert.match(
    refusal([endpoint('far', 'web-1', 'eth0', ['192.168.1.1'])]),
    /192\.168\.1\.1 is outside the lab's IPv4 range 10\.0\.0\.0\/16/,
  );
  assert.match(refusal([endpoint('v6', 'web-1', 'eth0', ['fd00:0:0:3::1'])]), /has no IPv4 address/);
  assert.match(refusal([endpoint('c', 'client', 'eth0', ['10.0.3.1'])]), /lab's own namespaces/);
  assert.match(refusal([]), /no HostEndpoints/);
  assert.match(
    refusal([endpoint('x', 'h', 'eth0', ['10.0.3.1']), endpoint('y', 'h', 'eth0', ['10.0.3.2'])]),
    /two HostEndpoints for interface eth0/,
  );
});

test.run();

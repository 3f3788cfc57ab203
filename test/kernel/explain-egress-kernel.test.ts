// `notrack explain --direction egress --kernel`: each packet sent out of an interface of its name in a private network
// namespace holding the host's compiled chains and ipsets, and the rule counters that rose must tell the reference
// evaluator's verdict: Allow (named port, untracked), Deny (ipset, after a Log), Pass, failsafe, no match, IPv6, a later
// fragment, and the `*` endpoint, which decides only interfaces without an endpoint of their own.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as assert from 'uvu/assert';
import { test } from 'uvu';
import { cliInProcess } from '../support/cli-in-process.js';
import { kernelGate } from '../support/kernel-gate.js';

const gate = kernelGate('explain-egress-kernel', {
  tools: ['iptables-restore', 'ip6tables-restore', 'ipset', 'socat'],
});

const POLICY = `apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata: { name: web-1-eth0, labels: { role: web } }
spec: { node: web-1, interfaceName: eth0, expectedIPs: [10.0.0.10, 'fd00::10'], ports: [{ name: http, protocol: TCP, port: 80 }] }
---
apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata: { name: web-1-any, labels: { role: any } }
spec: { node: web-1, interfaceName: '*' }
---
apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata: { name: db-1-eth0, labels: { role: db } }
spec: { node: db-1, interfaceName: eth0, expectedIPs: [10.0.2.10] }
---
apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata: { name: db-1-any, labels: { role: any } }
spec: { node: db-1, interfaceName: '*' }
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkSet
metadata: { name: blocked, labels: { list: blocked } }
spec: { nets: [198.51.100.0/24, 203.0.113.0/24] }
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: { name: out }
spec:
  order: 1
  selector: role == 'web'
  doNotTrack: true
  applyOnForward: true
  types: [Egress]
  egress:
    - { action: Log, protocol: TCP, destination: { ports: [25] } }
    - { action: Deny, protocol: TCP, destination: { ports: [25] } }
    - { action: Allow, protocol: TCP, source: { ports: [http] } }
    - { action: Deny, destination: { selector: "list == 'blocked'" } }
    - { action: Pass, protocol: UDP, destination: { ports: [123] } }
    - { action: Allow, protocol: UDP }
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: { name: any }
spec:
  order: 2
  selector: role == 'any'
  doNotTrack: true
  applyOnForward: true
  types: [Egress]
  egress:
    - { action: Deny }
---
apiVersion: notrack.dev/v1alpha1
kind: NotrackConfiguration
metadata: { name: default }
spec:
  failsafeInboundHostPorts: [{ protocol: TCP, port: 22, net: 10.0.255.0/24 }]
  failsafeOutboundHostPorts: [{ protocol: UDP, port: 53 }]
`;

const dir = mkdtempSync(path.join(tmpdir(), 'notrack-egress-explain-'));
mkdirSync(path.join(dir, 'policy'));
writeFileSync(path.join(dir, 'policy', 'all.yaml'), POLICY);
test.after(() => rmSync(dir, { recursive: true, force: true }));

const CASES: [host: string, iface: string, packet: string, reference: string, kernel: string][] = [
  [
    'web-1',
    'eth0',
    'tcp 10.0.0.10:80 > 192.0.2.7:40000',
    'allow by out egress[2]',
    'allow (NOTRACK-ALLOW, untracked flag set) by out egress[2]',
  ],
  [
    'web-1',
    'eth0',
    'tcp 10.0.0.10:40000 > 192.0.2.7:25',
    'deny by out egress[1]; logged by out egress[0]',
    'deny (DROP) by out egress[1]; logged by out egress[0]',
  ],
  ['web-1', 'eth0', 'udp 10.0.0.10:40000 > 198.51.100.7:5000', 'deny by out egress[3]', 'deny (DROP) by out egress[3]'],
  ['web-1', 'eth0', 'udp 10.0.0.10:40000 > 192.0.2.7:123', 'pass by out egress[4]', 'pass (RETURN) by out egress[4]'],
  [
    'web-1',
    'eth0',
    'tcp 10.0.0.10:22 > 10.0.255.7:50000',
    'pass: failsafe tcp 22 (reply of an inbound failsafe) to 10.0.255.0/24',
    'pass (RETURN): failsafe',
  ],
  [
    'web-1',
    'eth0',
    'udp 10.0.0.10:40000 > 192.0.2.53:53',
    'pass: failsafe udp 53 (an outbound failsafe connection)',
    'pass (RETURN): failsafe',
  ],
  [
    'web-1',
    'eth0',
    'tcp [fd00::10]:80 > [2001:db8::7]:40000',
    'allow by out egress[2]',
    'allow (NOTRACK-ALLOW, untracked flag set) by out egress[2]',
  ],
  [
    'web-1',
    'eth0',
    'icmpv6 fd00::10 > 2001:db8::7 type 128 code 0',
    'pass: no rule matched',
    'pass (RETURN): no rule matched',
  ],
  [
    'web-1',
    'eth0',
    'udp 10.0.0.10 > 192.0.2.7 frag',
    'allow by out egress[5]',
    'allow (NOTRACK-ALLOW, untracked flag set) by out egress[5]',
  ],
  ['web-1', 'eth1', 'udp 10.0.1.10:1 > 192.0.2.7:2', 'deny by any egress[0]', 'deny (DROP) by any egress[0]'],
  // db-1's eth0 has an endpoint without egress rules: the `*` endpoint's Deny must not catch its packets.
  ['db-1', 'eth0', 'tcp 10.0.2.10:5432 > 10.0.1.7:40000', 'pass: no rule matched', 'pass (RETURN): no rule matched'],
];

for (const [host, iface, packet, reference, kernel] of CASES) {
  gate.test(`${host} ${iface} egress ${packet}: ${reference}, and the kernel agrees`, async () => {
    const r = await cliInProcess(
      'explain',
      '--path',
      path.join(dir, 'policy'),
      '--host',
      host,
      '--iface',
      iface,
      '--direction',
      'egress',
      '--packet',
      packet,
      '--kernel',
    );
    assert.is(r.code, 0, r.out + r.err);
    assert.match(r.out, `\nreference: ${reference}\nkernel:    ${kernel}\nagree\n`);
  });
}

test.run();

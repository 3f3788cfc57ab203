// Lowered egress rules in a real kernel (in a namespace): iptables and ipset take them and read them back exactly,
// and they act on the host's own packets.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { NetNs, run } from '../support/netns.js';
import { compileHost } from '../../src/compile/compile-host.js';
import {
  applyIptables,
  diffIptables,
  observeIptables,
  removeAll,
  type CommandRunner,
} from '../../src/dataplane/iptables/index.js';
import { applyIpsets, removeAllIpsets } from '../../src/dataplane/ipset/index.js';
import { iptablesDesired, ipsetsDesired } from '../../src/reconcile/host-dataplane.js';
import { validYaml } from '../support/policy-files.js';
import { kernelGate } from '../support/kernel-gate.js';

const gate = kernelGate('compile-egress-kernel', { tools: ['iptables-restore', 'ipset'] });
const kt = gate.test;

const POLICY = `
apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata: { name: t-lo, labels: { role: t } }
spec:
  node: t
  interfaceName: lo
  # Named ports match at their endpoints' addresses (Calico's IP-port sets).
  expectedIPs: [127.0.0.1, '::1']
  ports: [{ name: pg, protocol: TCP, port: 5432 }, { name: dns, protocol: UDP, port: 53 }]
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkSet
metadata: { name: blocked, labels: { list: blocked } }
spec: { nets: [127.0.0.2/32, 127.0.9.0/24, '2001:db8::/32'] }
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: { name: egress-shapes }
spec:
  order: 1
  selector: role == 't'
  doNotTrack: true
  applyOnForward: true
  types: [Egress]
  egress:
    - { action: Log, protocol: ICMP, icmp: { type: 8, code: 0 }, destination: { selector: list == 'blocked' } }
    - { action: Deny, protocol: ICMP, notICMP: { type: 0 }, destination: { selector: list == 'blocked' } }
    - { action: Allow, protocol: TCP, source: { ports: [pg] }, destination: { nets: [127.0.1.0/24], notPorts: ['1000:1999'] } }
    - { action: Allow, protocol: TCP, destination: { ports: ['8000:8100', 9000], notPorts: [8050] } }
    - { action: Allow, destination: { ports: [pg, dns] } }
    - { action: Pass, protocol: UDPLite, notProtocol: TCP, ipVersion: 6 }
    - { action: Deny, notProtocol: UDP, source: { notNets: ['fd00::/8'] } }
    - { action: Allow, protocol: ICMPv6, icmp: { type: 128 } }
    - { action: Deny, protocol: SCTP, destination: { ports: [1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31, 33] } }
`;

kt(
  "iptables and ipset accept every lowered shape and read it back unchanged; the rules act on the host's packets",
  () => {
    const s = compileHost(validYaml('egress.yaml', POLICY), 't');
    const iptables = iptablesDesired(s),
      ipsets = ipsetsDesired(s);
    assert.ok(iptables.egress.interfaces[0]!.policies[0]!.rules.length >= 12);
    const ns = NetNs.create('egr');
    const runner: CommandRunner = (argv, input) => ns.exec(argv, { input, allowFail: true });
    try {
      applyIpsets(runner, ipsets);
      for (const family of [4, 6] as const) {
        applyIptables(runner, iptables, family);
        assert.equal(
          diffIptables(iptables, observeIptables(runner, family)),
          [],
          `IPv${family}: read back exactly as lowered`,
        );
      }
      assert.is(
        ns.exec(['ping', '-c', '1', '-W', '1', '127.0.0.1'], { allowFail: true }).status,
        0,
        'not in the set: ping works',
      );
      assert.not.equal(
        ns.exec(['ping', '-c', '1', '-W', '1', '127.0.0.2'], { allowFail: true }).status,
        0,
        'in the set: the echo request is denied',
      );
      const saved = ns.exec(['iptables-save', '-c', '-t', 'raw']).stdout;
      const denied = saved.split('\n').find((l) => l.includes('"notrack:egress-shapes:1"'))!;
      assert.match(denied, /^\[1:\d+\]/, 'the Deny rule counted the one echo request');
    } finally {
      removeAll(runner);
      removeAllIpsets(runner);
      ns.delete();
    }
  },
);

test.run();

// Lowered egress rules in a real kernel (in a namespace): iptables and ipset take them and read them back exactly,
// and they act on the host's own packets.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { NetNs, kernelSkipReason, run } from '../support/netns.js';
import { loadResources } from '../../src/model/load-resources.js';
import { formatDiagnostic } from '../../src/model/diagnostics.js';
import { compileHost } from '../../src/compile/compile-host.js';
import type { DesiredState } from '../../src/compile/desired-state.js';
import {
  applyIptables, diffIptables, observeIptables, removeAll, DEFAULT_ACCEPT_MARK, DEFAULT_PASS_MARK,
  type CommandRunner, type IptablesDesired,
} from '../../src/dataplane/iptables/index.js';
import { applyIpsets, removeAllIpsets, type IpsetDesired } from '../../src/dataplane/ipset/index.js';

const missing = ['iptables-restore', 'ipset'].find((cmd) => run([cmd, '--version'], { allowFail: true }).status !== 0);
const reason = kernelSkipReason() ?? (missing ? `${missing} is not installed` : null);
if (reason) console.log(`compile-egress-kernel: skipped: ${reason}`);
const kt = reason ? test.skip : test;

const enc = new TextEncoder();
const POLICY = `
apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata: { name: t-lo, labels: { role: t } }
spec:
  node: t
  interfaceName: lo
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

function state(): DesiredState {
  const content = enc.encode(POLICY);
  const r = loadResources([{ path: 'egress.yaml', content, size: content.length }]);
  assert.equal(r.diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic), []);
  return compileHost(r.resources, 't');
}

/** The renderers' inputs, adapted from the state as the reconciler does. */
function adapt(s: DesiredState): { iptables: IptablesDesired; ipsets: IpsetDesired[] } {
  const failsafe = (dir: 'inbound' | 'outbound') => s.failsafes.filter((f) => f.direction === dir).map((f) => ({ protocol: f.protocol, port: f.port, net: f.net }));
  return {
    iptables: {
      marks: { accept: DEFAULT_ACCEPT_MARK, pass: DEFAULT_PASS_MARK },
      failsafe: { inbound: failsafe('inbound'), outbound: failsafe('outbound') },
      log: { rate: s.config.logRate, burst: s.config.logBurst },
      egress: {
        interfaces: s.egress.interfaces.map((i) => ({
          iface: i.name,
          policies: i.policies.map((p) => ({
            name: p.policy,
            rules: p.rules.map((r) => ({ index: r.rule.index, action: r.action, match: r.match, ipVersion: r.family })),
          })),
        })),
      },
    },
    ipsets: s.egress.ipsets.map((i) => ({ name: i.name, family: i.family, members: s.sets[i.set]!.prefixes })),
  };
}

kt('iptables and ipset accept every lowered shape and read it back unchanged; the rules act on the host\'s packets', () => {
  const s = state();
  const { iptables, ipsets } = adapt(s);
  assert.ok(iptables.egress.interfaces[0]!.policies[0]!.rules.length >= 12);
  const ns = NetNs.create('egr');
  const runner: CommandRunner = (argv, input) => ns.exec(argv, { input, allowFail: true });
  try {
    applyIpsets(runner, ipsets);
    for (const family of [4, 6] as const) {
      applyIptables(runner, iptables, family);
      assert.equal(diffIptables(iptables, observeIptables(runner, family)), [], `IPv${family}: read back exactly as lowered`);
    }
    assert.is(ns.exec(['ping', '-c', '1', '-W', '1', '127.0.0.1'], { allowFail: true }).status, 0, 'not in the set: ping works');
    assert.not.equal(ns.exec(['ping', '-c', '1', '-W', '1', '127.0.0.2'], { allowFail: true }).status, 0, 'in the set: the echo request is denied');
    const saved = ns.exec(['iptables-save', '-c', '-t', 'raw']).stdout;
    const denied = saved.split('\n').find((l) => l.includes('"notrack:egress-shapes:1"'))!;
    assert.match(denied, /^\[1:\d+\]/, 'the Deny rule counted the one echo request');
  } finally {
    removeAll(runner);
    removeAllIpsets(runner);
    ns.delete();
  }
});

test.run();

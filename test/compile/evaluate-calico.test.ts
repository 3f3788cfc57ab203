// Calico's documented doNotTrack recipes, compiled and evaluated: a DoS deny list and a high-connection workload.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { compileHost } from '../../src/compile/compile-host.js';
import type { DesiredState } from '../../src/compile/desired-state.js';
import { evaluatePacket } from '../../src/compile/evaluate.js';
import { parsePacket } from '../../src/compile/packet-text.js';
import { validYaml } from '../support/policy-files.js';

const verdict = (s: DesiredState, iface: string, packet: string) => {
  const v = evaluatePacket(s, iface, parsePacket(packet));
  return v.rule ? `${v.outcome} ${v.rule.policy}/${v.rule.direction}/${v.rule.index}` : `${v.outcome} ${v.reason}`;
};

// "Defend against DoS attacks": a GlobalNetworkSet of attackers, denied by an untracked policy on the host endpoints.
const DOS = `
apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata:
  name: production-host-eth0
  labels: { apply-dos-mitigation: 'true' }
spec:
  node: production-host
  interfaceName: eth0
  expectedIPs: [10.0.0.1]
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkSet
metadata:
  name: dos-mitigation
  labels: { dos-deny-list: 'true' }
spec:
  nets: [1.2.3.4/32, 13.14.15.0/24, 2001:db8:bad::/48]
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: dos-mitigation
spec:
  selector: apply-dos-mitigation == 'true'
  doNotTrack: true
  applyOnForward: true
  types: [Ingress]
  ingress:
    - action: Deny
      source:
        selector: dos-deny-list == 'true'
`;

test('DoS deny list: every source in the labelled GlobalNetworkSet is dropped, whatever it sends', () => {
  const s = compileHost(validYaml('recipe.yaml', DOS), 'production-host');
  assert.is(verdict(s, 'eth0', 'tcp 1.2.3.4:40000 > 10.0.0.1:443'), 'deny dos-mitigation/ingress/0');
  assert.is(verdict(s, 'eth0', 'udp 13.14.15.200:5353 > 10.0.0.1:9999'), 'deny dos-mitigation/ingress/0');
  assert.is(verdict(s, 'eth0', 'icmp 13.14.15.1 > 10.0.0.1 type 8 code 0'), 'deny dos-mitigation/ingress/0');
  assert.is(verdict(s, 'eth0', 'udp 13.14.15.1 > 10.0.0.1 frag'), 'deny dos-mitigation/ingress/0');
  assert.is(verdict(s, 'eth0', 'tcp [2001:db8:bad:1::9]:1 > [2001:db8::1]:80'), 'deny dos-mitigation/ingress/0');
});

test('DoS deny list: everyone else goes on to tracked processing, and failsafes still pass first', () => {
  const s = compileHost(validYaml('recipe.yaml', DOS), 'production-host');
  assert.is(verdict(s, 'eth0', 'tcp 1.2.3.5:40000 > 10.0.0.1:443'), 'pass no-match');
  assert.is(verdict(s, 'eth0', 'tcp 13.14.16.1:40000 > 10.0.0.1:443'), 'pass no-match');
  assert.is(verdict(s, 'eth0', 'tcp [2001:db8:bae::1]:1 > [2001:db8::1]:80'), 'pass no-match');
  assert.is(
    verdict(s, 'eth0', 'tcp 1.2.3.4:40000 > 10.0.0.1:22'),
    'pass failsafe',
    'SSH is a default inbound failsafe',
  );
});

// "Enable extreme high-connection workloads": memcached, allowed untracked in both directions.
const MEMCACHED = `
apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata:
  name: memcached-server-eth0
  labels: { role: memcached-server }
spec:
  node: memcached-server
  interfaceName: eth0
  expectedIPs: [10.0.0.10]
---
apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata:
  name: memcached-client-1
  labels: { role: memcached-client }
spec:
  node: client-1
  expectedIPs: [10.0.0.21, 'fd00::21']
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: memcached-server
spec:
  selector: role == 'memcached-server'
  doNotTrack: true
  applyOnForward: true
  types: [Ingress, Egress]
  ingress:
    - action: Allow
      protocol: TCP
      source:
        selector: role == 'memcached-client'
      destination:
        ports: [12211]
  egress:
    - action: Allow
      protocol: TCP
      source:
        ports: [12211]
      destination:
        selector: role == 'memcached-client'
`;

test('memcached: clients reach the server untracked; anyone else, or another port, stays tracked', () => {
  const s = compileHost(validYaml('recipe.yaml', MEMCACHED), 'memcached-server');
  assert.is(verdict(s, 'eth0', 'tcp 10.0.0.21:51000 > 10.0.0.10:12211'), 'allow memcached-server/ingress/0');
  assert.is(verdict(s, 'eth0', 'tcp [fd00::21]:51000 > [fd00::10]:12211'), 'allow memcached-server/ingress/0');
  assert.is(verdict(s, 'eth0', 'tcp 10.0.0.22:51000 > 10.0.0.10:12211'), 'pass no-match');
  assert.is(verdict(s, 'eth0', 'tcp 10.0.0.21:51000 > 10.0.0.10:11211'), 'pass no-match');
  assert.is(verdict(s, 'eth0', 'udp 10.0.0.21:51000 > 10.0.0.10:12211'), 'pass no-match');
});

test('memcached: the replies are allowed untracked by the egress rule, from port 12211 to the clients only', () => {
  const s = compileHost(validYaml('recipe.yaml', MEMCACHED), 'memcached-server');
  const rules = s.egress.interfaces[0]!.policies[0]!.rules;
  assert.equal(
    rules.map((r) => [r.action, r.family, r.match.join(' ')]),
    [
      ['Allow', 4, '-d 10.0.0.21/32 -p tcp -m tcp --sport 12211'],
      ['Allow', 6, '-d fd00::21/128 -p tcp -m tcp --sport 12211'],
    ],
  );
});

test.run();

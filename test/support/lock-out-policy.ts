// db-1's lab policy with a policy ahead of it that denies every packet in one direction: the lock-out commit of the
// commit-confirmation tests (deny-all inbound drops the replies of the host's own connections, deny-all outbound
// its packets), and the NotrackConfiguration probes that confirm a switch.
import { dbPolicy } from './reconcile-fixture.js';

export function lockOutPolicy(
  direction: 'Ingress' | 'Egress',
  base: Record<string, string> = dbPolicy(),
): Record<string, string> {
  return {
    ...base,
    'policies/lock-out.yaml': `apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: deny-everything
spec:
  order: 1
  selector: role == 'db'
  doNotTrack: true
  applyOnForward: true
  types: [${direction}]
  ${direction === 'Ingress' ? 'ingress' : 'egress'}:
    - action: Deny
`,
  };
}

/** `files` with a NotrackConfiguration (default) whose probes are these TCP targets and local ports. */
export function withProbes(
  files: Record<string, string>,
  probes: { tcp: string[]; localPorts?: number[] },
): Record<string, string> {
  const local = probes.localPorts ? `\n    localPorts: [${probes.localPorts.join(', ')}]` : '';
  return {
    ...files,
    'config/notrack.yaml': `apiVersion: notrack.dev/v1alpha1
kind: NotrackConfiguration
metadata:
  name: default
spec:
  probes:
    tcp: [${probes.tcp.map((t) => `'${t}'`).join(', ')}]${local}
`,
  };
}

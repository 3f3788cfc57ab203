// db-1's lab policy with a policy ahead of it that denies every packet in one direction: the lock-out commit of the
// commit-confirmation tests (deny-all inbound drops the replies of the host's own connections, deny-all outbound
// its packets).
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

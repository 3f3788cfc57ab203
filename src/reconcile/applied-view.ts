// What a host running an applied state shows, in a few kB instead of the state's tens of MB: the interfaces and the
// fingerprint each one's generation was built from, the failsafes, the iptables and ipset contents. Enough to check a
// live host (host-drift.ts) without reading the state back; the state's sets live in the kernel's maps, which the
// record describes by entry counts and digests.
import type { DesiredState } from '../compile/desired-state.js';
import type { IptablesDesired } from '../dataplane/iptables/index.js';
import type { IpsetDesired } from '../dataplane/ipset/index.js';
import { interfaceFingerprint, ipsetsDesired, iptablesDesired } from './host-dataplane.js';

export interface AppliedView {
  /** The state's interface names, `*` included (plannedInterfaceNames maps them onto a host's interfaces). */
  interfaces: string[];
  failsafes: DesiredState['failsafes'];
  iptables: IptablesDesired;
  ipsets: IpsetDesired[];
}

/** The view and, by state interface name (`*` included), the fingerprint its generations are built from. */
export interface RecordedView extends AppliedView {
  fingerprints: Record<string, string>;
}

export function appliedView(state: DesiredState): AppliedView {
  return {
    interfaces: state.interfaces.map((i) => i.name),
    failsafes: state.failsafes,
    iptables: iptablesDesired(state),
    ipsets: ipsetsDesired(state),
  };
}

export function recordedView(state: DesiredState): RecordedView {
  const fingerprints: Record<string, string> = {};
  for (const i of state.interfaces) fingerprints[i.name] = interfaceFingerprint(state, i);
  return { ...appliedView(state), fingerprints };
}

// What each global counter of the XDP program counts, for metrics: every packet seen, the one verdict each packet
// gets, events of Log rules, or datapath faults. A Prometheus family measures one thing, so each kind has its own.
import type { CounterName } from '../abi/notrack.js';

export type CounterKind = 'seen' | 'verdict' | 'log' | 'error';

/** The kind and the label value (snake_case, stable) of every counter of enum nt_counter_reason. */
export const COUNTER_KINDS: Record<CounterName, { kind: CounterKind; name: string }> = {
  total: { kind: 'seen', name: 'seen' },
  nonIp: { kind: 'verdict', name: 'non_ip' },
  malformed: { kind: 'verdict', name: 'malformed' },
  unsupported: { kind: 'verdict', name: 'unsupported' },
  failsafe: { kind: 'verdict', name: 'failsafe' },
  noPolicy: { kind: 'verdict', name: 'no_policy' },
  accepted: { kind: 'verdict', name: 'accepted' },
  dropped: { kind: 'verdict', name: 'dropped' },
  policyPassed: { kind: 'verdict', name: 'policy_passed' },
  noMatch: { kind: 'verdict', name: 'no_match' },
  metaFailed: { kind: 'error', name: 'meta_failed' },
  logEmitted: { kind: 'log', name: 'emitted' },
  logRateLimited: { kind: 'log', name: 'rate_limited' },
  logLost: { kind: 'log', name: 'lost' },
  logOverflow: { kind: 'log', name: 'overflow' },
  tailCallFailed: { kind: 'error', name: 'tail_call_failed' },
};

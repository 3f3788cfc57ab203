// The configured ceilings on what one interface may ask of the dataplane, checked in one place.
import type { Configuration } from '../model/resources.js';
import { CompileError } from './compile-error.js';
import type { InterfaceState } from './desired-state.js';
import type { SetTable } from './sets.js';
import { memberCount } from './prefix-set.js';

/**
 * Rules: the interface's rule counters (one per ingress rule, Log rules included) and its classifier entries
 * per family (a rule split by protocol takes several), each at most `maxRulesPerInterface`.
 * Sets: every prefix set the interface uses, ingress or egress, at most `maxSetPrefixes` prefixes each.
 */
export function checkInterfaceLimits(
  host: string,
  iface: InterfaceState,
  egressSets: Iterable<string>,
  sets: SetTable,
  limits: Configuration['limits'],
): void {
  const where = `interface ${iface.name} of host ${host} (HostEndpoint ${iface.endpoint})`;
  const rules = (actual: number, what: string): void => {
    if (actual <= limits.maxRulesPerInterface) return;
    throw new CompileError(
      'compile-limit',
      `${where} has ${actual} ${what}, over limits.maxRulesPerInterface ${limits.maxRulesPerInterface}; ` +
        'split the policy over fewer rules or raise the limit in the NotrackConfiguration',
      { host, interface: iface.name, limit: 'maxRulesPerInterface', actual, max: limits.maxRulesPerInterface },
    );
  };
  rules(iface.counters.length, 'ingress rules');
  rules(iface.ingress.v4.length, 'IPv4 classifier entries');
  rules(iface.ingress.v6.length, 'IPv6 classifier entries');

  const used = new Set<string>(egressSets);
  for (const list of [iface.ingress.v4, iface.ingress.v6]) {
    for (const e of list) {
      for (const side of [e.source, e.destination]) {
        for (const id of side.inSets) used.add(id);
        for (const id of side.notInSets) used.add(id);
      }
    }
  }
  // The first set over the limit in id order is the one named (only those over it are sorted).
  const over: string[] = [];
  for (const id of used) if (memberCount(sets.get(id)) > limits.maxSetPrefixes) over.push(id);
  const first = over.sort()[0];
  if (first !== undefined) {
    const set = sets.get(first);
    const size = memberCount(set);
    throw new CompileError(
      'compile-limit',
      `${where} uses the set ${set.origin} with ${size} IPv${set.family} prefixes, over ` +
        `limits.maxSetPrefixes ${limits.maxSetPrefixes}; raise the limit in the NotrackConfiguration or shorten the set`,
      { host, interface: iface.name, limit: 'maxSetPrefixes', actual: size, max: limits.maxSetPrefixes },
    );
  }
}

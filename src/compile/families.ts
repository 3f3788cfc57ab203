// Which address families a rule applies to: its ipVersion, its ICMP protocol, the family of its CIDRs, else both.
import type { IpFamily } from '../net/cidr.js';
import type { PolicyRule } from '../model/resources.js';

const ICMP = 1;
const ICMPV6 = 58;

/**
 * The families whose classifier list gets the rule, as Calico filters a rule per IP version: every constraint
 * narrows the set, so contradictory ones (ipVersion 4 with protocol ICMPv6) leave none and the rule never matches.
 */
export function ruleFamilies(rule: PolicyRule): IpFamily[] {
  let families: IpFamily[] = [4, 6];
  const only = (f: IpFamily): void => {
    families = families.filter((x) => x === f);
  };
  if (rule.ipVersion !== null) only(rule.ipVersion);
  if (rule.protocol === ICMP) only(4);
  if (rule.protocol === ICMPV6) only(6);
  for (const side of [rule.source, rule.destination]) {
    for (const c of [...side.nets, ...side.notNets]) only(c.family);
  }
  return families;
}

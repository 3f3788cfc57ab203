// The failsafes the entry program checks before any policy, from the host's resolved configuration.
import { formatCidr } from '../net/cidr.js';
import type { Configuration, FailsafePort } from '../model/resources.js';
import type { Failsafe } from './desired-state.js';

/**
 * Inbound and outbound failsafes, sorted (their order means nothing to the lookup, so it should not change the
 * hash) and de-duplicated.
 */
export function failsafesOf(config: Pick<Configuration, 'failsafeInbound' | 'failsafeOutbound'>): Failsafe[] {
  const one =
    (direction: Failsafe['direction']) =>
    (p: FailsafePort): Failsafe => ({
      direction,
      protocol: p.protocol,
      port: p.port,
      net: p.net ? formatCidr(p.net) : null,
    });
  const all = [...config.failsafeInbound.map(one('inbound')), ...config.failsafeOutbound.map(one('outbound'))];
  const seen = new Set<string>();
  const out: Failsafe[] = [];
  for (const f of all) {
    const key = `${f.direction}/${f.protocol}/${f.port}/${f.net ?? ''}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(f);
  }
  const rank = (f: Failsafe): string => f.net ?? '';
  return out.sort(
    (a, b) =>
      Number(a.direction === 'outbound') - Number(b.direction === 'outbound') ||
      a.protocol - b.protocol ||
      a.port - b.port ||
      (rank(a) < rank(b) ? -1 : rank(a) > rank(b) ? 1 : 0),
  );
}

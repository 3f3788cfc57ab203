// Failsafes between the compiled form (DesiredState `Failsafe`) and the entries of nt_failsafe: both ways, pure.
import type { Failsafe } from '../../compile/desired-state.js';
import { parseCidr } from '../../net/cidr.js';
import { Limits, type FailsafeEntry } from '../../abi/notrack.js';
import { XdpDataplaneError } from './errors.js';

const ANYWHERE = { 4: '0.0.0.0/0', 6: '::/0' } as const;

/**
 * The trie entries for a list of failsafes: a failsafe without a net ("anywhere") becomes one entry per family,
 * since the key holds the family. Throws xdp-bad-option for what the entry program cannot hold.
 */
export function failsafeEntries(failsafes: readonly Failsafe[]): FailsafeEntry[] {
  const out: FailsafeEntry[] = [];
  for (const f of failsafes) {
    const what = `failsafe ${f.direction} ${f.protocol}/${f.port}${f.net ? ` from ${f.net}` : ''}`;
    if (f.direction !== 'inbound' && f.direction !== 'outbound') {
      throw new XdpDataplaneError('xdp-bad-option', `${what}: direction must be inbound or outbound`);
    }
    if (!Number.isInteger(f.protocol) || f.protocol < 0 || f.protocol > 255) {
      throw new XdpDataplaneError(
        'xdp-bad-option',
        `${what}: protocol must be an IP protocol number (6 tcp, 17 udp ...)`,
      );
    }
    if (!Number.isInteger(f.port) || f.port < 0 || f.port > 65535) {
      throw new XdpDataplaneError('xdp-bad-option', `${what}: port must be 0-65535`);
    }
    const direction = f.direction === 'inbound' ? 'in' : 'out';
    if (f.net === null) {
      out.push(
        { direction, proto: f.protocol, port: f.port, family: 4 },
        { direction, proto: f.protocol, port: f.port, family: 6 },
      );
      continue;
    }
    if (!parseCidr(f.net)) throw new XdpDataplaneError('xdp-bad-option', `${what}: "${f.net}" is not a CIDR`);
    out.push({ direction, proto: f.protocol, port: f.port, net: f.net });
  }
  if (out.length > Limits.failsafeMax) {
    throw new XdpDataplaneError(
      'xdp-bad-option',
      `${out.length} failsafe entries (a failsafe without a net counts twice), but nt_failsafe holds ${Limits.failsafeMax}: use fewer ports or nets`,
    );
  }
  return out;
}

/**
 * Failsafes as read back from nt_failsafe, in the compiled form: an anywhere-entry for both families folds back
 * into one failsafe with net null. Sorted, so two lists compare with a deep equal after sortFailsafes().
 */
export function failsafesFromEntries(entries: readonly Required<FailsafeEntry>[]): Failsafe[] {
  const key = (e: { direction: string; proto: number; port: number }): string => `${e.direction}/${e.proto}/${e.port}`;
  const anywhere = new Map<string, Set<number>>();
  for (const e of entries) {
    if (e.net === ANYWHERE[e.family as 4 | 6]) {
      const s = anywhere.get(key(e)) ?? new Set<number>();
      s.add(e.family);
      anywhere.set(key(e), s);
    }
  }
  const out: Failsafe[] = [];
  const folded = new Set<string>();
  for (const e of entries) {
    const direction = e.direction === 'in' ? 'inbound' : 'outbound';
    const both = anywhere.get(key(e))?.size === 2;
    if (both && e.net === ANYWHERE[e.family as 4 | 6]) {
      if (folded.has(key(e))) continue;
      folded.add(key(e));
      out.push({ direction, protocol: e.proto, port: e.port, net: null });
      continue;
    }
    out.push({ direction, protocol: e.proto, port: e.port, net: e.net });
  }
  return sortFailsafes(out);
}

/** A canonical order for failsafe lists (direction, protocol, port, net; null first). */
export function sortFailsafes(list: readonly Failsafe[]): Failsafe[] {
  const text = (f: Failsafe): string =>
    `${f.direction}|${String(f.protocol).padStart(3, '0')}|${String(f.port).padStart(5, '0')}|${f.net ?? ''}`;
  return [...list].sort((a, b) => (text(a) < text(b) ? -1 : text(a) > text(b) ? 1 : 0));
}

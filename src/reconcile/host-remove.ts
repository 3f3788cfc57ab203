// Takes notrack off this host entirely: every XDP and TC attachment and pin, every NOTRACK- chain and jump, every
// notrack- ipset, and the record. What others attached or wrote is left alone. The way out of a bad state.
import { existsSync } from 'node:fs';
import { detachInterface, pinnedInterfaces } from '../dataplane/xdp/index.js';
import { removeAll, spawnRunner, type CommandRunner } from '../dataplane/iptables/index.js';
import { removeAllIpsets } from '../dataplane/ipset/index.js';
import { removeRecord } from './applied-record.js';
import { removeParseCache } from './parse-cache.js';

interface RemoveOptions {
  bpffs: string;
  stateDir: string;
  runner?: CommandRunner;
  onStep?: (line: string) => void;
}

export interface HostRemoval {
  interfaces: { iface: string; xdpDetached: boolean; otherXdpPrograms: number[] }[];
  chains: number;
  jumps: number;
  ipsets: string[];
  /** Sets still used by rules that are not notrack's: kept. */
  ipsetsInUse: string[];
}

/** Removes everything notrack made on this host (in this network namespace), in the order that never marks a
 *  packet nothing accepts: XDP and TC first, then iptables (raw before filter), then ipsets, then the record. */
export function removeHost(opts: RemoveOptions): HostRemoval {
  const runner = opts.runner ?? spawnRunner;
  const step = opts.onStep ?? (() => {});
  const out: HostRemoval = { interfaces: [], chains: 0, jumps: 0, ipsets: [], ipsetsInUse: [] };
  if (existsSync(opts.bpffs)) {
    for (const ifname of pinnedInterfaces(opts.bpffs)) {
      const d = detachInterface({ ifname, pinDir: opts.bpffs });
      out.interfaces.push({ iface: ifname, xdpDetached: d.xdpDetached, otherXdpPrograms: d.otherXdpPrograms });
      step(`XDP on ${ifname}: ${d.xdpDetached ? 'detached' : 'not attached'}; pins removed`);
    }
  }
  for (const r of removeAll(runner)) {
    out.chains += r.chains.length;
    out.jumps += r.jumps;
    step(
      `${r.family === 4 ? 'iptables' : 'ip6tables'} ${r.table}: ${r.chains.length} chain(s), ${r.jumps} jump(s) removed`,
    );
  }
  const sets = removeAllIpsets(runner);
  out.ipsets = sets.destroyed;
  out.ipsetsInUse = sets.inUse;
  if (sets.destroyed.length) step(`ipsets destroyed: ${sets.destroyed.join(', ')}`);
  removeRecord(opts.stateDir);
  removeParseCache(opts.stateDir);
  step(`record removed from ${opts.stateDir}`);
  return out;
}

// Drift: how the live host differs from what notrack last applied on it, object by object, in plain words.
import { join } from 'node:path';
import type { DesiredState } from '../compile/desired-state.js';
import {
  observeInterface,
  pinnedInterfaces,
  sortFailsafes,
  type InterfaceObservation,
} from '../dataplane/xdp/index.js';
import {
  asyncRunner,
  diffIptables,
  observeIptables,
  observeIptablesAsync,
  type CommandRunner,
  type IptablesActual,
  type IptablesChange,
} from '../dataplane/iptables/index.js';
import {
  diffIpsets,
  observeIpsets,
  observeIpsetsAsync,
  type IpsetActual,
  type IpsetChange,
} from '../dataplane/ipset/index.js';
import { pinnedMapDigest } from '../dataplane/map-digest.js';
import { MapType, openPinnedMap } from '../libbpf/index.js';
import type { AppliedRecord } from './applied-record.js';
import { appliedView, type AppliedView } from './applied-view.js';
import { hostInterfaces, plannedInterfaceNames } from './host-dataplane.js';

/** One drifted object: what it is and what is wrong with it, for people and for JSON. */
export interface DriftItem {
  object: string;
  description: string;
}

function iptablesItem(c: IptablesChange): DriftItem {
  const tool = c.family === 4 ? 'iptables' : 'ip6tables';
  switch (c.kind) {
    case 'missing-chain':
      return { object: `${tool} chain ${c.table}/${c.chain}`, description: 'deleted' };
    case 'extra-chain':
      return {
        object: `${tool} chain ${c.table}/${c.chain}`,
        description: "not notrack's to have (left over or added by hand)",
      };
    case 'rule-mismatch':
      return {
        object: `${tool} chain ${c.table}/${c.chain}`,
        description: `rules changed (${c.expected.length} expected, ${c.actual.length} found)`,
      };
    case 'foreign-rule':
      return {
        object: `${tool} chain ${c.table}/${c.chain}`,
        description: `foreign rule at position ${c.position}: ${c.rule}`,
      };
    case 'missing-jump':
      return { object: `${tool} jump ${c.table}/${c.from} -> ${c.to}`, description: 'deleted' };
    case 'duplicate-jump':
      return { object: `${tool} jump ${c.table}/${c.from} -> ${c.to}`, description: `present ${c.count} times` };
    case 'misplaced-jump':
      return { object: `${tool} jump ${c.table}/${c.from} -> ${c.to}`, description: `moved to position ${c.position}` };
    case 'extra-jump':
      return { object: `${tool} jump ${c.table}/${c.from} -> ${c.to}`, description: `unexpected: ${c.rule}` };
  }
}

function ipsetItem(c: IpsetChange): DriftItem {
  switch (c.kind) {
    case 'missing-set':
      return { object: `ipset ${c.name}`, description: 'deleted' };
    case 'extra-set':
      return { object: `ipset ${c.name}`, description: 'not wanted by the applied policy' };
    case 'set-type-mismatch':
      return { object: `ipset ${c.name}`, description: `type ${c.actual}, expected ${c.expected}` };
    case 'members-differ': {
      const bits = [];
      if (c.missing.length)
        bits.push(
          `${c.missing.length} entr${c.missing.length === 1 ? 'y' : 'ies'} deleted (${c.missing.slice(0, 3).join(', ')}${c.missing.length > 3 ? ', …' : ''})`,
        );
      if (c.unexpected.length)
        bits.push(
          `${c.unexpected.length} added (${c.unexpected.slice(0, 3).join(', ')}${c.unexpected.length > 3 ? ', …' : ''})`,
        );
      return { object: `ipset ${c.name}`, description: bits.join(', ') };
    }
    case 'leftover-temporary-set':
      return { object: `ipset ${c.name}`, description: 'temporary set left by an interrupted apply' };
  }
}

/**
 * Entries of a pinned class map, or null when it is gone. An array always holds all its slots (they cannot be
 * deleted, and a per-CPU one cannot be read as one value each), so only hash and LPM maps are counted.
 */
function mapEntryCount(path: string, applied: number): number | null {
  try {
    const map = openPinnedMap(path);
    try {
      if (map.type === MapType.ARRAY || map.type === MapType.PERCPU_ARRAY) return applied;
      return map.lookupBatch({ chunk: 65_536 }).entries.length;
    } finally {
      map.close();
    }
  } catch {
    return null;
  }
}

/** How one interface differs from what the record says notrack applied (apply's repair uses it too). */
export function interfaceItems(
  ifname: string,
  obs: InterfaceObservation,
  applied: Pick<DesiredState, 'failsafes'>,
  record: AppliedRecord,
): DriftItem[] {
  const out: DriftItem[] = [];
  const object = `XDP on ${ifname}`;
  for (const f of obs.findings) {
    if (f.code === 'xdp-not-attached')
      out.push({
        object: `XDP program on ${ifname}`,
        description: obs.generations.length ? 'detached' : "interface is up without notrack's XDP program",
      });
    else if (f.code === 'tc-missing') out.push({ object: `TC program on ${ifname}`, description: 'detached' });
    else out.push({ object, description: f.message });
  }
  const rec = record.interfaces[ifname];
  const active = obs.generations.find((g) => g.number === obs.activeGeneration);
  if (!rec || !active) return out;
  if (active.number !== rec.generation)
    out.push({ object, description: `runs generation ${active.number}, notrack applied ${rec.generation}` });
  const want = JSON.stringify(sortFailsafes(applied.failsafes)),
    have = JSON.stringify(active.failsafes);
  if (want !== have)
    out.push({
      object: `failsafe map on ${ifname}`,
      description: `${active.failsafes.length} entries, ${applied.failsafes.length} applied`,
    });
  if (rec.policyProgramId !== null && active.policy.program && active.policy.program.id !== rec.policyProgramId) {
    out.push({
      object: `policy program on ${ifname}`,
      description: `replaced (id ${active.policy.program.id}, notrack loaded ${rec.policyProgramId})`,
    });
  }
  for (const [name, count] of Object.entries(rec.policyMapEntries)) {
    const found = mapEntryCount(join(active.path, 'policy', name), count);
    if (found === null) out.push({ object: `policy map ${name} on ${ifname}`, description: 'unpinned' });
    else if (found !== count) {
      const n = Math.abs(count - found);
      out.push({
        object: `policy map ${name} on ${ifname}`,
        description: `${n} entr${n === 1 ? 'y' : 'ies'} ${found < count ? 'deleted' : 'added'} (${found} found, ${count} applied)`,
      });
    }
  }
  for (const [name, digest] of Object.entries(rec.policyMapDigests ?? {})) {
    const found = pinnedMapDigest(join(active.path, 'policy', name));
    if (found !== null && found !== digest)
      out.push({ object: `policy map ${name} on ${ifname}`, description: 'contents changed' });
  }
  return out;
}

/** Everything on the host that differs from the applied state (empty: in sync). */
export function hostDrift(opts: {
  applied: DesiredState;
  record: AppliedRecord;
  bpffs: string;
  runner: CommandRunner;
}): DriftItem[] {
  return viewDrift({ ...opts, view: appliedView(opts.applied) });
}

interface ViewDriftInput {
  view: AppliedView;
  record: AppliedRecord;
  bpffs: string;
  runner: CommandRunner;
}

/** hostDrift against the view of the applied state (applied-view.ts): the state itself need not be read. */
export function viewDrift(opts: ViewDriftInput): DriftItem[] {
  // Everything is observed first and compared after (the map digests, which read whole tables, come last): the
  // picture of the host is taken in as short a time as it can be, so that hand changes made while a check runs are
  // rarely seen in part (a repair mends all it finds, also what the report missed).
  const host = observeInterfaces(opts);
  const tables = ([4, 6] as const).map((family) => observeIptables(opts.runner, family));
  const sets = observeIpsets(opts.runner);
  return [...interfaceDrift(host, opts), ...tableDrift(opts.view, tables, sets)];
}

/**
 * viewDrift with iptables-save, ip6tables-save and ipset running side by side, and beside this process observing the
 * interfaces and digesting their maps: the same reads and comparisons, in the time of the longest instead of the sum
 * (the unchanged-policy path of `notrack apply` waits for it).
 */
export async function viewDriftAsync(opts: ViewDriftInput): Promise<DriftItem[]> {
  const run = asyncRunner(opts.runner);
  const reads = Promise.all([observeIptablesAsync(run, 4), observeIptablesAsync(run, 6), observeIpsetsAsync(run)]);
  // Should the interfaces throw first, the reads' failure must not surface later as an unhandled rejection.
  reads.catch(() => {});
  const host = observeInterfaces(opts);
  const items = interfaceDrift(host, opts);
  const [v4, v6, sets] = await reads;
  return [...items, ...tableDrift(opts.view, [v4, v6], sets)];
}

function observeInterfaces(opts: ViewDriftInput) {
  const { apply, missing } = plannedInterfaceNames(opts.view.interfaces, hostInterfaces());
  // An expected interface that is absent is not drift: nothing can reach the host through it, and /status and
  // the protection report show it as not present. Its pins wait for it to come back.
  const interfaces = apply.map((ifname) => ({
    ifname,
    // Expected: an interface that came up after the apply (or was re-created) with nothing of notrack on it is
    // drift too, not only one whose pins say notrack was there.
    obs: observeInterface({ ifname, pinDir: opts.bpffs, expected: true, counters: false, clsBpf: false }),
  }));
  return { apply, missing, interfaces };
}

function interfaceDrift(host: ReturnType<typeof observeInterfaces>, opts: ViewDriftInput): DriftItem[] {
  const out: DriftItem[] = [];
  for (const { ifname, obs } of host.interfaces) out.push(...interfaceItems(ifname, obs, opts.view, opts.record));
  for (const ifname of pinnedInterfaces(opts.bpffs)) {
    if (!host.apply.includes(ifname) && !host.missing.includes(ifname))
      out.push({ object: `XDP pins of ${ifname}`, description: 'left over: no endpoint wants this interface' });
  }
  return out;
}

function tableDrift(view: AppliedView, tables: IptablesActual[], sets: IpsetActual): DriftItem[] {
  const out: DriftItem[] = [];
  for (const live of tables) out.push(...diffIptables(view.iptables, live).map(iptablesItem));
  out.push(...diffIpsets(view.ipsets, sets).map(ipsetItem));
  return out;
}

// Converges notrack's ipsets: new generations filled under a temporary name and swapped in, stale sets destroyed.
import { DataplaneCommandError, runChecked, type CommandRunner } from '../command-runner.js';
import { diffCanonicalSets } from './diff.js';
import { observeIpsets } from './observe.js';
import { canonicalSet, renderIpsetRestore, IpsetDesiredError, type SwitchIn } from './render.js';
import { tmpSetName } from './names.js';
import type { IpsetActual, IpsetDesired } from './types.js';

interface IpsetApplyResult {
  created: string[];
  replaced: string[];
  unchanged: string[];
  /** Temporary sets a crashed earlier apply left, now destroyed. */
  leftoversRemoved: string[];
}

/**
 * Makes every desired set exist with exactly its members. A set that differs gets a new generation: one
 * `ipset restore` creates `<name>-tmp`, fills it, swaps it with the live set and destroys the old generation, so a
 * rule using the set sees the old members or the new ones, never a half-filled set. Sets that already match are
 * left alone. `actual` (from observeIpsets) saves reading the kernel again.
 *
 * This never destroys a live set that is no longer desired: rules may still use it. The reconciler's order is
 * applyIpsets -> applyIptables (each family) -> pruneIpsets; for a full removal, iptables removeAll -> removeAllIpsets.
 */
export function applyIpsets(
  runner: CommandRunner,
  desired: readonly IpsetDesired[],
  opts: { actual?: IpsetActual } = {},
): IpsetApplyResult {
  const sets = desired.map(canonicalSet);
  const names = new Set<string>();
  for (const s of sets) {
    if (names.has(s.name)) throw new IpsetDesiredError(`set ${s.name} is listed twice`);
    names.add(s.name);
  }
  const actual = opts.actual ?? observeIpsets(runner);
  const result: IpsetApplyResult = { created: [], replaced: [], unchanged: [], leftoversRemoved: [] };
  for (const l of actual.leftovers) {
    runChecked(runner, 'ipset-destroy-failed', ['ipset', 'destroy', l.name]);
    result.leftoversRemoved.push(l.name);
  }
  const changed = new Set(
    diffCanonicalSets(sets, { sets: actual.sets, leftovers: [] }).flatMap((c) =>
      c.kind === 'extra-set' ? [] : [c.name],
    ),
  );
  const live = new Map(actual.sets.map((s) => [s.name, s]));
  for (const set of sets) {
    if (!changed.has(set.name)) {
      result.unchanged.push(set.name);
      continue;
    }
    const old = live.get(set.name);
    const switchIn: SwitchIn = !old
      ? 'rename'
      : old.type === 'hash:net' && old.family === set.family
        ? 'swap'
        : 'replace-incompatible';
    const r = runner(['ipset', 'restore'], renderIpsetRestore(set, switchIn));
    if (r.status !== 0) {
      // restore stops at the first failing line: the live set is untouched, but the temporary one may exist.
      runner(['ipset', 'destroy', tmpSetName(set.name)]);
      throw new DataplaneCommandError(
        'ipset-restore-failed',
        ['ipset', 'restore', `(${set.name})`],
        r.status,
        r.stderr,
      );
    }
    (old ? result.replaced : result.created).push(set.name);
  }
  return result;
}

interface IpsetPruneResult {
  destroyed: string[];
  /** Stale sets still used by some rule: kept, to be retried once the rule is gone. */
  inUse: string[];
}

/** Destroys notrack's sets (and leftover temporary sets) that are not desired and that nothing uses any more. */
export function pruneIpsets(runner: CommandRunner, desired: readonly Pick<IpsetDesired, 'name'>[]): IpsetPruneResult {
  const keep = new Set(desired.map((d) => d.name));
  const actual = observeIpsets(runner, { members: false });
  const result: IpsetPruneResult = { destroyed: [], inUse: [] };
  for (const s of [...actual.sets, ...actual.leftovers]) {
    if (keep.has(s.name)) continue;
    if (s.references > 0) {
      result.inUse.push(s.name);
      continue;
    }
    const r = runner(['ipset', 'destroy', s.name]);
    if (r.status === 0) result.destroyed.push(s.name);
    else if (/in use/i.test(r.stderr)) result.inUse.push(s.name);
    else throw new DataplaneCommandError('ipset-destroy-failed', ['ipset', 'destroy', s.name], r.status, r.stderr);
  }
  return result;
}

/** Destroys every set of notrack's that nothing uses (call after iptables removeAll). */
export function removeAllIpsets(runner: CommandRunner): IpsetPruneResult {
  return pruneIpsets(runner, []);
}

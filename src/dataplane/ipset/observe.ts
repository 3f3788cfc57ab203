// Reads notrack's ipsets back from the kernel: every set's header from `ipset list -t`, then the members of notrack's
// own sets, without reading through the host's big sets (a fail2ban or CrowdSec deny list of 1M addresses).
import { NotrackError } from '../../errors.js';
import {
  checked,
  runChecked,
  runCheckedAsync,
  type AsyncCommandRunner,
  type CommandResult,
  type CommandRunner,
} from '../command-runner.js';
import { SET_PREFIX, isTmpSetName } from './names.js';
import type { IpsetActual, IpsetActualSet } from './types.js';

class IpsetParseError extends NotrackError {
  constructor(message: string) {
    super('ipset-parse', message);
  }
}

/**
 * Every set in `ipset list` output, with the members of those `withMembers` names (as printed, flags such as
 * `nomatch` kept; the others' members are passed over). Output of `ipset list -t` has headers only.
 */
export function parseIpsetList(text: string, withMembers: (name: string) => boolean = () => false): IpsetActualSet[] {
  const sets: IpsetActualSet[] = [];
  let cur: IpsetActualSet | undefined;
  // In a set's member list (after "Members:", up to the blank line that ends the set): an IPv6 member such as
  // `abcd::/16` would otherwise read as a header field.
  let inMembers = false;
  let keep = false;
  for (const line of text.split('\n')) {
    if (inMembers) {
      if (line === '') inMembers = false;
      else if (keep) cur!.members.push(line.trim());
      continue;
    }
    const m = /^([A-Za-z ]+):\s*(.*)$/.exec(line);
    if (!m) continue;
    const [, field, value] = m as unknown as [string, string, string];
    if (field === 'Name') {
      cur = {
        name: value,
        type: '',
        family: undefined,
        hashsize: undefined,
        maxelem: undefined,
        references: 0,
        members: [],
      };
      keep = withMembers(value);
      sets.push(cur);
    } else if (!cur) {
      throw new IpsetParseError(`ipset list: "${line}" before any Name:`);
    } else if (field === 'Members') {
      inMembers = true;
    } else if (field === 'Type') {
      cur.type = value;
    } else if (field === 'References') {
      cur.references = Number(value);
    } else if (field === 'Number of entries') {
      cur.entries = Number(value);
    } else if (field === 'Header') {
      const words = value.split(/\s+/);
      const opt = (k: string): string | undefined => {
        const i = words.indexOf(k);
        return i >= 0 ? words[i + 1] : undefined;
      };
      const family = opt('family');
      cur.family = family === 'inet' ? 4 : family === 'inet6' ? 6 : undefined;
      cur.hashsize = opt('hashsize') === undefined ? undefined : Number(opt('hashsize'));
      cur.maxelem = opt('maxelem') === undefined ? undefined : Number(opt('maxelem'));
    }
  }
  return sets;
}

/** Headers of every set in `ipset list -t` output (members empty). */
export function parseIpsetHeaders(text: string): IpsetActualSet[] {
  return parseIpsetList(text);
}

/**
 * Past this many members in the host's own sets, notrack's sets are listed one by one (a program run each) instead of
 * all at once: passing over 10,000 foreign lines costs about what one more run of `ipset` costs.
 */
const FOREIGN_MEMBERS_PASSED = 10_000;

const HEADERS = ['ipset', 'list', '-t'];
const ALL = ['ipset', 'list'];

/**
 * The reads that give the members of notrack's sets, from every set's header: none when notrack has no set; one
 * `ipset list` of everything when the host's own sets are small; else one `ipset list <name>` per set of notrack's.
 */
function memberReads(headers: readonly IpsetActualSet[]): string[][] {
  const mine = headers.filter((s) => ours(s.name) && !isTmpSetName(s.name));
  if (!mine.length) return [];
  // A header without a count (an old ipset) counts as big.
  const foreign = headers.reduce((n, s) => (ours(s.name) ? n : n + (s.entries ?? Infinity)), 0);
  return foreign <= FOREIGN_MEMBERS_PASSED ? [ALL] : mine.map((s) => ['ipset', 'list', s.name]);
}

/** The sets as the member reads found them; a set of notrack's that went away between the two reads is left out. */
function withMembers(headers: readonly IpsetActualSet[], reads: string[][], results: CommandResult[]): IpsetActual {
  if (!reads.length) return ipsetActual(headers);
  const whole = reads[0] === ALL;
  const read = new Map<string, IpsetActualSet>();
  results.forEach((r, i) => {
    if (!whole && r.status !== 0 && /does not exist/i.test(r.stderr)) return;
    const listed = parseIpsetList(
      checked(r, 'ipset-list-failed', reads[i]!),
      (name) => ours(name) && !isTmpSetName(name),
    );
    for (const s of listed) read.set(s.name, s);
  });
  // The whole listing is newer than the headers; per set, the headers stand for the temporary sets (no members).
  if (whole) return ipsetActual([...read.values()]);
  return ipsetActual(headers.flatMap((h) => (isTmpSetName(h.name) ? [h] : (read.get(h.name) ?? []))));
}

/**
 * notrack's sets with their members, and temporary sets an interrupted apply left. With `members: false` only
 * headers are read (cheap on huge sets). With members, the headers are read first and then notrack's sets
 * (memberReads): one or two program runs on most hosts, and never the members of a big set of the host's own.
 */
export function observeIpsets(runner: CommandRunner, opts: { members?: boolean } = {}): IpsetActual {
  const headers = parseIpsetList(runChecked(runner, 'ipset-list-failed', HEADERS));
  if (opts.members === false) return ipsetActual(headers);
  const reads = memberReads(headers);
  return withMembers(
    headers,
    reads,
    reads.map((argv) => runner(argv)),
  );
}

/** observeIpsets (members included) with the programs running while the caller goes on. */
export async function observeIpsetsAsync(runner: AsyncCommandRunner): Promise<IpsetActual> {
  const headers = parseIpsetList(await runCheckedAsync(runner, 'ipset-list-failed', HEADERS));
  const reads = memberReads(headers);
  return withMembers(headers, reads, await Promise.all(reads.map((argv) => runner(argv))));
}

function ipsetActual(sets: readonly IpsetActualSet[]): IpsetActual {
  const mine = sets.filter((s) => ours(s.name));
  return { sets: mine.filter((s) => !isTmpSetName(s.name)), leftovers: mine.filter((s) => isTmpSetName(s.name)) };
}

const ours = (name: string): boolean => name.startsWith(SET_PREFIX);

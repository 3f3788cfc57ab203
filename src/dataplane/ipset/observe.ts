// Reads notrack's ipsets back from the kernel: headers and members from one `ipset list` (headers alone: `-t`).
import { NotrackError } from '../../errors.js';
import { runChecked, runCheckedAsync, type AsyncCommandRunner, type CommandRunner } from '../command-runner.js';
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
 * notrack's sets with their members, and temporary sets an interrupted apply left. With `members: false` only
 * headers are read (cheap on huge sets). With members, one `ipset list` prints every set: one program run instead of
 * one per set (a spawn costs more than a small set's text), at the price of the host's own sets' members passing
 * through unread.
 */
export function observeIpsets(runner: CommandRunner, opts: { members?: boolean } = {}): IpsetActual {
  const argv = listArgv(opts.members !== false);
  return ipsetActual(runChecked(runner, 'ipset-list-failed', argv));
}

/** observeIpsets (members included) with the program running while the caller goes on. */
export async function observeIpsetsAsync(runner: AsyncCommandRunner): Promise<IpsetActual> {
  return ipsetActual(await runCheckedAsync(runner, 'ipset-list-failed', listArgv(true)));
}

const listArgv = (members: boolean): string[] => (members ? ['ipset', 'list'] : ['ipset', 'list', '-t']);

function ipsetActual(listed: string): IpsetActual {
  const mine = parseIpsetList(listed, (name) => ours(name) && !isTmpSetName(name)).filter((s) => ours(s.name));
  return { sets: mine.filter((s) => !isTmpSetName(s.name)), leftovers: mine.filter((s) => isTmpSetName(s.name)) };
}

const ours = (name: string): boolean => name.startsWith(SET_PREFIX);

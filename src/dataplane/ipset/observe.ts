// Reads notrack's ipsets back from the kernel: headers from `ipset list -t`, members from `ipset save <set>`.
import { NotrackError } from '../../errors.js';
import { runChecked, type CommandRunner } from '../command-runner.js';
import { SET_PREFIX, isTmpSetName } from './names.js';
import type { IpsetActual, IpsetActualSet } from './types.js';

class IpsetParseError extends NotrackError {
  constructor(message: string) {
    super('ipset-parse', message);
  }
}

/** Headers of every set in `ipset list -t` output (members empty). */
export function parseIpsetHeaders(text: string): IpsetActualSet[] {
  const sets: IpsetActualSet[] = [];
  let cur: IpsetActualSet | undefined;
  for (const line of text.split('\n')) {
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
      sets.push(cur);
    } else if (!cur) {
      throw new IpsetParseError(`ipset list: "${line}" before any Name:`);
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

/** The members of `name` in `ipset save` output, as printed (flags such as `nomatch` kept). */
export function parseIpsetSave(text: string, name: string): string[] {
  const members: string[] = [];
  const prefix = `add ${name} `;
  for (const line of text.split('\n')) if (line.startsWith(prefix)) members.push(line.slice(prefix.length).trim());
  return members;
}

/**
 * notrack's sets with their members, and temporary sets an interrupted apply left. With `members: false` only
 * headers are read (cheap on huge sets).
 */
export function observeIpsets(runner: CommandRunner, opts: { members?: boolean } = {}): IpsetActual {
  const all = parseIpsetHeaders(runChecked(runner, 'ipset-list-failed', ['ipset', 'list', '-t']));
  const ours = all.filter((s) => s.name.startsWith(SET_PREFIX));
  if (opts.members !== false) {
    for (const s of ours) {
      if (isTmpSetName(s.name)) continue;
      s.members = parseIpsetSave(runChecked(runner, 'ipset-save-failed', ['ipset', 'save', s.name]), s.name);
    }
  }
  return { sets: ours.filter((s) => !isTmpSetName(s.name)), leftovers: ours.filter((s) => isTmpSetName(s.name)) };
}

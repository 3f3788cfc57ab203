// Reads the raw and filter tables of one family back from the kernel (one iptables-save -c) into an IptablesActual.
import { runChecked, runCheckedAsync, type AsyncCommandRunner, type CommandRunner } from '../command-runner.js';
import { actualTable, parseIptablesSave } from './save-parse.js';
import { TABLES, type Family, type IptablesActual } from './types.js';

const saveCommand = (family: Family): string => (family === 4 ? 'iptables-save' : 'ip6tables-save');
const restoreCommand = (family: Family): string => (family === 4 ? 'iptables-restore' : 'ip6tables-restore');

/**
 * The current raw and filter tables, with counters, from one program run: `iptables-save` without `-t` prints every
 * table that exists (a spawn costs more than the few tables it prints; one read also shows both tables at one
 * moment). Only raw and filter are parsed: a host's own nat or mangle rules, thousands on some, are skipped unread. A
 * table that does not exist holds nothing of notrack's, as an empty one. Reading never creates a table.
 */
export function observeIptables(runner: CommandRunner, family: Family): IptablesActual {
  return iptablesActual(family, runChecked(runner, 'iptables-save-failed', saveArgv(family)));
}

/** observeIptables with the program running while the caller goes on. */
export async function observeIptablesAsync(runner: AsyncCommandRunner, family: Family): Promise<IptablesActual> {
  return iptablesActual(family, await runCheckedAsync(runner, 'iptables-save-failed', saveArgv(family)));
}

const saveArgv = (family: Family): string[] => [saveCommand(family), '-c'];

function iptablesActual(family: Family, saved: string): IptablesActual {
  const parsed = parseIptablesSave(saved, TABLES);
  const tables = {} as IptablesActual['tables'];
  for (const t of TABLES) tables[t] = actualTable(t, parsed.get(t) ?? []);
  return { family, tables };
}

/** Runs one iptables-restore transaction (one table per call); the kernel applies all of it or none of it. */
export function restoreTable(runner: CommandRunner, family: Family, input: string): void {
  runChecked(runner, 'iptables-restore-failed', [restoreCommand(family), '--noflush', '--wait'], input);
}

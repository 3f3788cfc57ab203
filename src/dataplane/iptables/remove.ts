// Removes every NOTRACK- chain and every jump to one from the built-in chains, in both families, and nothing else.
import type { CommandRunner } from '../command-runner.js';
import { observeIptables, restoreTable } from './observe.js';
import { CHAIN_PREFIX } from './names.js';
import type { ActualTable, Family, TableName } from './types.js';

interface IptablesRemoval {
  family: Family;
  table: TableName;
  chains: string[];
  jumps: number;
}

/** iptables-restore input that removes notrack from one observed table, or null when there is nothing of it. */
function renderRemoval(table: ActualTable): string | null {
  const ours = table.chains.filter((c) => !c.builtin && c.name.startsWith(CHAIN_PREFIX)).map((c) => c.name);
  if (ours.length === 0 && table.jumps.length === 0) return null;
  return [
    `*${table.name}`,
    ...ours.map((c) => `:${c} - [0:0]`),
    ...table.jumps.map((j) => `-D ${j.from} ${j.rule.text}`),
    ...ours.map((c) => `-X ${c}`),
    'COMMIT',
    '',
  ].join('\n');
}

/**
 * Deletes notrack's chains and jumps from the raw and filter tables of each family. raw goes first so that
 * nothing new is marked while the filter table still accepts marked packets.
 */
export function removeAll(runner: CommandRunner, families: readonly Family[] = [4, 6]): IptablesRemoval[] {
  const done: IptablesRemoval[] = [];
  for (const family of families) {
    const actual = observeIptables(runner, family);
    for (const t of ['raw', 'filter'] as const) {
      const input = renderRemoval(actual.tables[t]);
      if (input === null) continue;
      restoreTable(runner, family, input);
      const chains = actual.tables[t].chains
        .filter((c) => !c.builtin && c.name.startsWith(CHAIN_PREFIX))
        .map((c) => c.name);
      done.push({ family, table: t, chains, jumps: actual.tables[t].jumps.length });
    }
  }
  return done;
}

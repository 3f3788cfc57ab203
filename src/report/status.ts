// Renders `notrack status`: the applied revision, a table of interfaces with their counters by outcome and a table
// of rules with their packets and bytes; or versioned JSON.
import type { HostStatus } from '../reconcile/host-status.js';
import { rolledBackText } from '../reconcile/rolled-back.js';

/** Version of the JSON report (kind notrack.status), documented in docs/json-formats.md. */
const STATUS_JSON_VERSION = 1;

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

export function renderStatusTable(s: HostStatus): string {
  const out: string[] = [];
  out.push(
    `host ${s.record.host}: ${s.record.revision.commit?.slice(0, 12) ?? 'files from a directory'}${s.record.revision.ref ? ` (${s.record.revision.ref})` : ''}, applied ${s.record.appliedAt}`,
  );
  if (s.rolledBack) out.push(`rolled back: ${rolledBackText(s.rolledBack)}`);
  out.push('');
  const ifRows = [
    ['INTERFACE', 'GENERATION', 'XDP', 'TC', 'ACCEPTED', 'DROPPED', 'FAILSAFE', 'PASSED', 'NO MATCH', 'NON-IP'],
  ];
  for (const { name, obs } of s.interfaces) {
    const c = obs.generations.find((g) => g.number === obs.activeGeneration)?.counters;
    const n = (k: string) => String((c as Record<string, { packets: bigint }> | undefined)?.[k]?.packets ?? '-');
    ifRows.push([
      name,
      String(obs.activeGeneration ?? '-'),
      obs.xdp.mode,
      obs.tc.mechanism,
      n('accepted'),
      n('dropped'),
      n('failsafe'),
      n('policyPassed'),
      n('noMatch'),
      n('nonIp'),
    ]);
  }
  out.push(table(ifRows));
  for (const { name, obs } of s.interfaces) for (const f of obs.findings) out.push(`  ! ${name}: ${f.message}`);
  if (s.rules.length) {
    out.push('');
    out.push(
      table([
        ['INTERFACE', 'POLICY', 'RULE', 'ACTION', 'PACKETS', 'BYTES'],
        ...s.rules.map((r) => [r.iface, r.policy, r.rule, r.action, String(r.packets), String(r.bytes)]),
      ]),
    );
  }
  return out.join('\n') + '\n';
}

export function renderStatusJson(s: HostStatus): string {
  const { record, interfaces, rules } = s;
  return (
    JSON.stringify(
      {
        formatVersion: STATUS_JSON_VERSION,
        kind: 'notrack.status',
        host: record.host,
        revision: record.revision,
        appliedAt: record.appliedAt,
        desiredHash: record.desiredHash,
        rolledBack: s.rolledBack,
        interfaces: interfaces.map(({ name, obs }) => {
          const active = obs.generations.find((g) => g.number === obs.activeGeneration);
          return {
            name,
            generation: obs.activeGeneration,
            xdpMode: obs.xdp.mode,
            tc: obs.tc.mechanism,
            findings: obs.findings,
            counters: Object.fromEntries(
              Object.entries(active?.counters ?? {}).map(([k, v]) => [
                k,
                { packets: Number(v.packets), bytes: Number(v.bytes) },
              ]),
            ),
          };
        }),
        rules: rules.map((r) => ({ ...r, packets: Number(r.packets), bytes: Number(r.bytes) })),
      },
      null,
      2,
    ) + '\n'
  );
}

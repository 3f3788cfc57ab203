// `notrack status`: what this host runs (commit, generations, XDP mode) and its counters, per interface and rule.
import { readAppliedState, readRecord } from '../reconcile/applied-record.js';
import { hostInterfaces, plannedInterfaces } from '../reconcile/host-dataplane.js';
import { observeInterface, type InterfaceObservation } from '../dataplane/xdp/index.js';
import { NothingAppliedError } from '../reconcile/host-reconciler.js';
import { oneOf, parseCommandArgs } from './args.js';
import { PLACE_HELP, PLACE_OPTIONS, hostSettings } from './host-options.js';

export const STATUS_HELP = `Usage: notrack status [--bpffs DIR] [--state-dir DIR] [--format table|json]

Shows the applied commit and generation, every interface with its XDP mode and TC hook, the packet counters by
outcome (accepted untracked, dropped, failsafe, passed ...) and the packets and bytes of every rule.
Exit status: 0, or 1 when nothing was applied on this host.

Options:
${PLACE_HELP}
  --format FORMAT     table (default) or json
  -h, --help          show this help
`;

interface RuleRow { iface: string; policy: string; rule: string; action: string; packets: bigint; bytes: bigint }

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd()).join('\n');
}

export async function statusCommand(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(argv, { ...PLACE_OPTIONS, format: { type: 'string' } });
  if (values.help) { process.stdout.write(STATUS_HELP); return 0; }
  const format = oneOf('format', values.format, ['table', 'json'] as const, 'table');
  const host = hostSettings(values);
  const record = readRecord(host.stateDir);
  const applied = readAppliedState(host.stateDir);
  if (!record || !applied) throw new NothingAppliedError(host.stateDir);

  const interfaces: { name: string; obs: InterfaceObservation }[] = [];
  const rules: RuleRow[] = [];
  for (const [name, iface] of plannedInterfaces(applied, hostInterfaces()).apply) {
    const obs = observeInterface({ ifname: name, pinDir: host.bpffs });
    interfaces.push({ name, obs });
    const active = obs.generations.find((g) => g.number === obs.activeGeneration);
    iface.counters.forEach((ref, i) => {
      const v = active?.ruleCounters[i];
      const action = [...iface.ingress.v4, ...iface.ingress.v6].find((e) => e.counter === i)?.action ?? '-';
      rules.push({ iface: name, policy: ref.policy, rule: `${ref.direction}[${ref.index}]`, action, packets: v?.packets ?? 0n, bytes: v?.bytes ?? 0n });
    });
  }

  if (format === 'json') {
    process.stdout.write(JSON.stringify({
      formatVersion: 1, kind: 'notrack.status', host: record.host, revision: record.revision, appliedAt: record.appliedAt,
      desiredHash: record.desiredHash,
      interfaces: interfaces.map(({ name, obs }) => {
        const active = obs.generations.find((g) => g.number === obs.activeGeneration);
        return {
          name, generation: obs.activeGeneration, xdpMode: obs.xdp.mode, tc: obs.tc.mechanism,
          findings: obs.findings,
          counters: Object.fromEntries(Object.entries(active?.counters ?? {}).map(([k, v]) => [k, { packets: Number(v.packets), bytes: Number(v.bytes) }])),
        };
      }),
      rules: rules.map((r) => ({ ...r, packets: Number(r.packets), bytes: Number(r.bytes) })),
    }, null, 2) + '\n');
    return 0;
  }
  const out: string[] = [];
  out.push(`host ${record.host}: ${record.revision.commit?.slice(0, 12) ?? 'files from a directory'}${record.revision.ref ? ` (${record.revision.ref})` : ''}, applied ${record.appliedAt}`);
  out.push('');
  const ifRows = [['INTERFACE', 'GENERATION', 'XDP', 'TC', 'ACCEPTED', 'DROPPED', 'FAILSAFE', 'PASSED', 'NO MATCH', 'NON-IP']];
  for (const { name, obs } of interfaces) {
    const c = obs.generations.find((g) => g.number === obs.activeGeneration)?.counters;
    const n = (k: string) => String((c as Record<string, { packets: bigint }> | undefined)?.[k]?.packets ?? '-');
    ifRows.push([name, String(obs.activeGeneration ?? '-'), obs.xdp.mode, obs.tc.mechanism, n('accepted'), n('dropped'), n('failsafe'), n('policyPassed'), n('noMatch'), n('nonIp')]);
  }
  out.push(table(ifRows));
  for (const { name, obs } of interfaces) for (const f of obs.findings) out.push(`  ! ${name}: ${f.message}`);
  if (rules.length) {
    out.push('');
    out.push(table([['INTERFACE', 'POLICY', 'RULE', 'ACTION', 'PACKETS', 'BYTES'],
      ...rules.map((r) => [r.iface, r.policy, r.rule, r.action, String(r.packets), String(r.bytes)])]));
  }
  process.stdout.write(out.join('\n') + '\n');
  return 0;
}

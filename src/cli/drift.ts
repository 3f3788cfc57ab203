// `notrack drift`: compare this host with what notrack applied (drift) and with the policy's revision (pending).
import { HostReconciler, fetchDesired } from '../reconcile/host-reconciler.js';
import { readAppliedState, readRecord } from '../reconcile/applied-record.js';
import { planHost, type HostPlan } from '../report/plan.js';
import { hostLines } from '../report/plan-render.js';
import type { DriftItem } from '../reconcile/host-drift.js';
import { NotrackError } from '../errors.js';
import { SOURCE_HELP, SOURCE_OPTIONS, oneOf, parseCommandArgs } from './args.js';
import { HOST_HELP, HOST_OPTIONS, hostSettings } from './host-options.js';
import { sourceOptions } from './read-policy.js';

export const DRIFT_HELP = `Usage: notrack drift [--repo URL|PATH] [--ref REF] [--path DIR] [--host NAME] [--bpffs DIR] [--state-dir DIR]

Changes nothing. Reports:
  drift    objects on the host that no longer match what notrack last applied (a detached program, a flushed
           chain, a deleted set entry, a foreign rule inside a notrack chain), and
  pending  what a new revision of the policy would change (compared with the applied one).
Exit status: 0 in sync, 2 drift or pending changes, 1 error, 64 bad usage.

Options:
${SOURCE_HELP}
${HOST_HELP}
  --offline           do not fetch the policy: report drift only
  --format FORMAT     text (default), json (versioned) or markdown
  -h, --help          show this help
`;

interface DriftReport {
  host: string;
  applied: { commit: string | null; ref: string | null; appliedAt: string } | null;
  drift: DriftItem[];
  pending: HostPlan | null;
  head: { ref: string | null; commit: string | null } | null;
}

function renderText(r: DriftReport): string {
  const lines: string[] = [];
  const at = r.applied ? `${r.applied.commit?.slice(0, 12) ?? 'a directory'} (applied ${r.applied.appliedAt})` : 'nothing';
  lines.push(`host ${r.host} runs ${at}`);
  if (r.drift.length) {
    lines.push(`drift: ${r.drift.length} object${r.drift.length === 1 ? ' no longer matches' : 's no longer match'} what notrack applied:`);
    for (const d of r.drift) lines.push(`  ${d.object}: ${d.description}`);
  } else if (r.applied) lines.push('drift: none, the host matches what notrack applied');
  if (r.pending && r.pending.action !== 'no-op') {
    lines.push(`pending: ${r.head?.commit?.slice(0, 12) ?? 'the source'} would change:`);
    lines.push(...hostLines(r.pending).map((l) => `  ${l}`));
  } else if (r.head) lines.push(`pending: none, the host runs ${r.head.commit?.slice(0, 12) ?? 'the source'}`);
  return lines.join('\n') + '\n';
}

function renderMarkdown(r: DriftReport): string {
  const inSync = !r.drift.length && (!r.pending || r.pending.action === 'no-op');
  let out = `### ${inSync ? '✅' : '⚠️'} notrack drift: ${r.host}\n\n`;
  out += `Applied: \`${r.applied?.commit?.slice(0, 12) ?? 'nothing'}\`${r.head ? `, head: \`${r.head.commit?.slice(0, 12) ?? 'directory'}\`` : ''}\n\n`;
  if (r.drift.length) {
    out += `| drifted object | what changed |\n|---|---|\n${r.drift.map((d) => `| ${d.object} | ${d.description.replace(/\|/g, '\\|')} |`).join('\n')}\n\n`;
  }
  if (r.pending && r.pending.action !== 'no-op') out += `<details><summary>pending changes</summary>\n\n\`\`\`diff\n${hostLines(r.pending).join('\n')}\n\`\`\`\n\n</details>\n`;
  if (inSync) out += 'In sync.\n';
  return out;
}

export async function driftCommand(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(argv, { ...SOURCE_OPTIONS, ...HOST_OPTIONS, format: { type: 'string' }, offline: { type: 'boolean' } });
  if (values.help) { process.stdout.write(DRIFT_HELP); return 0; }
  const format = oneOf('format', values.format, ['text', 'json', 'markdown'] as const, 'text');
  const host = hostSettings(values);
  const record = readRecord(host.stateDir);
  const applied = readAppliedState(host.stateDir);
  const drift = new HostReconciler({ source: sourceOptions(values), ...host }).drift() ?? [];
  const report: DriftReport = {
    host: host.host, drift, pending: null, head: null,
    applied: record?.desiredHash ? { commit: record.revision.commit, ref: record.revision.ref, appliedAt: record.appliedAt } : null,
  };
  if (!values.offline) {
    const desired = await fetchDesired({ source: sourceOptions(values), host: host.host });
    if (!desired.ok) throw new NotrackError(`drift-${desired.reason.replace(/Failed$|NotFound$/, '').toLowerCase()}`, `cannot tell what is pending: ${desired.message}`);
    report.head = { ref: desired.snapshot.ref, commit: desired.snapshot.commit };
    report.pending = planHost(host.host, applied, desired.state);
  }
  if (format === 'json') {
    process.stdout.write(JSON.stringify({ formatVersion: 1, kind: 'notrack.drift', inSync: !drift.length && (report.pending?.action ?? 'no-op') === 'no-op', ...report }, null, 2) + '\n');
  } else {
    process.stdout.write(format === 'markdown' ? renderMarkdown(report) : renderText(report));
  }
  return drift.length || (report.pending && report.pending.action !== 'no-op') ? 2 : 0;
}

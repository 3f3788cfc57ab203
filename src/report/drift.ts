// Renders `notrack drift`: the objects that drifted from what notrack applied, and what a new revision would change,
// as text, Markdown and versioned JSON.
import type { DriftItem } from '../reconcile/host-drift.js';
import type { HostPlan } from './plan.js';
import { hostLines } from './plan-render.js';

/** What drift found on a host, and what a new revision would change there. */
export interface DriftReport {
  host: string;
  applied: { commit: string | null; ref: string | null; appliedAt: string } | null;
  drift: DriftItem[];
  pending: HostPlan | null;
  head: { ref: string | null; commit: string | null } | null;
}

export function renderDriftText(r: DriftReport): string {
  const lines: string[] = [];
  const at = r.applied
    ? `${r.applied.commit?.slice(0, 12) ?? 'a directory'} (applied ${r.applied.appliedAt})`
    : 'nothing';
  lines.push(`host ${r.host} runs ${at}`);
  if (r.drift.length) {
    lines.push(
      `drift: ${r.drift.length} object${r.drift.length === 1 ? ' no longer matches' : 's no longer match'} what notrack applied:`,
    );
    for (const d of r.drift) lines.push(`  ${d.object}: ${d.description}`);
  } else if (r.applied) lines.push('drift: none, the host matches what notrack applied');
  if (r.pending && r.pending.action !== 'no-op') {
    lines.push(`pending: ${r.head?.commit?.slice(0, 12) ?? 'the source'} would change:`);
    lines.push(...hostLines(r.pending).map((l) => `  ${l}`));
  } else if (r.head) lines.push(`pending: none, the host runs ${r.head.commit?.slice(0, 12) ?? 'the source'}`);
  return lines.join('\n') + '\n';
}

export function renderDriftMarkdown(r: DriftReport): string {
  const inSync = !r.drift.length && (!r.pending || r.pending.action === 'no-op');
  let out = `### ${inSync ? '✅' : '⚠️'} notrack drift: ${r.host}\n\n`;
  out += `Applied: \`${r.applied?.commit?.slice(0, 12) ?? 'nothing'}\`${r.head ? `, head: \`${r.head.commit?.slice(0, 12) ?? 'directory'}\`` : ''}\n\n`;
  if (r.drift.length) {
    out += `| drifted object | what changed |\n|---|---|\n${r.drift.map((d) => `| ${d.object} | ${d.description.replace(/\|/g, '\\|')} |`).join('\n')}\n\n`;
  }
  if (r.pending && r.pending.action !== 'no-op')
    out += `<details><summary>pending changes</summary>\n\n\`\`\`diff\n${hostLines(r.pending).join('\n')}\n\`\`\`\n\n</details>\n`;
  if (inSync) out += 'In sync.\n';
  return out;
}

/** Version of the JSON report (kind notrack.drift), documented in docs/json-formats.md. */
const DRIFT_JSON_VERSION = 1;

export function driftInSync(r: DriftReport): boolean {
  return !r.drift.length && (r.pending?.action ?? 'no-op') === 'no-op';
}

export function renderDriftJson(r: DriftReport): string {
  return (
    JSON.stringify(
      { formatVersion: DRIFT_JSON_VERSION, kind: 'notrack.drift', inSync: driftInSync(r), ...r },
      null,
      2,
    ) + '\n'
  );
}

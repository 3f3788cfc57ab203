// The fleet drift report for people and CI: a table as text, Markdown for a job summary or an issue, JSON, and
// GitHub annotations (one per host that is not in sync) with the Markdown appended to the job summary.
import type { FleetHost, FleetReport, HostProblem } from '../fleet/fleet-report.js';
import { PROBLEMS } from '../fleet/fleet-report.js';
import { githubMessage } from './github.js';

const short = (c: string | null) => (c ? c.slice(0, 12) : '-');

function age(seconds: number | null): string {
  if (seconds === null) return 'never';
  if (seconds < 120) return `${seconds}s ago`;
  if (seconds < 7200) return `${Math.round(seconds / 60)}m ago`;
  if (seconds < 172800) return `${Math.round(seconds / 3600)}h ago`;
  return `${Math.round(seconds / 86400)}d ago`;
}

function behind(h: FleetHost): string {
  if (h.commitsBehind === 0) return 'at head';
  if (h.commitsBehind !== null) return `${h.commitsBehind} behind`;
  return h.problems.includes('behind') ? 'behind (distance unknown)' : '-';
}

function protection(h: FleetHost): string {
  if (h.protected === null) return '-';
  return h.protected ? 'yes' : `NO (${h.unprotectedInterfaces.join(', ')})`;
}

const EXPLAIN: Record<HostProblem, string> = {
  missing: 'the policy names it, but Prometheus has no agent for it',
  unreachable: 'Prometheus cannot scrape its agent',
  stale: 'no successful reconcile recently',
  stalled: 'its latest reconcile failed or stalled',
  unprotected: 'an interface it should protect has no notrack program attached',
  drifted: 'its dataplane was changed by hand',
  behind: 'it runs an older commit than the head',
};

function columns(h: FleetHost): string[] {
  return [
    h.host,
    h.problems.length ? h.problems.join(', ') : 'in sync',
    short(h.commit),
    h.generation === null ? '-' : String(h.generation),
    behind(h),
    protection(h),
    h.driftObjects === null ? '-' : String(h.driftObjects),
    h.condition ?? '-',
    age(h.lastSuccessAgeSeconds),
  ];
}

const HEADERS = ['host', 'state', 'commit', 'gen', 'head', 'protected', 'drift', 'condition', 'last success'];

function headline(r: FleetReport): string {
  const problems = PROBLEMS.filter((p) => r.summary[p] > 0).map((p) => `${r.summary[p]} ${p}`);
  const head = r.head.commit ? ` at head ${r.head.ref ? `${r.head.ref}@` : ''}${short(r.head.commit)}` : '';
  return r.inSync
    ? `fleet in sync: ${r.summary.hosts} host${r.summary.hosts === 1 ? '' : 's'}${head}`
    : `fleet not in sync${head}: ${r.summary.inSync} of ${r.summary.hosts} hosts in sync; ${problems.join(', ')}`;
}

export function renderFleetText(r: FleetReport): string {
  const rows = [HEADERS, ...r.hosts.map(columns)];
  const widths = HEADERS.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  const table = rows
    .map((row) =>
      row
        .map((c, i) => c.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
  return `${headline(r)}\n\n${table}\n`;
}

export function renderFleetMarkdown(r: FleetReport): string {
  const cell = (s: string) => s.replace(/\|/g, '\\|');
  const lines = [
    `### notrack fleet: ${r.inSync ? 'in sync' : 'not in sync'}`,
    '',
    `${headline(r)} (Prometheus ${r.prometheus}, ${r.generatedAt})`,
    '',
    `| ${HEADERS.join(' | ')} |`,
    `|${HEADERS.map(() => '---').join('|')}|`,
    ...r.hosts.map((h) => `| ${columns(h).map(cell).join(' | ')} |`),
  ];
  const problems = PROBLEMS.filter((p) => r.summary[p] > 0);
  if (problems.length) {
    lines.push('', ...problems.map((p) => `- **${p}** (${r.summary[p]}): ${EXPLAIN[p]}`));
  }
  return `${lines.join('\n')}\n`;
}

export function renderFleetJson(r: FleetReport): string {
  return `${JSON.stringify(r, null, 2)}\n`;
}

/** One annotation per host that is not in sync (error when unprotected or missing, warning otherwise). */
export function renderFleetGithub(r: FleetReport): string {
  const out = r.hosts
    .filter((h) => h.problems.length)
    .map((h) =>
      githubMessage(
        h.problems.includes('unprotected') || h.problems.includes('missing') ? 'error' : 'warning',
        `notrack fleet ${h.host}`,
        `${h.host}: ${h.problems.map((p) => `${p} (${EXPLAIN[p]})`).join('; ')}`,
      ),
    );
  return `${[...out, headline(r)].join('\n')}\n`;
}

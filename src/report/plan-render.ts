// Renders a plan as a readable diff, as Markdown for a pull request or job summary, and as versioned JSON.
import type { HostPlan, InterfacePlan, Plan, RuleChange, SetChange } from './plan.js';

const PLAN_JSON_VERSION = 1;

/** How many prefixes of a set change are listed before "… and N more". */
const LIST_LIMIT = 10;

export interface PlanSubject {
  repo: string;
  base: { ref: string; commit: string | null };
  head: { ref: string; commit: string | null };
}

const SIGN = { add: '+', remove: '-', update: '~' } as const;

function listed(prefixes: string[], sign: string): string[] {
  const shown = prefixes.slice(0, LIST_LIMIT).map((p) => `        ${sign} ${p}`);
  if (prefixes.length > LIST_LIMIT) shown.push(`        ${sign} … and ${prefixes.length - LIST_LIMIT} more`);
  return shown;
}

function ruleLines(r: RuleChange, indent: string): string[] {
  const name = `${r.rule.policy} ${r.rule.direction}[${r.rule.index}]`;
  if (r.action === 'add') return [`${indent}+ rule ${name}: ${r.after}`];
  if (r.action === 'remove') return [`${indent}- rule ${name}: ${r.before}`];
  return [`${indent}~ rule ${name}:`, `${indent}    - ${r.before}`, `${indent}    + ${r.after}`];
}

function setLines(s: SetChange): string[] {
  const delta = `${s.sizeBefore} -> ${s.sizeAfter} prefixes (+${s.added.length} -${s.removed.length})`;
  return [`    ~ set ${s.origin}, used by ${s.usedBy}: ${delta}`, ...listed(s.added, '+'), ...listed(s.removed, '-')];
}

function interfaceLines(i: InterfacePlan): string[] {
  const out = [`  ${SIGN[i.action]} interface ${i.name}`];
  for (const p of i.policies) out.push(`    ${SIGN[p.action]} policy ${p.policy}`);
  for (const r of i.rules) out.push(...ruleLines(r, '    '));
  for (const s of i.sets) out.push(...setLines(s));
  for (const p of i.programs) {
    out.push(
      `    ~ policy program IPv${p.family}: ${p.entriesBefore} -> ${p.entriesAfter} classifier entries (new generation)`,
    );
  }
  for (const r of i.egress) out.push(...ruleLines({ ...r }, '    ').map((l) => l.replace('rule ', 'egress rule ')));
  return out;
}

export function hostLines(h: HostPlan): string[] {
  const head = { create: '+', delete: '-', update: '~', 'no-op': ' ' }[h.action];
  const out = [`${head} host ${h.host}${h.action === 'no-op' ? ' (no changes)' : ''}`];
  for (const i of h.interfaces) out.push(...interfaceLines(i));
  for (const f of h.failsafes) out.push(`  ${SIGN[f.action]} failsafe ${f.failsafe}`);
  for (const c of h.config) out.push(`  ~ config ${c.field}: ${c.before} -> ${c.after}`);
  return out;
}

function planSummaryLine(plan: Plan): string {
  const s = plan.summary;
  if (s.changed === 0) return `No changes: ${s.hosts} host${s.hosts === 1 ? '' : 's'} already match the head revision.`;
  return `Plan: ${s.changed} of ${s.hosts} hosts change (${s.created} new, ${s.deleted} removed, ${s.changed - s.created - s.deleted} updated).`;
}

function revisionLine(subject: PlanSubject): string {
  const rev = (r: PlanSubject['base']) => `${r.ref}${r.commit ? ` (${r.commit.slice(0, 12)})` : ''}`;
  return `${subject.repo}: ${rev(subject.base)} -> ${rev(subject.head)}`;
}

export function renderPlanText(subject: PlanSubject, plan: Plan, opts: { showUnchanged?: boolean } = {}): string {
  const lines = [revisionLine(subject), ''];
  for (const h of plan.hosts) {
    if (h.action === 'no-op' && !opts.showUnchanged) continue;
    lines.push(...hostLines(h), '');
  }
  lines.push(planSummaryLine(plan));
  return lines.join('\n') + '\n';
}

/** Markdown for a pull-request comment or $GITHUB_STEP_SUMMARY: one collapsible diff per changed host. */
export function renderPlanMarkdown(subject: PlanSubject, plan: Plan, warnings: string[] = []): string {
  const icon = plan.summary.changed ? '📝' : '✅';
  let out = `### ${icon} notrack plan\n\n\`${revisionLine(subject)}\`\n\n**${planSummaryLine(plan)}**\n`;
  const changed = plan.hosts.filter((h) => h.action !== 'no-op');
  for (const h of changed) {
    // GitHub colours a diff line by its first character: move each line's marker there (~ becomes !).
    const body = hostLines(h)
      .map((l) => l.replace(/^(\s*)([+\-~])/, (_, sp: string, sign: string) => `${sign === '~' ? '!' : sign}${sp}`))
      .join('\n');
    const count = h.interfaces.reduce(
      (n, i) => n + i.rules.length + i.sets.length + i.egress.length + i.policies.length,
      0,
    );
    const title = `${h.host}: ${h.action}${count ? `, ${count} change${count === 1 ? '' : 's'}` : ''}`;
    const block = `\`\`\`diff\n${body}\n\`\`\``;
    out +=
      body.split('\n').length > 12
        ? `\n<details><summary>${title}</summary>\n\n${block}\n\n</details>\n`
        : `\n**${title}**\n\n${block}\n`;
  }
  const unchanged = plan.hosts.length - changed.length;
  if (unchanged) out += `\n${unchanged} host${unchanged === 1 ? '' : 's'} unchanged.\n`;
  if (warnings.length) {
    out += `\n<details><summary>⚠️ ${warnings.length} warning${warnings.length === 1 ? '' : 's'} at the head revision</summary>\n\n`;
    out += warnings.map((w) => `- ${w.replace(/\|/g, '\\|')}`).join('\n') + '\n\n</details>\n';
  }
  return out;
}

export function renderPlanJson(subject: PlanSubject, plan: Plan, warnings: string[] = []): string {
  return (
    JSON.stringify(
      {
        formatVersion: PLAN_JSON_VERSION,
        kind: 'notrack.plan',
        repo: subject.repo,
        base: subject.base,
        head: subject.head,
        summary: plan.summary,
        hosts: plan.hosts,
        warnings,
      },
      null,
      2,
    ) + '\n'
  );
}

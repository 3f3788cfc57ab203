// Renders a plan: text for a terminal or a CI artefact, Markdown for a pull-request comment (always within GitHub's
// 65,536-character limit, summary first) and versioned JSON. Traffic changes lead; dataplane detail (rebuilt
// programs, classifier entries, lowered rules) only with --verbose.
import type { RuleRef } from '../compile/desired-state.js';
import { countText } from '../traffic/describe.js';
import type { HostPlan, InterfacePlan, RuleChange, SetChange } from './plan.js';
import type { PlanReport } from './plan-report.js';
import type { AttributeChange, ResourceChange } from './plan-resources.js';
import type { TrafficChangeEntry, TrafficSide } from './plan-traffic.js';

const PLAN_JSON_VERSION = 2;

/** GitHub's limit on the body of an issue or pull-request comment. */
export const GITHUB_COMMENT_LIMIT = 65_536;

/** How many prefixes of a set change are listed before "… and N more". */
const LIST_LIMIT = 10;
/** How many boxes of one region are written out before "… and N more". */
const BOX_LIMIT = 4;

export interface PlanSubject {
  repo: string;
  base: { ref: string; commit: string | null };
  head: { ref: string; commit: string | null };
}

export interface RenderOptions {
  /** Also the dataplane detail of every changed host. */
  verbose?: boolean;
  /** Text: also hosts without changes. */
  showUnchanged?: boolean;
  warnings?: string[];
  /** Markdown: the most characters the output may have (default GitHub's comment limit). */
  limit?: number;
}

const SIGN = { add: '+', remove: '-', update: '~' } as const;

// ---- dataplane detail (per host; also what `drift` shows as pending) -------------------------------------------------

function listed(prefixes: string[], sign: string): string[] {
  const shown = prefixes.slice(0, LIST_LIMIT).map((p) => `        ${sign} ${p}`);
  if (prefixes.length > LIST_LIMIT) shown.push(`        ${sign} … and ${prefixes.length - LIST_LIMIT} more`);
  return shown;
}

function ruleName(r: RuleRef): string {
  return `${r.policy} ${r.direction}[${r.index}]`;
}

function ruleLines(r: RuleChange, indent: string, what: string): string[] {
  const name = ruleName(r.rule);
  if (r.action === 'add') return [`${indent}+ ${what} ${name}: ${r.after}`];
  if (r.action === 'remove') return [`${indent}- ${what} ${name}: ${r.before}`];
  return [`${indent}~ ${what} ${name}:`, `${indent}    - ${r.before}`, `${indent}    + ${r.after}`];
}

function setLines(s: SetChange): string[] {
  const delta = `${s.sizeBefore} -> ${s.sizeAfter} prefixes (+${s.added.length} -${s.removed.length})`;
  return [`    ~ set ${s.origin}, used by ${s.usedBy}: ${delta}`, ...listed(s.added, '+'), ...listed(s.removed, '-')];
}

function interfaceLines(i: InterfacePlan): string[] {
  const out = [`  ${SIGN[i.action]} interface ${i.name}`];
  for (const p of i.policies) out.push(`    ${SIGN[p.action]} policy ${p.policy}`);
  for (const r of i.rules) out.push(...ruleLines(r, '    ', 'rule'));
  for (const s of i.sets) out.push(...setLines(s));
  for (const p of i.programs) {
    out.push(
      `    ~ policy program IPv${p.family}: ${p.entriesBefore} -> ${p.entriesAfter} classifier entries (new generation)`,
    );
  }
  for (const r of i.egress) out.push(...ruleLines(r, '    ', 'egress rule'));
  return out;
}

/** One host's dataplane changes, as a diff. */
export function hostLines(h: HostPlan): string[] {
  const head = { create: '+', delete: '-', update: '~', 'no-op': ' ' }[h.action];
  const out = [`${head} host ${h.host}${h.action === 'no-op' ? ' (no changes)' : ''}`];
  for (const i of h.interfaces) out.push(...interfaceLines(i));
  for (const f of h.failsafes) out.push(`  ${SIGN[f.action]} failsafe ${f.failsafe}`);
  for (const c of h.config) out.push(`  ~ config ${c.field}: ${c.before} -> ${c.after}`);
  return out;
}

// ---- summary ---------------------------------------------------------------------------------------------------------

const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

/** The first line of every plan: hosts changed, then traffic regions newly allowed, denied and tracked. */
export function planSummaryLine(p: PlanReport): string {
  const s = p.summary;
  if (s.changed === 0 && s.resources === 0)
    return `No changes: ${plural(s.hosts, 'host')} already match the head revision. No traffic changes.`;
  const hosts =
    s.changed === 0
      ? `No host changes (${plural(s.resources, 'resource')} edited)`
      : `${s.changed} of ${plural(s.hosts, 'host')} change (${s.created} new, ${s.deleted} removed, ${s.changed - s.created - s.deleted} updated)`;
  const t = s.traffic;
  const traffic =
    t.regions === 0
      ? 'No traffic changes'
      : `Traffic: ${plural(t.allowed, 'region')} newly allowed, ${t.denied} newly denied, ${t.tracked} newly tracked` +
        (t.ruleChanged ? `, ${t.ruleChanged} decided by another rule` : '');
  return `Plan: ${hosts}. ${traffic}.`;
}

function revisionLine(subject: PlanSubject): string {
  const rev = (r: PlanSubject['base']) => `${r.ref}${r.commit ? ` (${r.commit.slice(0, 12)})` : ''}`;
  return `${subject.repo}: ${rev(subject.base)} -> ${rev(subject.head)}`;
}

// ---- traffic changes -------------------------------------------------------------------------------------------------

/** `ns-1, ns-2 and 198 more` (hosts already in natural order). */
export function hostList(hosts: readonly string[]): string {
  if (hosts.length <= 3)
    return hosts.length <= 1 ? (hosts[0] ?? '') : `${hosts.slice(0, -1).join(', ')} and ${hosts[hosts.length - 1]}`;
  return `${hosts.slice(0, 2).join(', ')} and ${hosts.length - 2} more`;
}

function sideText(s: TrafficSide): string {
  const rule = s.rule
    ? `${s.rule.policy} ${s.rule.direction}[${s.rule.index}]${s.rule.file ? ` (${s.rule.file}:${s.rule.line})` : ''}`
    : '';
  switch (s.reason) {
    case 'rule':
      return s.outcome === 'allow'
        ? `allow (untracked) by ${rule}`
        : s.outcome === 'deny'
          ? `deny by ${rule}`
          : `pass (to tracked processing) by the Pass rule ${rule}`;
    case 'failsafe':
      return `pass (tracked) by failsafe ${s.failsafe ?? ''}`.trimEnd();
    case 'no-match':
      return 'pass (to tracked processing): no rule matches';
    default:
      return 'pass: no notrack policy sees it';
  }
}

function sizeText(e: TrafficChangeEntry): string {
  const n = (text: string, one: string, many: string) => {
    const v = BigInt(text);
    return `${countText(v)} ${v === 1n ? one : many}`;
  };
  const parts = [
    n(e.size.sources, 'source address', 'source addresses'),
    n(e.size.destinations, 'destination address', 'destination addresses'),
  ];
  if (e.size.portPairs !== '0') parts.push(n(e.size.portPairs, 'port pair', 'port pairs'));
  return parts.join(', ');
}

/** One traffic change: the region (one line per box), before, after, an example and the size. */
function changeLines(e: TrafficChangeEntry): {
  head: string;
  more: string[];
  before: string;
  after: string;
  rest: string[];
} {
  const more = e.region.slice(1, BOX_LIMIT).map((r) => `  or ${r}`);
  if (e.region.length > BOX_LIMIT)
    more.push(`  or ${e.region.length - BOX_LIMIT} more boxes (--format json lists them)`);
  return {
    head: `${e.interface} ${e.direction} IPv${e.family}: ${e.region[0]}`,
    more,
    before: `before: ${sideText(e.before)}`,
    after: `after:  ${sideText(e.after)}`,
    rest: [`example: ${e.example}`, `size: ${sizeText(e)}`],
  };
}

/** Hosts whose traffic changes are the same, in natural order of their first host. */
function hostGroups(p: PlanReport): { hosts: string[]; entries: number[] }[] {
  const groups = new Map<string, { hosts: string[]; entries: number[] }>();
  for (const [host, entries] of p.trafficByHost) {
    if (entries.length === 0) continue;
    const key = entries.join(',');
    const g = groups.get(key);
    if (g) g.hosts.push(host);
    else groups.set(key, { hosts: [host], entries });
  }
  return [...groups.values()];
}

// ---- resource changes ------------------------------------------------------------------------------------------------

function attributeLines(c: AttributeChange): string[] {
  if (c.added || c.removed) {
    const out = [`    ~ ${c.field}: ${c.before} -> ${c.after} (+${c.added?.length ?? 0} -${c.removed?.length ?? 0})`];
    out.push(...listed(c.added ?? [], '+'), ...listed(c.removed ?? [], '-'));
    return out;
  }
  if (c.before === null) return [`    + ${c.field}: ${c.after}`];
  if (c.after === null) return [`    - ${c.field}: ${c.before}`];
  return [`    ~ ${c.field}: ${c.before} -> ${c.after}`];
}

function resourceLines(r: ResourceChange): string[] {
  return [`${SIGN[r.action]} ${r.kind} ${r.name} (${r.file})`, ...r.changes.flatMap(attributeLines)];
}

// ---- text ------------------------------------------------------------------------------------------------------------

export function renderPlanText(subject: PlanSubject, p: PlanReport, opts: RenderOptions = {}): string {
  const lines = [revisionLine(subject), '', planSummaryLine(p), ''];
  lines.push('Traffic changes:');
  const groups = hostGroups(p);
  if (groups.length === 0) lines.push('  none: every packet is decided as before, by the same rule', '');
  for (const g of groups) {
    lines.push(`  ${hostList(g.hosts)}:`);
    for (const i of g.entries) {
      const c = changeLines(p.traffic[i]!);
      lines.push(`    ${c.head}`, ...c.more.map((l) => `    ${l}`), `      ${c.before}`, `      ${c.after}`);
      lines.push(...c.rest.map((l) => `      ${l}`));
    }
    lines.push('');
  }
  if (p.resources.length) {
    lines.push('Resource changes:');
    for (const r of p.resources) lines.push(...resourceLines(r).map((l) => `  ${l}`));
    lines.push('');
  }
  if (opts.verbose || opts.showUnchanged) {
    const hosts = p.hosts.filter((h) => (opts.showUnchanged ? true : h.action !== 'no-op'));
    if (hosts.length) {
      lines.push('Dataplane changes:');
      for (const h of hosts) lines.push(...hostLines(h).map((l) => `  ${l}`));
      lines.push('');
    }
  }
  return lines.join('\n') + '\n';
}

// ---- Markdown ----------------------------------------------------------------------------------------------------------

const escapeHtml = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** A diff block GitHub colours: `+` after, `-` before, `!` the region, nothing for the rest. */
function diffBlock(lines: string[]): string {
  // A fence longer than any run of backticks inside, so no content can end the block early.
  const longest = Math.max(2, ...lines.map((l) => Math.max(0, ...(l.match(/`+/g) ?? []).map((m) => m.length))));
  const fence = '`'.repeat(longest + 1);
  return `${fence}diff\n${lines.join('\n')}\n${fence}\n`;
}

function collapsible(title: string, body: string, lines: number): string {
  return lines > 12
    ? `\n<details><summary>${escapeHtml(title)}</summary>\n\n${body}\n</details>\n`
    : `\n**${escapeHtml(title)}**\n\n${body}`;
}

/**
 * Markdown for a pull-request comment or a job summary. It never exceeds `limit` characters (GitHub's comment limit
 * by default): the summary comes first, then traffic changes, resource changes, dataplane detail (--verbose) and
 * warnings as long as they fit, then a note of what was left out and how to get everything.
 */
export function renderPlanMarkdown(subject: PlanSubject, p: PlanReport, opts: RenderOptions = {}): string {
  const limit = opts.limit ?? GITHUB_COMMENT_LIMIT;
  const changed = p.summary.changed > 0 || p.summary.resources > 0;
  const head = `### ${changed ? '📝' : '✅'} notrack plan\n\n\`${revisionLine(subject).replace(/`/g, "'")}\`\n\n**${escapeHtml(planSummaryLine(p))}**\n`;

  interface Block {
    section: string;
    text: string;
    what: 'traffic' | 'resource' | 'host' | 'warning';
    count: number;
  }
  const blocks: Block[] = [];
  for (const g of hostGroups(p)) {
    const lines: string[] = [];
    for (const i of g.entries) {
      const c = changeLines(p.traffic[i]!);
      lines.push(`! ${c.head}`, ...c.more.map((l) => `! ${l}`), `-   ${c.before}`, `+   ${c.after}`);
      lines.push(...c.rest.map((l) => `    ${l}`));
    }
    const title = `${hostList(g.hosts)}: ${plural(g.entries.length, 'traffic change')}`;
    blocks.push({
      section: '#### Traffic changes\n',
      text: collapsible(title, diffBlock(lines), lines.length),
      what: 'traffic',
      count: g.entries.length,
    });
  }
  for (const r of p.resources) {
    const lines = resourceLines(r).map((l) =>
      l.replace(/^(\s*)([+\-~])/, (_, sp: string, sign: string) => `${sign === '~' ? '!' : sign}${sp}`),
    );
    blocks.push({ section: '#### Resource changes\n', text: `\n${diffBlock(lines)}`, what: 'resource', count: 1 });
  }
  if (opts.verbose) {
    for (const h of p.hosts.filter((x) => x.action !== 'no-op')) {
      const lines = hostLines(h).map((l) =>
        l.replace(/^(\s*)([+\-~])/, (_, sp: string, sign: string) => `${sign === '~' ? '!' : sign}${sp}`),
      );
      blocks.push({
        section: '#### Dataplane changes\n',
        text: collapsible(h.host, diffBlock(lines), lines.length),
        what: 'host',
        count: 1,
      });
    }
  }
  const warnings = opts.warnings ?? [];
  if (warnings.length) {
    const body = warnings.map((w) => `- ${escapeHtml(w).replace(/\|/g, '\\|')}`).join('\n');
    blocks.push({
      section: '',
      text: `\n<details><summary>⚠️ ${plural(warnings.length, 'warning')} at the head revision</summary>\n\n${body}\n\n</details>\n`,
      what: 'warning',
      count: warnings.length,
    });
  }

  // Room for the note on what was left out, written last.
  const RESERVE = 600;
  let out = head;
  if (p.summary.traffic.regions === 0 && changed)
    out += '\nNo traffic changes: every packet is decided as before, by the same rule.\n';
  let section = '';
  const left = { traffic: 0, resource: 0, host: 0, warning: 0 };
  for (const b of blocks) {
    const prefix = b.section && b.section !== section ? `\n${b.section}` : '';
    if (Object.values(left).some((n) => n > 0) || out.length + prefix.length + b.text.length + RESERVE > limit) {
      left[b.what] += b.count;
      continue;
    }
    out += prefix + b.text;
    section = b.section || section;
  }
  if (Object.values(left).some((n) => n > 0)) {
    const what = [
      left.traffic ? plural(left.traffic, 'traffic change') : '',
      left.resource ? plural(left.resource, 'resource change') : '',
      left.host ? `dataplane detail of ${plural(left.host, 'host')}` : '',
      left.warning ? plural(left.warning, 'warning') : '',
    ].filter(Boolean);
    out +=
      `\n---\n✂️ Left out to fit GitHub's ${limit.toLocaleString('en-US')}-character comment limit: ${what.join(', ')}. ` +
      'Run `notrack plan --format json` for everything, or keep `notrack plan --format text` as a CI artefact.\n';
  }
  return out;
}

// ---- JSON --------------------------------------------------------------------------------------------------------------

export function renderPlanJson(subject: PlanSubject, p: PlanReport, warnings: string[] = []): string {
  return (
    JSON.stringify(
      {
        formatVersion: PLAN_JSON_VERSION,
        kind: 'notrack.plan',
        repo: subject.repo,
        base: subject.base,
        head: subject.head,
        summary: p.summary,
        trafficChanges: p.traffic,
        resourceChanges: p.resources,
        hosts: p.hosts,
        warnings,
      },
      null,
      2,
    ) + '\n'
  );
}

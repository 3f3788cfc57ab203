// Renders `notrack explain`: the verdict and the rules that decide and log the packet, with where they are written,
// and beside it the kernel's verdict and where the two differ; text and versioned JSON.
import type { Explanation, KernelComparison, KernelVerdict, LocatedRule } from '../compile/explain.js';
import type { Failsafe, RuleRef, Verdict } from '../compile/desired-state.js';
import type { Direction } from '../model/resources.js';
import { failsafeText } from '../compile/policy-test.js';

/** Version of the JSON output (kind `notrack.explain`). */
const EXPLAIN_JSON_VERSION = 1;

function formatRuleRef(ref: RuleRef): string {
  return `${ref.policy} ${ref.direction}[${ref.index}]`;
}

function formatLocated(r: LocatedRule): string {
  return `${formatRuleRef(r)} ${r.action}${r.file ? ` (${r.file}:${r.line}:${r.col})` : ''}`;
}

function formatFailsafe(f: Failsafe, direction: Direction = 'ingress'): string {
  return `failsafe ${failsafeText(f, direction)}`;
}

/** One line saying what happens to the packet and why. */
function describeVerdict(v: Verdict, failsafe: Failsafe | null, direction: Direction): string {
  const where = direction === 'ingress' ? 'at XDP' : 'in raw OUTPUT';
  const program =
    direction === 'ingress' ? 'no notrack program on this interface' : 'no notrack egress rule for this family';
  switch (v.reason) {
    case 'failsafe':
      return `pass: ${failsafe ? formatFailsafe(failsafe, direction) : 'failsafe'}: passed tracked`;
    case 'no-match':
      return 'pass: no rule matched: passed to tracked processing';
    case 'no-policy':
      return `pass: ${program}: passed to tracked processing`;
    case 'non-ip':
      return 'pass: not an IP packet: passed untouched';
    case 'rule':
      return v.outcome === 'allow'
        ? `allow: accepted untracked ${where}`
        : v.outcome === 'deny'
          ? `deny: dropped ${where}`
          : 'pass: a Pass rule sent it to tracked processing';
  }
}

const REASON_TEXT: Record<KernelVerdict['reason'], string> = {
  rule: 'a rule',
  'no-match': 'no rule matched',
  failsafe: 'failsafe',
  'non-ip': 'not an IP packet',
  'no-policy': 'no policy program',
  malformed: 'malformed packet',
  unsupported: 'unsupported packet',
  'tail-call-failed': 'a tail call failed',
  unknown: 'no counter said why',
};

function decider(
  reason: KernelVerdict['reason'],
  rule: RuleRef | null,
  counter: number | null,
  failsafe?: Failsafe | null,
  direction: Direction = 'ingress',
): string {
  if (rule) return ` by ${formatRuleRef(rule)}`;
  if (counter !== null) return ` by rule index ${counter}`;
  if (reason === 'failsafe' && failsafe) return `: ${formatFailsafe(failsafe, direction)}`;
  return `: ${REASON_TEXT[reason]}`;
}

function loggedText(refs: (RuleRef | undefined)[], total: number): string {
  if (total === 0) return '';
  const names = refs.map((r) => (r ? formatRuleRef(r) : '?'));
  return `; logged by ${names.join(', ')}${total > names.length ? ` and ${total - names.length} more` : ''}`;
}

/** The reference evaluator's verdict in one line: `allow by db-postgres ingress[0]`, `pass: no rule matched`. */
function referenceSummary(e: Explanation): string {
  const v = e.verdict;
  return `${v.outcome}${decider(v.reason, v.rule, v.counter, e.failsafe, e.direction)}${loggedText(e.logged, e.logged.length)}`;
}

/** The kernel's verdict in one line, with the XDP action and metadata flag, or the iptables target, it is read from. */
function kernelSummary(k: KernelVerdict, counters: readonly RuleRef[]): string {
  const flag = k.untrackedFlag ? ', untracked flag set' : k.actionName === 'XDP_PASS' ? ', no flag' : '';
  const logged = loggedText(
    k.logged.map((c) => counters[c]),
    k.logCount,
  );
  return `${k.outcome} (${k.actionName}${flag})${decider(k.reason, k.rule, k.counter)}${logged}`;
}

/** Both verdicts side by side; `counters` names the rules the kernel's indexes number. */
export function renderKernelText(e: Explanation, k: KernelComparison, counters: readonly RuleRef[]): string {
  const lines = [`reference: ${referenceSummary(e)}`, `kernel:    ${kernelSummary(k, counters)}`];
  if (k.agree) lines.push('agree');
  else {
    lines.push('DISAGREE: the kernel and the reference evaluator differ; this is a bug in notrack, please report it:');
    for (const d of k.differences) lines.push(`  ${d}`);
  }
  return lines.join('\n') + '\n';
}

export function renderExplanationText(e: Explanation): string {
  const via =
    e.appliedInterface !== e.interface ? `, under the "*" HostEndpoint ${e.endpoint}` : ` (HostEndpoint ${e.endpoint})`;
  const way = e.direction === 'ingress' ? `arriving on ${e.interface}` : `leaving by ${e.interface}`;
  const lines = [
    `host ${e.host}, ${way}${via}: ${e.packet.text}`,
    `verdict: ${describeVerdict(e.verdict, e.failsafe, e.direction)}`,
  ];
  if (e.decidedBy) lines.push(`decided by: ${formatLocated(e.decidedBy)}`);
  for (const l of e.logged) lines.push(`logged by: ${formatLocated(l)}`);
  return lines.join('\n') + '\n';
}

/** What the explanation was computed from, for the JSON output. */
interface ExplainSubject {
  repo: string;
  ref: string | null;
  commit: string | null;
  path: string;
}

export function renderExplanationJson(
  subject: ExplainSubject,
  e: Explanation,
  kernel: KernelComparison | undefined,
): string {
  return (
    JSON.stringify(
      {
        formatVersion: EXPLAIN_JSON_VERSION,
        kind: 'notrack.explain',
        source: subject,
        ...e,
        ...(kernel ? { kernel } : {}),
      },
      null,
      2,
    ) + '\n'
  );
}

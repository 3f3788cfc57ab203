// `notrack drift`: compare this host with what notrack applied (drift) and with the policy's revision (pending).
import { HostReconciler, fetchDesired } from '../reconcile/host-reconciler.js';
import { readAppliedState, readRecord } from '../reconcile/applied-record.js';
import { planHost } from '../report/plan.js';
import {
  driftInSync,
  renderDriftJson,
  renderDriftMarkdown,
  renderDriftText,
  type DriftReport,
} from '../report/drift.js';
import { NotrackError } from '../errors.js';
import { RECONCILE_REASONS } from '../agent/reconciler.js';
import { SOURCE_HELP, SOURCE_OPTIONS, oneOf, parseCommandArgs } from './args.js';
import { HOST_HELP, HOST_OPTIONS, hostSettings } from './host-options.js';
import { sourceOptions } from './read-policy.js';

const DRIFT_HELP = `Usage: notrack drift [--repo URL|PATH] [--ref REF] [--path DIR] [--host NAME] [--bpffs DIR] [--state-dir DIR]

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

export async function driftCommand(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(argv, {
    ...SOURCE_OPTIONS,
    ...HOST_OPTIONS,
    format: { type: 'string' },
    offline: { type: 'boolean' },
  });
  if (values.help) {
    process.stdout.write(DRIFT_HELP);
    return 0;
  }
  const format = oneOf('format', values.format, ['text', 'json', 'markdown'] as const, 'text');
  const host = hostSettings(values);
  const record = readRecord(host.stateDir);
  const applied = readAppliedState(host.stateDir);
  const drift = new HostReconciler({ source: sourceOptions(values), ...host }).drift() ?? [];
  const report: DriftReport = {
    host: host.host,
    drift,
    pending: null,
    head: null,
    applied: record?.desiredHash
      ? { commit: record.revision.commit, ref: record.revision.ref, appliedAt: record.appliedAt }
      : null,
  };
  if (!values.offline) {
    const desired = await fetchDesired({ source: sourceOptions(values), host: host.host });
    if (!desired.ok)
      throw new NotrackError(
        `drift-${RECONCILE_REASONS[desired.reason].stage}`,
        `cannot tell what is pending: ${desired.message}`,
      );
    report.head = { ref: desired.snapshot.ref, commit: desired.snapshot.commit };
    report.pending = planHost(host.host, applied, desired.state);
  }
  const render = { text: renderDriftText, json: renderDriftJson, markdown: renderDriftMarkdown }[format];
  process.stdout.write(render(report));
  return driftInSync(report) ? 0 : 2;
}

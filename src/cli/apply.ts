// `notrack apply`: converge this host once to the policy at a revision, repairing drift on the way.
import { HostReconciler } from '../reconcile/host-reconciler.js';
import { CONFIRMING_NOTE } from '../reconcile/switch-confirmation.js';
import { SOURCE_HELP, SOURCE_OPTIONS, oneOf, parseCommandArgs } from './args.js';
import { HOST_HELP, HOST_OPTIONS, hostSettings } from './host-options.js';
import { sourceOptions } from './read-policy.js';
import { parseDuration } from '../agent/duration.js';
import { CONFIRM_HELP, CONFIRM_OPTIONS, confirmSettings } from './confirm-options.js';
import type { ConfirmOutcome, ReconcileOutcome } from '../agent/reconciler.js';

const APPLY_HELP = `Usage: notrack apply [--repo URL|PATH] [--ref REF] [--path DIR] [--host NAME] [--bpffs DIR] [--state-dir DIR]

Fetches the policy, validates and compiles it for this host, and converges the host: per interface a new program
generation is built beside the running one and switched in atomically; iptables changes go in one restore per table;
ipsets are filled under a temporary name and swapped. A second run changes nothing. Whatever drifted is repaired.
A switch to a new commit is reported at once, then confirmed: the Git remote and the NotrackConfiguration probes that
passed before it must pass again within --confirm-timeout, or the host is rolled back to what it ran before. A commit
that would cut established TCP sessions on non-failsafe ports is refused unless --allow-disruption.
Exit status: 0 converged (and confirmed), 1 error (invalid policy, fetch or apply failure, refused, or rolled back:
the host keeps or is put back on what it ran), 64 bad usage.

Options:
${SOURCE_HELP}
${HOST_HELP}
  --allow-rewind      apply a head that does not descend from the applied commit (refused by default)
${CONFIRM_HELP}
  --lock-timeout DURATION  how long to wait for another notrack changing this host (default 60s; 0 fails at once)
  --format FORMAT     text (default) or json
  -h, --help          show this help
`;

export async function applyCommand(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(argv, {
    ...SOURCE_OPTIONS,
    ...HOST_OPTIONS,
    format: { type: 'string' },
    'lock-timeout': { type: 'string' },
    'allow-rewind': { type: 'boolean' },
    ...CONFIRM_OPTIONS,
  });
  if (values.help) {
    process.stdout.write(APPLY_HELP);
    return 0;
  }
  const format = oneOf('format', values.format, ['text', 'json'] as const, 'text');
  const host = hostSettings(values);
  const reconciler = new HostReconciler({
    source: sourceOptions(values),
    ...host,
    ...(values['allow-rewind'] ? { allowRewind: true } : {}),
    ...confirmSettings(values),
    ...(values['lock-timeout'] !== undefined
      ? { lockWaitMs: parseDuration(values['lock-timeout'], 'lock-timeout') }
      : {}),
    ...(format === 'text' ? { onStep: (line: string) => process.stdout.write(`  ${line}\n`) } : {}),
  });
  if (format === 'text') process.stdout.write(`applying to host ${host.host}\n`);
  const { outcome, result, warnings } = await reconciler.apply(true);
  if (format === 'text') reportOutcome(outcome, warnings);
  const confirmation = outcome.confirming ? await reconciler.confirm() : null;
  if (format === 'text' && confirmation) reportConfirmation(confirmation);
  const final = confirmation?.outcome ?? outcome;
  if (format === 'json') {
    process.stdout.write(
      JSON.stringify(
        {
          formatVersion: 1,
          kind: 'notrack.apply',
          host: host.host,
          outcome: final,
          confirmation,
          changes: result?.changes ?? [],
          missingInterfaces: result?.missingInterfaces ?? [],
          failed: (result?.failed ?? []).map((f) => ({ object: f.object, message: f.error.message })),
          warnings,
        },
        null,
        2,
      ) + '\n',
    );
  }
  return final.status === 'Ready' && confirmation?.status !== 'RollbackFailed' ? 0 : 1;
}

function reportOutcome(outcome: ReconcileOutcome, warnings: string[]): void {
  for (const w of warnings) process.stderr.write(`${w}\n`);
  const gen = outcome.appliedRevision ? `, generation ${outcome.appliedRevision.generation}` : '';
  // The generation belongs to what was applied, before the confirmation note the switch adds to the message.
  const at = outcome.confirming ? outcome.message.indexOf(CONFIRMING_NOTE) : -1;
  const ready =
    at < 0 ? `${outcome.message}${gen}` : `${outcome.message.slice(0, at)}${gen}${outcome.message.slice(at)}`;
  const line = outcome.status === 'Ready' ? ready : `${outcome.reason}: ${outcome.message}`;
  (outcome.status === 'Ready' ? process.stdout : process.stderr).write(`${line} (${outcome.durationMs} ms)\n`);
}

function reportConfirmation(c: ConfirmOutcome): void {
  for (const p of c.probes)
    process.stdout.write(
      `  probe ${p.probe}: before ${p.before ? 'passed' : `failed (${p.error}), not counted`}` +
        (p.after === null ? '' : `, after ${p.after ? 'passed' : `failed (${p.error})`}`) +
        '\n',
    );
  if (c.status === 'Confirmed') process.stdout.write(`${c.message} (${c.durationMs} ms)\n`);
  else process.stderr.write(`${c.status}: ${c.message}\n`);
}

// `notrack apply`: converge this host once to the policy at a revision, repairing drift on the way.
import { HostReconciler } from '../reconcile/host-reconciler.js';
import { SOURCE_HELP, SOURCE_OPTIONS, oneOf, parseCommandArgs } from './args.js';
import { HOST_HELP, HOST_OPTIONS, hostSettings } from './host-options.js';
import { sourceOptions } from './read-policy.js';
import { parseDuration } from '../agent/duration.js';

const APPLY_HELP = `Usage: notrack apply [--repo URL|PATH] [--ref REF] [--path DIR] [--host NAME] [--bpffs DIR] [--state-dir DIR]

Fetches the policy, validates and compiles it for this host, and converges the host: per interface a new program
generation is built beside the running one and switched in atomically; iptables changes go in one restore per table;
ipsets are filled under a temporary name and swapped. A second run changes nothing. Whatever drifted is repaired.
Exit status: 0 converged, 1 error (invalid policy, fetch or apply failure: the host keeps what it ran), 64 bad usage.

Options:
${SOURCE_HELP}
${HOST_HELP}
  --allow-rewind      apply a head that does not descend from the applied commit (refused by default)
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
    ...(values['lock-timeout'] !== undefined
      ? { lockWaitMs: parseDuration(values['lock-timeout'], 'lock-timeout') }
      : {}),
    ...(format === 'text' ? { onStep: (line: string) => process.stdout.write(`  ${line}\n`) } : {}),
  });
  if (format === 'text') process.stdout.write(`applying to host ${host.host}\n`);
  const { outcome, result, warnings } = await reconciler.apply(true);
  if (format === 'json') {
    process.stdout.write(
      JSON.stringify(
        {
          formatVersion: 1,
          kind: 'notrack.apply',
          host: host.host,
          outcome,
          changes: result?.changes ?? [],
          missingInterfaces: result?.missingInterfaces ?? [],
          failed: (result?.failed ?? []).map((f) => ({ object: f.object, message: f.error.message })),
          warnings,
        },
        null,
        2,
      ) + '\n',
    );
  } else {
    for (const w of warnings) process.stderr.write(`${w}\n`);
    const gen = outcome.appliedRevision ? `, generation ${outcome.appliedRevision.generation}` : '';
    const line = outcome.status === 'Ready' ? `${outcome.message}${gen}` : `${outcome.reason}: ${outcome.message}`;
    (outcome.status === 'Ready' ? process.stdout : process.stderr).write(`${line} (${outcome.durationMs} ms)\n`);
  }
  return outcome.status === 'Ready' ? 0 : 1;
}

// `notrack restore`: the last applied state back onto this host from the state folder, without Git or network.
import { restoreHost } from '../reconcile/host-restore.js';
import { withHostLock } from '../reconcile/host-lock.js';
import { parseCommandArgs } from './args.js';
import { PLACE_HELP, PLACE_OPTIONS, hostSettings } from './host-options.js';

const RESTORE_HELP = `Usage: notrack restore [--bpffs DIR] [--state-dir DIR]

Re-applies the last applied policy from the state folder: XDP and TC on every expected interface that exists,
iptables chains and ipsets. It needs no network and no Git: the systemd unit notrack-restore.service runs it at
boot before the network comes up (Before=network-pre.target), so a host never waits for Git to be protected.
What already runs as applied is kept; whatever drifted is rebuilt.
Exit status: 0 restored, 1 nothing to restore or a part failed (the rest was restored), 64 bad usage.

Options:
${PLACE_HELP}
  -h, --help          show this help
`;

export async function restoreCommand(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(argv, PLACE_OPTIONS);
  if (values.help) {
    process.stdout.write(RESTORE_HELP);
    return 0;
  }
  const place = hostSettings(values);
  const t0 = Date.now();
  const result = await withHostLock(place.stateDir, { waitMs: 60_000, command: 'restore' }, () =>
    restoreHost({
      bpffs: place.bpffs,
      stateDir: place.stateDir,
      repair: true,
      onStep: (line) => process.stdout.write(`  ${line}\n`),
    }),
  );
  const commit = result.revision.commit ? result.revision.commit.slice(0, 12) : 'the applied files';
  process.stdout.write(
    `restored ${commit}: ${result.changes.length} change${result.changes.length === 1 ? '' : 's'}` +
      `${result.missingInterfaces.length ? ` (interfaces not on this host: ${result.missingInterfaces.join(', ')})` : ''}` +
      ` (${Date.now() - t0} ms)\n`,
  );
  return 0;
}

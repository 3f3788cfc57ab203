// `notrack remove`: detaches and deletes everything notrack made on this host (links, pins, chains, ipsets, record).
import { removeHost } from '../reconcile/host-remove.js';
import { withHostLock } from '../reconcile/host-lock.js';
import { parseCommandArgs } from './args.js';
import { PLACE_HELP, PLACE_OPTIONS, hostSettings } from './host-options.js';

const REMOVE_HELP = `Usage: notrack remove [--bpffs DIR] [--state-dir DIR]

Takes notrack off this host: detaches its XDP and TC programs from every interface and removes their pins, deletes
every NOTRACK- chain and its jump from the built-in chains (IPv4 and IPv6), destroys every notrack- ipset and
removes the record in the state folder. Programs, rules and sets that others made are left alone. Stop the agent
first (systemctl stop notrack-agent), or it applies the policy again at its next reconcile.
Exit status: 0 removed (also when nothing was there), 1 a part could not be removed, 64 bad usage.

Options:
${PLACE_HELP}
  -h, --help          show this help
`;

export async function removeCommand(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(argv, PLACE_OPTIONS);
  if (values.help) {
    process.stdout.write(REMOVE_HELP);
    return 0;
  }
  const place = hostSettings(values);
  const r = await withHostLock(place.stateDir, { waitMs: 60_000, command: 'remove' }, () =>
    removeHost({ bpffs: place.bpffs, stateDir: place.stateDir, onStep: (line) => process.stdout.write(`  ${line}\n`) }),
  );
  const others = r.interfaces.filter((i) => i.otherXdpPrograms.length);
  for (const i of others)
    process.stderr.write(`${i.iface}: XDP programs of others stay attached (ids ${i.otherXdpPrograms.join(', ')})\n`);
  process.stdout.write(
    `removed notrack from this host: ${r.interfaces.length} interface(s), ${r.chains} chain(s), ${r.ipsets.length} ipset(s)\n`,
  );
  return 0;
}

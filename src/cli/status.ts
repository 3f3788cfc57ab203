// `notrack status`: what this host runs (commit, generations, XDP mode) and its counters, per interface and rule.
import { hostStatus } from '../reconcile/host-status.js';
import { renderStatusJson, renderStatusTable } from '../report/status.js';
import { oneOf, parseCommandArgs } from './args.js';
import { PLACE_HELP, PLACE_OPTIONS, hostSettings } from './host-options.js';

const STATUS_HELP = `Usage: notrack status [--bpffs DIR] [--state-dir DIR] [--format table|json]

Shows the applied commit and generation, every interface with its XDP mode and TC hook, the packet counters by
outcome (accepted untracked, dropped, failsafe, passed ...) and the packets and bytes of every rule.
Exit status: 0, or 1 when nothing was applied on this host.

Options:
${PLACE_HELP}
  --format FORMAT     table (default) or json
  -h, --help          show this help
`;

export async function statusCommand(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(argv, { ...PLACE_OPTIONS, format: { type: 'string' } });
  if (values.help) {
    process.stdout.write(STATUS_HELP);
    return 0;
  }
  const format = oneOf('format', values.format, ['table', 'json'] as const, 'table');
  const status = hostStatus(hostSettings(values));
  process.stdout.write(format === 'json' ? renderStatusJson(status) : renderStatusTable(status));
  return 0;
}

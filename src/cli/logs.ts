// `notrack logs`: the events of Log rules, as the XDP programs of this host wrote them (text or JSON lines).
import { readAppliedState } from '../reconcile/applied-record.js';
import { hostInterfaces, plannedInterfaces } from '../reconcile/host-dataplane.js';
import { NothingAppliedError } from '../reconcile/host-reconciler.js';
import { LogEventReader, type NamedLogEvent } from '../dataplane/xdp/log-events.js';
import { logJson, logLine } from '../report/logs.js';
import { oneOf, parseCommandArgs } from './args.js';
import { PLACE_HELP, PLACE_OPTIONS, hostSettings } from './host-options.js';

const LOGS_HELP = `Usage: notrack logs [--bpffs DIR] [--state-dir DIR] [--follow] [--format text|json]

Prints the packets that matched Log rules on this host's interfaces: when, where, the packet, the Log rule and
the rule that then decided the packet. Without --follow, prints the events waiting in the kernel's ring and exits
(each event is printed once: reading takes it out of the ring). Events are rate-limited per CPU by the
configuration's logRate and logBurst; the rule counters of \`notrack status\` count every match.
Exit status: 0, or 1 when nothing was applied on this host.

Options:
${PLACE_HELP}
  -f, --follow        keep printing new events until interrupted (SIGINT or SIGTERM)
  --format FORMAT     text (default) or json (one object per line)
  -h, --help          show this help
`;

/** How long a follow waits between looks at the rings: short enough to feel live, long enough to cost nothing. */
const FOLLOW_POLL_MS = 100;

export async function logsCommand(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(argv, {
    ...PLACE_OPTIONS,
    follow: { type: 'boolean', short: 'f' },
    format: { type: 'string' },
  });
  if (values.help) {
    process.stdout.write(LOGS_HELP);
    return 0;
  }
  const format = oneOf('format', values.format, ['text', 'json'] as const, 'text');
  const host = hostSettings(values);
  const applied = readAppliedState(host.stateDir);
  if (!applied) throw new NothingAppliedError(host.stateDir);

  const print = (e: NamedLogEvent) => {
    process.stdout.write(`${format === 'json' ? JSON.stringify(logJson(e)) : logLine(e)}\n`);
  };
  const reader = LogEventReader.open(
    { pinDir: host.bpffs, interfaces: plannedInterfaces(applied, hostInterfaces()).apply },
    print,
  );
  try {
    for (const s of reader.skipped) process.stderr.write(`notrack logs: ${s.ifname} skipped: ${s.reason}\n`);
    reader.drain();
    if (!values.follow) return 0;
    await new Promise<void>((resolve, reject) => {
      let stopped = false;
      const stop = () => {
        stopped = true;
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      // Poll, then yield to the event loop so the signal handlers and stdout get their turn.
      const tick = () => {
        try {
          if (!stopped) reader.poll(FOLLOW_POLL_MS);
          if (stopped) {
            process.removeListener('SIGINT', stop);
            process.removeListener('SIGTERM', stop);
            reader.drain();
            resolve();
            return;
          }
          if (reader.pollWaits) setImmediate(tick);
          else setTimeout(tick, FOLLOW_POLL_MS);
        } catch (e) {
          process.removeListener('SIGINT', stop);
          process.removeListener('SIGTERM', stop);
          reject(e);
        }
      };
      tick();
    });
    return 0;
  } finally {
    reader.close();
  }
}

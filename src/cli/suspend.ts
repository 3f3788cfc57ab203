// `notrack suspend` and `notrack resume`: stop and restart every change notrack makes on this host (the agent
// keeps running, observing and reporting); the dataplane stays exactly as it is.
import { UsageError } from '../errors.js';
import { resume, suspend, suspensionText } from '../reconcile/suspension.js';
import { parseCommandArgs } from './args.js';
import { PLACE_HELP, PLACE_OPTIONS, hostSettings } from './host-options.js';

const SUSPEND_HELP = `Usage: notrack suspend [--reason TEXT] [--state-dir DIR]

Keeps the dataplane exactly as it is and stops every change notrack makes on this host: the agent's reconciles
(Stalled, reason Suspended), drift repair (drift is still reported), the link watch's attaches and the start-up
restore. /healthz stays 200 (Suspended) unless an interface is unprotected; /status shows it. Undo with resume.
Exit status: 0, 64 bad usage.

Options:
  --reason TEXT       why, shown in logs and /status
${PLACE_HELP}
  -h, --help          show this help
`;

const RESUME_HELP = `Usage: notrack resume [--state-dir DIR]

Ends a suspension: the agent's next reconcile converges the host again (send SIGHUP to do it now).
Exit status: 0, 64 bad usage.

Options:
${PLACE_HELP}
  -h, --help          show this help
`;

export async function suspendCommand(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(argv, { ...PLACE_OPTIONS, reason: { type: 'string' } });
  if (values.help) {
    process.stdout.write(SUSPEND_HELP);
    return 0;
  }
  if (values.reason !== undefined && values.reason.length > 500)
    throw new UsageError('--reason is at most 500 characters');
  const s = suspend(hostSettings(values).stateDir, values.reason ?? '');
  process.stdout.write(`${suspensionText(s)}\n`);
  return 0;
}

export async function resumeCommand(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(argv, PLACE_OPTIONS);
  if (values.help) {
    process.stdout.write(RESUME_HELP);
    return 0;
  }
  const was = resume(hostSettings(values).stateDir);
  process.stdout.write(
    was
      ? `resumed: notrack changes this host again (suspended since ${was.since})\n`
      : 'notrack was not suspended here\n',
  );
  return 0;
}

// `notrack demo`: the whole GitOps loop against policies-example, in network namespaces it creates and removes.
import { runDemo } from '../demo/run-demo.js';
import { parseCommandArgs } from './args.js';

const DEMO_HELP = `Usage: notrack demo [--policies DIR]

Runs the whole loop on this machine, inside network namespaces it creates (nothing in the machine's own network
namespace): one namespace per host of the policy folder, a client and a Git server; serves the policies over Git;
runs notrack apply on every host; sends allowed, denied, untracked and tracked traffic; tampers with a host and
shows drift catching it and apply repairing it; then removes everything (also on Ctrl-C or failure).
Needs root, iproute2, git, socat, conntrack, iptables and ping. See docs/demo.md.
Exit status: 0 every step behaved as expected, 1 otherwise (the failing step is named), 130 interrupted.

Options:
  --policies DIR      the policy folder to use (default: the policies-example folder of this package)
  -h, --help          show this help
`;

export async function demoCommand(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(argv, { policies: { type: 'string' } });
  if (values.help) {
    process.stdout.write(DEMO_HELP);
    return 0;
  }
  const abort = new AbortController();
  // Kept for the whole run: a second Ctrl-C must not kill the process halfway through removing the lab.
  const interrupt = (): void => {
    process.stdout.write(
      abort.signal.aborted ? '\nstill removing the lab, one moment…\n' : '\ninterrupted: removing the lab…\n',
    );
    abort.abort();
  };
  process.on('SIGINT', interrupt);
  process.on('SIGTERM', interrupt);
  try {
    const result = await runDemo({
      ...(values.policies !== undefined ? { policyFolder: values.policies } : {}),
      signal: abort.signal,
    });
    if (result.interrupted) return 130;
    return result.ok ? 0 : 1;
  } finally {
    process.off('SIGINT', interrupt);
    process.off('SIGTERM', interrupt);
  }
}

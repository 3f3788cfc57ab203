// `notrack agent`: the long-running reconciler of one host (the runtime is src/agent/, the reconciler src/reconcile/).
import { runAgent } from '../agent/index.js';
import { UsageError } from '../errors.js';
import { HostReconciler } from '../reconcile/host-reconciler.js';
import { AGENT_ARGS, agentHelp, agentOptionsFromArgs } from './agent-flags.js';
import { SOURCE_HELP, SOURCE_OPTIONS, parseCommandArgs } from './args.js';
import { HOST_HELP, HOST_OPTIONS, hostSettings } from './host-options.js';
import { sourceOptions } from './read-policy.js';
import { buildInfo } from './version.js';
import { CONFIRM_HELP, CONFIRM_OPTIONS, confirmSettings } from './confirm-options.js';

export async function agentCommand(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(argv, {
    ...SOURCE_OPTIONS,
    ...HOST_OPTIONS,
    ...AGENT_ARGS,
    'allow-rewind': { type: 'boolean' },
    ...CONFIRM_OPTIONS,
  });
  if (values.help) {
    process.stdout.write(
      agentHelp(
        `${SOURCE_HELP}\n${HOST_HELP}\n  --allow-rewind      apply a head that does not descend from the applied commit\n${CONFIRM_HELP}`,
      ),
    );
    return 0;
  }
  // Without --repo the source stage reads the files under the current directory: a service started from / would
  // try to read every YAML file on the machine as policy. The agent follows a repository, so it must name one.
  if (values.repo === undefined || values.repo === '')
    throw new UsageError(
      'the agent needs --repo: the policy repository to follow (an http(s) URL, or a local Git repository path)',
    );
  const options = agentOptionsFromArgs(values);
  const reconciler = new HostReconciler({
    source: sourceOptions(values),
    ...hostSettings(values),
    protectMode: options.driftMode,
    ...(values['allow-rewind'] ? { allowRewind: true } : {}),
    ...confirmSettings(values),
  });
  const build = buildInfo();
  const handle = await runAgent(options, reconciler, {
    build: { version: build.version, commit: build.commit ?? 'unknown' },
  });
  return handle.done;
}

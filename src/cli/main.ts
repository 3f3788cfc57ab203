// The notrack CLI: dispatches to one file per command and maps error codes to exit codes in one place.
import { NotrackError, UsageError } from '../errors.js';
import { didYouMean } from '../model/suggest.js';

// Each command's module is loaded when it runs: loading every command's modules (compile, dataplane, source, the
// schema validator) took 0.7 s of every start, more than an apply that finds nothing to change may take in all.
type Run = (argv: string[]) => Promise<number>;
const validateCommand: Run = (a) => import('./validate.js').then((m) => m.validateCommand(a));
const explainCommand: Run = (a) => import('./explain.js').then((m) => m.explainCommand(a));
const testCommand: Run = (a) => import('./test-policies.js').then((m) => m.testCommand(a));
const planCommand: Run = (a) => import('./plan.js').then((m) => m.planCommand(a));
const applyCommand: Run = (a) => import('./apply.js').then((m) => m.applyCommand(a));
const driftCommand: Run = (a) => import('./drift.js').then((m) => m.driftCommand(a));
const statusCommand: Run = (a) => import('./status.js').then((m) => m.statusCommand(a));
const logsCommand: Run = (a) => import('./logs.js').then((m) => m.logsCommand(a));
const agentCommand: Run = (a) => import('./agent.js').then((m) => m.agentCommand(a));
const restoreCommand: Run = (a) => import('./restore.js').then((m) => m.restoreCommand(a));
const removeCommand: Run = (a) => import('./remove.js').then((m) => m.removeCommand(a));
const suspendCommand: Run = (a) => import('./suspend.js').then((m) => m.suspendCommand(a));
const resumeCommand: Run = (a) => import('./suspend.js').then((m) => m.resumeCommand(a));
const versionCommand: Run = (a) => import('./version.js').then((m) => m.versionCommand(a));
const fleetCommand: Run = (a) => import('./fleet.js').then((m) => m.fleetCommand(a));
const commentCommand: Run = (a) => import('./comment.js').then((m) => m.commentCommand(a));

type Command = { run: (argv: string[]) => Promise<number>; summary: string };

const COMMANDS: Record<string, Command> = {
  validate: { run: validateCommand, summary: 'check policy files: schema, semantics, lint (text, json, github)' },
  explain: { run: explainCommand, summary: 'which rule decides a packet on an interface of a host, and why' },
  test: { run: testCommand, summary: "run the policy repository's own test cases (PolicyTest files under tests/)" },
  plan: { run: planCommand, summary: 'what would change on every host between two revisions (diff, markdown, json)' },
  apply: {
    run: applyCommand,
    summary: 'converge this host once to the policy (atomic per interface), repairing drift',
  },
  drift: { run: driftCommand, summary: 'what drifted on this host and what a new revision would change (exit 2)' },
  status: { run: statusCommand, summary: 'applied commit and generation, XDP mode per interface, per-rule counters' },
  logs: {
    run: logsCommand,
    summary: 'packets that matched Log rules and what then decided them (--follow to keep watching)',
  },
  agent: { run: agentCommand, summary: 'run on a schedule: fetch, reconcile, check drift; metrics and health' },
  suspend: {
    run: suspendCommand,
    summary: 'keep the dataplane as it is and stop every change notrack makes here, until resume',
  },
  resume: { run: resumeCommand, summary: 'end a suspension: notrack changes this host again' },
  remove: {
    run: removeCommand,
    summary: 'detach and delete everything notrack made on this host: links, pins, chains, ipsets, record',
  },
  restore: {
    run: restoreCommand,
    summary: 'the last applied state back onto this host from the state folder, without network (at boot)',
  },
  comment: {
    run: commentCommand,
    summary: 'post a report as one pull-request comment, edited in place on later runs (GitHub, GitLab)',
  },
  fleet: {
    run: fleetCommand,
    summary: 'every host: commit, lag, protection, drift, condition, from Prometheus (exit 2 unless in sync)',
  },
  demo: {
    run: async (argv) => (await import('./demo.js')).demoCommand(argv),
    summary: 'the whole loop against policies-example, in network namespaces it creates and removes (root)',
  },
  version: { run: versionCommand, summary: 'the package version and the commit it was built from' },
  completion: {
    run: async (argv) => (await import('./completion.js')).completionCommand(argv, COMMANDS),
    summary: 'print a bash or zsh completion script (notrack completion bash)',
  },
};

/** Exit status for usage errors, as sysexits' EX_USAGE. */
const EXIT_USAGE = 64;

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  const list = Object.entries(COMMANDS)
    .map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`)
    .join('\n');
  return `notrack: GitOps for stateless (doNotTrack) host firewalls: XDP, TC, iptables raw and ipsets from Git

Usage: notrack <command> [options]

Commands:
${list}

Run "notrack <command> --help" for a command's options.
`;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage());
    return name === undefined ? EXIT_USAGE : 0;
  }
  if (name === '--version' || name === '-V') {
    process.stdout.write(`${(await import('./version.js')).versionLine()}\n`);
    return 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`notrack: unknown command "${name}"${didYouMean(name, Object.keys(COMMANDS))}\n\n${usage()}`);
    return EXIT_USAGE;
  }
  try {
    return await command.run(rest);
  } catch (e) {
    return reportError(name, e);
  }
}

function reportError(command: string, e: unknown): number {
  if (e instanceof UsageError) {
    process.stderr.write(`notrack ${command}: ${e.message}\nRun "notrack ${command} --help" for usage.\n`);
    return EXIT_USAGE;
  }
  if (e instanceof NotrackError) {
    process.stderr.write(`notrack ${command}: error[${e.code}]: ${e.message}\n`);
    if (process.env['NOTRACK_DEBUG']) process.stderr.write(`${e.stack ?? ''}\n`);
    return 1;
  }
  process.stderr.write(`notrack ${command}: internal error: ${(e as Error)?.stack ?? String(e)}\n`);
  return 1;
}

// One network namespace of the lab: commands and long-running processes run inside it through `ip netns exec`.
import { spawn, type ChildProcess } from 'node:child_process';
import { runCommand, type CommandOptions, type CommandResult } from './command.js';

export class LabNamespace {
  /** The namespace's name under /run/netns. */
  readonly name: string;
  /** What it stands for in the lab: a host's node name, 'client', 'git' or 'lan'. */
  readonly role: string;

  constructor(name: string, role: string) {
    this.name = name;
    this.role = role;
  }

  /** The argv that runs `argv` inside this namespace. */
  wrap(argv: readonly string[]): string[] {
    return ['ip', 'netns', 'exec', this.name, ...argv];
  }

  /** Runs argv inside the namespace and waits for it (rejects on failure unless `allowFail`). */
  exec(argv: readonly string[], opts: CommandOptions = {}): Promise<CommandResult> {
    return runCommand(this.wrap(argv), opts);
  }

  /**
   * Starts argv inside the namespace without waiting. `ip netns exec` execs the program, so the child's pid is
   * the program's own and killing it ends the program.
   */
  start(argv: readonly string[], env?: NodeJS.ProcessEnv): ChildProcess {
    const [cmd, ...args] = this.wrap(argv);
    return spawn(cmd!, args, { stdio: ['pipe', 'pipe', 'pipe'], ...(env !== undefined ? { env } : {}) });
  }
}

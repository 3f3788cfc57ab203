// Starts, stops and restarts the lab's Git server: a child process inside the git namespace, so hosts fetch over
// real HTTP across the bridge, and so this process can keep spawning git without ever serving itself.
import type { ChildProcess } from 'node:child_process';
import { LabError } from './lab-error.js';
import type { LabNamespace } from './lab-namespace.js';
import { gitServerArgv } from './node-entry.js';

export interface GitServiceOptions {
  namespace: LabNamespace;
  /** The folder of bare repositories (`<name>.git`). */
  projectRoot: string;
  /** HOME for git http-backend. */
  home: string;
  address: string;
  port: number;
  /** How long to wait for the server to listen; default 10 s. */
  startTimeoutMs?: number;
}

/** One request the server answered, as it reported it. */
export interface ServedRequest {
  method: string;
  path: string;
  status: number;
}

export class GitService {
  readonly address: string;
  readonly port: number;
  /** Every request answered, across restarts, oldest first. */
  readonly requests: ServedRequest[] = [];
  private readonly opts: GitServiceOptions;
  private child: ChildProcess | null = null;

  constructor(opts: GitServiceOptions) {
    this.opts = opts;
    this.address = opts.address;
    this.port = opts.port;
  }

  /** The clone URL of the bare repository `<name>.git`. */
  url(name: string): string {
    return `http://${this.address}:${this.port}/${name}.git`;
  }

  get running(): boolean {
    return this.child !== null;
  }

  /** The server process's id, while it runs. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Starts the server and resolves once it listens; rejects with what it printed when it does not. */
  async start(): Promise<void> {
    if (this.child) return;
    const argv = [
      ...gitServerArgv(),
      '--root',
      this.opts.projectRoot,
      '--home',
      this.opts.home,
      '--listen',
      `${this.address}:${this.port}`,
    ];
    const child = this.opts.namespace.start(argv);
    this.child = child;
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    const timeoutMs = this.opts.startTimeoutMs ?? 10_000;
    try {
      await new Promise<void>((resolve, reject) => {
        let buffered = '';
        const timer = setTimeout(
          () =>
            reject(
              new LabError(
                'lab-git-server',
                `the Git server did not listen on ${this.address}:${this.port} within ${timeoutMs} ms: ${stderr.trim()}`,
              ),
            ),
          timeoutMs,
        );
        child.stdout!.on('data', (c: Buffer) => {
          buffered += c.toString();
          let nl: number;
          while ((nl = buffered.indexOf('\n')) >= 0) {
            const line = buffered.slice(0, nl);
            buffered = buffered.slice(nl + 1);
            let event: { listening?: string; request?: ServedRequest };
            try {
              event = JSON.parse(line) as typeof event;
            } catch {
              continue;
            }
            if (event.listening !== undefined) {
              clearTimeout(timer);
              resolve();
            }
            if (event.request) this.requests.push(event.request);
          }
        });
        child.on('close', (code, signal) => {
          clearTimeout(timer);
          if (this.child === child) this.child = null;
          reject(
            new LabError(
              'lab-git-server',
              `the Git server in namespace ${this.opts.namespace.name} exited (${signal ?? code}): ${stderr.trim()}`,
            ),
          );
        });
        child.on('error', (e) => reject(new LabError('lab-git-server', `cannot start the Git server: ${e.message}`)));
      });
    } catch (e) {
      await this.stop();
      throw e;
    }
  }

  /** Stops the server (SIGTERM, then SIGKILL after `graceMs`); the repositories stay. */
  async stop(graceMs = 3_000): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = null;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await closed;
    clearTimeout(timer);
  }

  /** Kills the server at once, without waiting (for clean-up on the way out of a crashing process). */
  killNow(): void {
    const child = this.child;
    this.child = null;
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}

// The chaos run's lab: the reconcile lab's two namespaces (db-1 behind eth0, the peer), a state folder on a small
// tmpfs of its own, the Git front and the traffic in the peer, the observer in the host, and the real agent; with
// the handles the faults use (restart the agent, switch Git, re-create the link, fill the disk) and one close().
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, rmSync, writeSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { type CommandResult } from '../../src/demo/command.js';
import { LAB_MARKER } from '../../src/demo/leftovers.js';
import { LabProcess } from '../../src/demo/lab-process.js';
import { run } from '../support/netns.js';
import { ROOT, TSX_LOADER } from '../support/cli.js';
import { FEED, HOST_ADDR4, IFNAME, PEER_ADDR4, ReconcileLab } from '../support/reconcile-fixture.js';
import type { FeedMark, LinkSample } from './figures.js';
import { DENIED_ADDR, FLOOD_PORT, PolicyRemote, chaosPolicy } from './policy-remote.js';

/** Where the Git front listens: the peer's address, so the host reaches Git through eth0 (and its firewall). */
const GIT_PORT = 8080;
const AGENT_PORT = 9830;
/** The state folder's tmpfs: room for the record and the Git cache, small enough to fill at once. */
const STATE_TMPFS = 'size=16m,mode=0700';

export type GitMode = 'pass' | 'down' | 'trickle' | 'garbage';

/** One JSON log line of the agent (the fields the run reads). */
export interface AgentLine {
  t: number;
  msg: string;
  status?: string;
  reason?: string;
  message?: string;
  appliedRevision?: { commit: string | null; generation?: number } | null;
  latencyMs?: number;
}

export interface AgentStatus {
  condition?: { status: string; reason: string; message?: string };
  applied?: { commit: string | null; generation?: number } | null;
  [k: string]: unknown;
}

/**
 * The built notrack command (`bin/notrack.js`, dist/), as a host runs it. Not the sources through tsx as the fault
 * tests do: after a kill -9 the time the agent takes to start is part of the unprotected window being measured.
 */
function notrack(args: string[]): string[] {
  return [process.execPath, path.join(ROOT, 'bin', 'notrack.js'), ...args];
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Calls `fn` with each complete line a child prints on stdout. */
function onLines(child: ChildProcess, fn: (line: string) => void): void {
  let rest = '';
  child.stdout!.on('data', (d: Buffer) => {
    rest += d.toString();
    let nl: number;
    while ((nl = rest.indexOf('\n')) >= 0) {
      fn(rest.slice(0, nl));
      rest = rest.slice(nl + 1);
    }
  });
}

function parse<T>(line: string): T | null {
  try {
    return JSON.parse(line) as T;
  } catch {
    return null;
  }
}

export class ChaosLab {
  readonly lab: ReconcileLab;
  readonly remote: PolicyRemote;
  readonly url = `http://${PEER_ADDR4}:${GIT_PORT}/policy.git`;
  /** Every agent log line so far, of every agent process (they are restarted), with the time it was read. */
  readonly agentLog: AgentLine[] = [];
  readonly samples: LinkSample[] = [];
  readonly floodArrivals: number[] = [];
  readonly feedMarks: FeedMark[] = [];
  /** Policy variants pushed so far (each compiles to a new program). */
  variant = 0;
  private agent: LabProcess | null = null;
  private front: LabProcess | null = null;
  private observer: LabProcess | null = null;
  private traffic: LabProcess | null = null;
  private observerFinal: Promise<Record<string, unknown>> | null = null;
  private trafficFinal: Promise<Record<string, unknown>> | null = null;
  private gitAcks: string[] = [];
  private stateMounted = false;
  private readonly fill: string;

  private constructor(lab: ReconcileLab) {
    this.lab = lab;
    const base = path.dirname(lab.stateDir);
    // The lab's folder is owned (its name carries this pid): the marker lets a later run remove it after a crash.
    writeFileSync(path.join(base, LAB_MARKER), '');
    this.remote = new PolicyRemote(path.join(base, 'git'));
    this.fill = path.join(lab.stateDir, 'chaos-fill');
  }

  /** Builds the lab, pushes the first policy, starts Git, the observer, the traffic and the agent (until Ready). */
  static async create(log: (line: string) => void): Promise<ChaosLab> {
    if (!existsSync(path.join(ROOT, 'dist', 'cli', 'main.js')))
      throw new Error('the chaos run starts the built notrack: run `npm run build` first');
    const chaos = new ChaosLab(ReconcileLab.create());
    try {
      await chaos.setUp(log);
      return chaos;
    } catch (e) {
      await chaos.close();
      throw e;
    }
  }

  private async setUp(log: (line: string) => void): Promise<void> {
    const { lab } = this;
    mkdirSync(lab.stateDir, { recursive: true });
    run(['mount', '-t', 'tmpfs', '-o', STATE_TMPFS, 'tmpfs', lab.stateDir]);
    this.stateMounted = true;
    this.addFloodAddress();
    // The host's own firewall drops what is not established; the flood's port is let in on purpose, so that
    // whatever of the flood gets past XDP reaches the observer's socket and is counted.
    lab.a.exec(['iptables', '-I', 'INPUT', '1', '-p', 'udp', '--dport', String(FLOOD_PORT), '-j', 'ACCEPT']);
    await this.remote.init();
    await this.remote.push(chaosPolicy(this.variant), 'the steady policy');

    this.front = this.node(lab.b.name, 'git-front.ts', [
      '--root',
      this.remote.root,
      '--home',
      this.remote.home,
      '--listen',
      `${PEER_ADDR4}:${GIT_PORT}`,
    ]);
    onLines(this.front.child, (line) => {
      const m = parse<{ mode?: string }>(line);
      if (m?.mode) this.gitAcks.push(m.mode);
    });
    await this.front.waitFor(/"listening"/, { timeoutMs: 60_000 });

    this.observer = this.node(
      lab.a.name,
      'observer.ts',
      ['--ifname', IFNAME, '--feed-port', String(FEED), '--flood-port', String(FLOOD_PORT), '--every-ms', '20'],
      // The observer is the run's instrument: a higher priority keeps its samples on time on a busy machine.
      -10,
    );
    this.observerFinal = new Promise((resolve) =>
      onLines(this.observer!.child, (line) => {
        const e = parse<{ t: number; link?: LinkSample; flood?: number; final?: Record<string, unknown> }>(line);
        if (e?.link) this.samples.push({ ...e.link, t: e.t });
        else if (e?.flood !== undefined) this.floodArrivals.push(e.t);
        else if (e?.final) resolve(e.final);
      }),
    );
    await this.observer.waitFor(/"ready"/, { timeoutMs: 60_000 });

    this.traffic = this.node(lab.b.name, 'traffic-source.ts', [
      '--to',
      HOST_ADDR4,
      '--feed-port',
      String(FEED),
      '--feed-every-ms',
      '5',
      '--flood-port',
      String(FLOOD_PORT),
      '--flood-from',
      DENIED_ADDR,
      '--flood-every-ms',
      '2',
      '--flood-burst',
      '2',
    ]);
    this.trafficFinal = new Promise((resolve) =>
      onLines(this.traffic!.child, (line) => {
        const e = parse<{ t: number; feedSeq?: number; final?: Record<string, unknown> }>(line);
        if (e?.final) resolve(e.final);
        else if (e?.feedSeq !== undefined) this.feedMarks.push({ t: e.t, seq: e.feedSeq });
      }),
    );
    await this.traffic.waitFor(/"ready"/, { timeoutMs: 60_000 });
    log(`lab up: host ${lab.a.name}, peer ${lab.b.name} (Git at ${this.url}), state on a tmpfs at ${lab.stateDir}`);
    await this.startAgent();
    await this.waitForLine((l) => l.msg === 'reconcile finished' && l.status === 'Ready', 120_000, 'the first Ready');
  }

  /**
   * `node --import tsx test/chaos/<file>` inside a namespace, with stdin open (closing it ends the program). Each
   * child leads its own process group, so a Ctrl-C at the terminal reaches the run alone and it ends them in order.
   */
  private node(ns: string, file: string, args: string[], nice = 0): LabProcess {
    const argv = [
      'netns',
      'exec',
      ns,
      'nice',
      '-n',
      String(nice),
      process.execPath,
      '--import',
      TSX_LOADER,
      path.join(ROOT, 'test', 'chaos', file),
      ...args,
    ];
    return new LabProcess(
      this.lab.track(spawn('ip', argv, { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'], detached: true })),
    );
  }

  /**
   * The deny-listed source: an address on the peer's loopback, so it outlives every re-creation of eth0 and the
   * flood reaches a new interface the moment it is up (the host routes to it through eth0's /16).
   */
  private addFloodAddress(): void {
    this.lab.b.exec(['ip', 'addr', 'replace', `${DENIED_ADDR}/32`, 'dev', 'lo']);
  }

  /** Starts the agent as systemd would (after a crash too): short schedules, so a run sees many reconciles. */
  async startAgent(): Promise<void> {
    const agent = new LabProcess(
      this.lab.track(
        spawn(
          'ip',
          [
            'netns',
            'exec',
            this.lab.a.name,
            ...notrack([
              'agent',
              '--repo',
              this.url,
              ...this.lab.hostArgs(),
              '--schedule',
              '5s',
              '--drift-schedule',
              '5s',
              '--jitter',
              '0',
              '--retry-initial',
              '1s',
              '--retry-max',
              '10s',
              '--listen',
              `127.0.0.1:${AGENT_PORT}`,
              '--log-format',
              'json',
            ]),
          ],
          { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], detached: true },
        ),
      ),
    );
    this.agent = agent;
    onLines(agent.child, (line) => {
      const l = parse<AgentLine>(line);
      if (l && typeof l.msg === 'string') this.agentLog.push({ ...l, t: Date.now() });
    });
    await agent.waitFor(/"msg"/, { timeoutMs: 120_000 });
  }

  get agentRunning(): boolean {
    return this.agent?.running ?? false;
  }

  /** kill -9 of the agent; resolves once it is gone. */
  async killAgent(): Promise<void> {
    const agent = this.agent;
    if (!agent?.running) return;
    agent.child.kill('SIGKILL');
    await agent.exited();
  }

  /** SIGHUP: reconcile now (as `systemctl reload`). */
  hup(): void {
    if (this.agent?.running) this.agent.child.kill('SIGHUP');
  }

  /** Waits for an agent log line read after `since` (a time) that `accept` takes; null when `timeoutMs` passes. */
  async waitForLine(accept: (l: AgentLine) => boolean, timeoutMs: number, what: string, since = 0): Promise<AgentLine> {
    const found = await this.lineWithin(accept, timeoutMs, since);
    if (!found) throw new Error(`the agent did not log ${what} within ${timeoutMs} ms`);
    return found;
  }

  async lineWithin(accept: (l: AgentLine) => boolean, timeoutMs: number, since = 0): Promise<AgentLine | null> {
    const until = Date.now() + timeoutMs;
    let from = 0;
    for (;;) {
      for (; from < this.agentLog.length; from++) {
        const l = this.agentLog[from]!;
        if (l.t >= since && accept(l)) return l;
      }
      if (Date.now() > until) return null;
      await sleep(50);
    }
  }

  /** Reconcile outcomes logged since `since`, as "Status/Reason" counts ("Ready/ReconciliationSucceeded ×2"). */
  outcomesSince(since: number): string {
    const counts = new Map<string, number>();
    for (const l of this.agentLog)
      if (l.t >= since && l.msg === 'reconcile finished') {
        const k = `${l.status}/${l.reason}`;
        counts.set(k, (counts.get(k) ?? 0) + 1);
      }
    return [...counts].map(([k, n]) => (n > 1 ? `${k} ×${n}` : k)).join(', ') || 'no reconcile';
  }

  /** GET of the agent's endpoint from inside the host's namespace (where it listens on loopback). */
  async http(pathname: string): Promise<{ status: number; body: string }> {
    const code = `try { const r = await fetch('http://127.0.0.1:${AGENT_PORT}${pathname}', { signal: AbortSignal.timeout(10000) }); process.stdout.write(JSON.stringify({ status: r.status, body: await r.text() })); } catch (e) { process.stdout.write(JSON.stringify({ status: 0, body: String(e) })); }`;
    const r = await this.lab.a.lab.exec([process.execPath, '--input-type=module', '--eval', code], {
      allowFail: true,
      timeoutMs: 30_000,
    });
    return parse<{ status: number; body: string }>(r.stdout) ?? { status: 0, body: r.stderr };
  }

  async status(): Promise<AgentStatus | null> {
    const r = await this.http('/status');
    return r.status === 200 ? parse<AgentStatus>(r.body) : null;
  }

  /** `notrack <command>` inside the host's namespace against this lab (asynchronous: the run keeps reading). */
  cli(command: string, args: string[], repo: string | null = this.url): Promise<CommandResult> {
    const source = repo === null ? [] : ['--repo', repo];
    return this.lab.a.lab.exec(notrack([command, ...source, ...this.lab.hostArgs(), ...args]), {
      allowFail: true,
      timeoutMs: 180_000,
      cwd: ROOT,
    });
  }

  /** Switches the Git front and waits for it to say so. */
  async setGit(mode: GitMode): Promise<void> {
    const seen = this.gitAcks.length;
    this.front!.child.stdin!.write(`${mode}\n`);
    const until = Date.now() + 10_000;
    while (!this.gitAcks.slice(seen).includes(mode)) {
      if (Date.now() > until) throw new Error(`the Git front did not switch to ${mode}`);
      await sleep(20);
    }
  }

  /** Deletes eth0 (both ends), waits `holdMs`, and creates it again (a new interface, addresses, neighbours). */
  async recreateLink(holdMs: number): Promise<void> {
    this.lab.deleteLink();
    await sleep(holdMs);
    this.lab.createLink();
  }

  /** Fills the state folder's tmpfs; returns the bytes written. */
  fillDisk(): number {
    const fd = openSync(this.fill, 'w');
    const chunk = Buffer.alloc(1 << 16, 0x61);
    let written = 0;
    try {
      for (;;) written += writeSync(fd, chunk);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
    } finally {
      closeSync(fd);
    }
    return written;
  }

  freeDisk(): void {
    rmSync(this.fill, { force: true });
  }

  /** Ends the traffic and the observer and returns what each counted. */
  async stopTraffic(): Promise<{ observer: Record<string, unknown>; traffic: Record<string, unknown> }> {
    this.traffic!.child.stdin!.end();
    const traffic = await this.trafficFinal!;
    await sleep(500);
    this.observer!.child.stdin!.end();
    const observer = await this.observerFinal!;
    return { observer, traffic };
  }

  /** Stops every process, unmounts the state tmpfs and removes the namespaces, pins and folders. */
  async close(): Promise<void> {
    try {
      if (this.agent?.running) await this.agent.stop('SIGTERM', 15_000);
      for (const p of [this.front, this.observer, this.traffic]) if (p?.running) await p.stop('SIGTERM', 3_000);
    } finally {
      if (this.stateMounted) run(['umount', this.lab.stateDir], { allowFail: true });
      this.remote.remove();
      this.lab.close();
    }
  }
}

/** Runs `fn` until it returns true, polling every `everyMs`; false when `timeoutMs` passes first. */
export async function poll(fn: () => Promise<boolean> | boolean, timeoutMs: number, everyMs = 250): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (await fn()) return true;
    if (Date.now() > until) return false;
    await sleep(everyMs);
  }
}

export { sleep };

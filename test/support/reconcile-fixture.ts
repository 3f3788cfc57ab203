// A host for the reconciler's kernel tests: namespace `a` runs host db-1 on an interface named eth0 as its
// HostEndpoint says, namespace `b` is an app server on the other end, plus a private bpffs, a state folder and a
// Git repository of policy YAML; the CLI and applyHost run inside `a`, and everything goes in close().
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { NetNs, pinDir, run, uniqueName, type RunResult } from './netns.js';
import { ROOT, TSX_LOADER, cliCommand, type CliResult } from './cli.js';
import { loadResources } from '../../src/model/load-resources.js';
import { compileHost } from '../../src/compile/compile-host.js';
import type { DesiredState } from '../../src/compile/desired-state.js';
import type { CommandRunner } from '../../src/dataplane/iptables/index.js';
import { observeInterface, type InterfaceObservation } from '../../src/dataplane/xdp/index.js';
import { applyHost, type ApplyHostResult } from '../../src/reconcile/apply-host.js';
import { conntrackFlows, receiveTcp, sendTcp, type Family } from './traffic.js';

export const HOST = 'db-1';
export const IFNAME = 'eth0';
/** db-1's address on eth0 and an app server's in 10.0.1.0/24, on one link (so /16 and /48 on both sides). */
export const HOST_ADDR4 = '10.0.2.10';
export const HOST_ADDR6 = 'fd00:0:0:2::10';
export const PEER_ADDR4 = '10.0.1.50';
export const PEER_ADDR6 = 'fd00:0:0:1::50';
export const POSTGRES = 5432;
/** The UDP port the app tier may send to untracked (a metrics feed): what the numbered-datagram tests use. */
export const FEED = 7000;

/** The programs these tests need beside root and BPF (for kernelGate). */
export const RECONCILE_TOOLS = [
  'iptables-restore',
  'ip6tables-restore',
  'ipset',
  'conntrack',
  'socat',
  'ss',
  'bpftool',
  'git',
];

export interface PolicyOptions {
  /** Ingress Deny rules for these UDP ports, ahead of the Allows: each list gives the interface another program. */
  denyUdpPorts?: number[];
  /** Egress destinations of the feed's replies (two or more prefixes make notrack use an ipset). */
  replyNets?: string[];
}

/** db-1's policy repository: its HostEndpoint, postgres and the feed untracked both ways, an egress ipset. */
export function dbPolicy(opts: PolicyOptions = {}): Record<string, string> {
  const deny = (opts.denyUdpPorts ?? [])
    .map(
      (p) => `
    - action: Deny
      protocol: UDP
      destination:
        ports: [${p}]`,
    )
    .join('');
  const replyNets = opts.replyNets ?? ['10.0.1.0/24', '10.0.3.0/24'];
  return {
    'hosts/db-1.yaml': `apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata:
  name: db-1-eth0
  labels:
    role: db
spec:
  node: db-1
  interfaceName: eth0
  expectedIPs: [${HOST_ADDR4}, '${HOST_ADDR6}']
  ports:
    - name: postgres
      protocol: TCP
      port: ${POSTGRES}
`,
    'policies/db.yaml': `apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: db-untracked
spec:
  order: 100
  selector: role == 'db'
  doNotTrack: true
  applyOnForward: true
  types: [Ingress, Egress]
  ingress:${deny}
    - action: Allow
      protocol: TCP
      source:
        nets: [10.0.1.0/24]
      destination:
        ports: [postgres]
    - action: Allow
      protocol: TCP
      source:
        nets: ['fd00:0:0:1::/64']
      destination:
        ports: [postgres]
    - action: Allow
      protocol: UDP
      source:
        nets: [10.0.1.0/24]
      destination:
        ports: [${FEED}]
  egress:
    - action: Allow
      protocol: TCP
      source:
        ports: [postgres]
      destination:
        nets: [10.0.1.0/24]
    - action: Allow
      protocol: TCP
      source:
        ports: [postgres]
      destination:
        nets: ['fd00:0:0:1::/64']
    - action: Allow
      protocol: UDP
      source:
        ports: [${FEED}]
      destination:
        nets: [${replyNets.join(', ')}]
`,
  };
}

/**
 * The host's own firewall, as on a locked-down server: INPUT drops all but established flows. A packet notrack
 * allows gets past it only untracked (XDP allowed, TC marked, raw NOTRACK, notrack's filter chain): if any of
 * those were missing for a moment, the packet would be dropped here.
 */
const HOST_RULES = `*filter
:INPUT DROP [0:0]
-A INPUT -i lo -j ACCEPT
-A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
COMMIT
`;

/** Compiles policy files as the source stage would hand them over (paths relative to the repository). */
export function compileFiles(files: Record<string, string>, host = HOST): DesiredState {
  const loaded = loadResources(
    Object.entries(files).map(([p, text]) => {
      const content = Buffer.from(text);
      return { path: p, content, size: content.length };
    }),
  );
  if (!loaded.valid)
    throw new Error(
      `test policy is invalid: ${JSON.stringify(loaded.diagnostics.filter((d) => d.severity === 'error'))}`,
    );
  return compileHost(loaded.resources, host);
}

/** The notrack commands a lab runs inside its host namespace. */
export type LabCommand = 'apply' | 'drift' | 'status' | 'logs' | 'agent' | 'restore' | 'remove' | 'suspend' | 'resume';

/** eth0 <-> eth0 between `a` and `b`, addresses, up, static neighbours (created inside the namespaces). */
function linkPair(a: NetNs, b: NetNs): void {
  run(['ip', 'link', 'add', 'name', IFNAME, 'netns', a.name, 'type', 'veth', 'peer', 'name', IFNAME, 'netns', b.name]);
  a.exec(['ip', 'addr', 'add', `${HOST_ADDR4}/16`, 'dev', IFNAME]);
  b.exec(['ip', 'addr', 'add', `${PEER_ADDR4}/16`, 'dev', IFNAME]);
  a.exec(['ip', '-6', 'addr', 'add', `${HOST_ADDR6}/48`, 'dev', IFNAME, 'nodad']);
  b.exec(['ip', '-6', 'addr', 'add', `${PEER_ADDR6}/48`, 'dev', IFNAME, 'nodad']);
  for (const ns of [a, b]) ns.exec(['ip', 'link', 'set', IFNAME, 'up']);
  const mac = (ns: NetNs): string => ns.exec(['cat', `/sys/class/net/${IFNAME}/address`]).stdout.trim();
  const aMac = mac(a),
    bMac = mac(b);
  for (const [ns, addr, lladdr] of [
    [a, PEER_ADDR4, bMac],
    [a, PEER_ADDR6, bMac],
    [b, HOST_ADDR4, aMac],
    [b, HOST_ADDR6, aMac],
  ] as const) {
    ns.exec(['ip', 'neigh', 'replace', addr, 'lladdr', lladdr, 'dev', IFNAME, 'nud', 'permanent']);
  }
}

export class ReconcileLab {
  readonly a: NetNs;
  readonly b: NetNs;
  readonly bpffs: string;
  readonly stateDir: string;
  readonly repo: string;
  /** Runs iptables and ipset inside `a`. */
  readonly runner: CommandRunner;
  private readonly pins: { path: string; cleanup: () => void };
  private readonly children = new Set<ChildProcess>();
  private files: Record<string, string> = {};

  private constructor(a: NetNs, b: NetNs, pins: { path: string; cleanup: () => void }, temp: string) {
    this.a = a;
    this.b = b;
    this.pins = pins;
    this.bpffs = path.join(pins.path, 'notrack');
    this.stateDir = path.join(temp, 'state');
    this.repo = path.join(temp, 'policy');
    this.runner = (argv, input) => a.exec(argv, { input, allowFail: true, timeoutMs: 120_000 });
  }

  /** Namespaces joined by eth0 <-> eth0, host firewall in `a`, static neighbours, an empty policy repository. */
  static create(): ReconcileLab {
    const temp = mkdtempSync(path.join(tmpdir(), `${uniqueName('r')}-`));
    let a: NetNs | undefined, b: NetNs | undefined, pins: ReturnType<typeof pinDir> | undefined;
    try {
      a = NetNs.create('a');
      b = NetNs.create('b');
      linkPair(a, b);
      a.exec(['iptables-restore', '--noflush'], { input: HOST_RULES });
      a.exec(['ip6tables-restore', '--noflush'], { input: HOST_RULES });
      pins = pinDir();
      const lab = new ReconcileLab(a, b, pins, temp);
      mkdirSync(lab.repo);
      lab.git('init', '-q', '-b', 'main');
      return lab;
    } catch (e) {
      pins?.cleanup();
      a?.delete();
      b?.delete();
      rmSync(temp, { recursive: true, force: true });
      throw e;
    }
  }

  private git(...args: string[]): string {
    return run([
      'git',
      '-C',
      this.repo,
      '-c',
      'user.name=notrack test',
      '-c',
      'user.email=test@notrack.invalid',
      ...args,
    ]).stdout.trim();
  }

  /** Replaces the repository's files with `files` and commits them; returns the commit id. */
  commit(files: Record<string, string>, message = 'policy'): string {
    for (const old of Object.keys(this.files)) rmSync(path.join(this.repo, old), { force: true });
    for (const [p, text] of Object.entries(files)) {
      mkdirSync(path.dirname(path.join(this.repo, p)), { recursive: true });
      writeFileSync(path.join(this.repo, p), text);
    }
    this.files = { ...files };
    this.git('add', '-A');
    this.git('commit', '-q', '--allow-empty', '-m', message);
    return this.git('rev-parse', 'HEAD');
  }

  /** Deletes eth0 (both ends go with it). */
  deleteLink(): void {
    this.a.exec(['ip', 'link', 'del', IFNAME]);
  }

  /** Creates eth0 <-> eth0 again, as after deleteLink(): a new interface with a new index. */
  createLink(): void {
    linkPair(this.a, this.b);
  }

  /** Whether an XDP program is attached to eth0 in `a` (as `ip link` shows it). */
  xdpAttached(): boolean {
    return /\bxdp|prog\/xdp/.test(this.a.exec(['ip', 'link', 'show', IFNAME], { allowFail: true }).stdout);
  }

  /** GET http://127.0.0.1:<port><path> inside `a` (where the agent listens): status and body. */
  httpGet(port: number, path: string): { status: number; body: string } {
    const code = `const r = await fetch('http://127.0.0.1:${port}${path}'); process.stdout.write(JSON.stringify({ status: r.status, body: await r.text() }));`;
    const r = this.a.exec([process.execPath, '--input-type=module', '--eval', code], { allowFail: true });
    if (r.status !== 0) return { status: 0, body: r.stderr };
    return JSON.parse(r.stdout) as { status: number; body: string };
  }

  /** The options every host command takes, for this lab. */
  hostArgs(): string[] {
    return ['--host', HOST, '--bpffs', this.bpffs, '--state-dir', this.stateDir];
  }

  private cliArgv(command: string, extra: string[]): string[] {
    // status and logs read what was applied here; the others also name the repository and the host.
    const placeOnly = ['status', 'logs', 'restore', 'remove', 'suspend', 'resume'];
    const source = placeOnly.includes(command) ? this.hostArgs().slice(2) : ['--repo', this.repo, ...this.hostArgs()];
    return ['ip', 'netns', 'exec', this.a.name, ...cliCommand([command, ...source, ...extra])];
  }

  /** Runs `notrack <command>` inside `a` against this lab's repository, pins and state, as an operator would. */
  cli(command: LabCommand, ...extra: string[]): CliResult {
    const [cmd, ...args] = this.cliArgv(command, extra);
    const r = spawnSync(cmd!, args, { cwd: ROOT, encoding: 'utf8', timeout: 120_000, maxBuffer: 64 * 1024 * 1024 });
    return { status: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? String(r.error ?? '') };
  }

  /** Starts `notrack <command>` inside `a` without waiting (the node process itself: ip netns exec execs it). */
  spawnCli(command: LabCommand, ...extra: string[]): ChildProcess {
    return this.spawnCliWith([], command, ...extra);
  }

  /** spawnCli behind `prefix`, a program that execs the rest of its argv (e.g. one that joins a cgroup first). */
  spawnCliWith(prefix: string[], command: LabCommand, ...extra: string[]): ChildProcess {
    const [cmd, ...args] = [...prefix, ...this.cliArgv(command, extra)];
    return this.track(spawn(cmd!, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] }));
  }

  /**
   * Runs an ES module body inside `a` in a child process, with `HostReconciler` imported and `opts` bound to this
   * lab's reconciler options; what it writes to stdout comes back. Async reconciler calls run there, never here,
   * so an await can never leave them in the root namespace.
   */
  reconcilerScript(body: string): RunResult {
    const module = pathToFileURL(path.join(ROOT, 'src', 'reconcile', 'host-reconciler.ts')).href;
    const code = `import { HostReconciler } from ${JSON.stringify(module)};
const opts = ${JSON.stringify({ source: { repo: this.repo }, host: HOST, bpffs: this.bpffs, stateDir: this.stateDir })};
${body}`;
    return this.a.exec([process.execPath, '--import', TSX_LOADER, '--input-type=module', '--eval', code], {
      allowFail: true,
      timeoutMs: 120_000,
    });
  }

  /** applyHost in this process, on this thread switched into `a` (applyHost is synchronous). */
  applyInProcess(state: DesiredState, opts: { repair?: boolean } = {}): ApplyHostResult {
    return this.a.enter(() =>
      applyHost({
        state,
        revision: { repo: 'test', ref: null, commit: null },
        bpffs: this.bpffs,
        stateDir: this.stateDir,
        repair: opts.repair ?? false,
        runner: this.runner,
      }),
    );
  }

  observe(): InterfaceObservation {
    return this.a.enter(() => observeInterface({ ifname: IFNAME, pinDir: this.bpffs }));
  }

  /** The generation folders pinned for eth0. */
  pinnedGenerations(): number[] {
    let names: string[];
    try {
      names = readdirSync(path.join(this.bpffs, IFNAME));
    } catch {
      return [];
    }
    return names
      .map((n) => /^gen-(\d+)$/.exec(n))
      .filter((m) => m !== null)
      .map((m) => Number(m![1]))
      .sort((x, y) => x - y);
  }

  /** iptables-save (or ip6tables-save) of `a` without counters, for comparing rule sets. */
  iptablesSave(family: 4 | 6 = 4): string {
    return this.a
      .exec([family === 4 ? 'iptables-save' : 'ip6tables-save'])
      .stdout.split('\n')
      .filter((l) => !l.startsWith('#'))
      .join('\n');
  }

  /** The ipsets of `a`, by name. */
  ipsets(): string[] {
    return this.a
      .exec(['ipset', 'list', '-n'])
      .stdout.split('\n')
      .filter((l) => l !== '')
      .sort();
  }

  /** The applied record as written in the state folder. */
  record(): { revision: { commit: string | null }; interfaces: Record<string, { generation: number }> } {
    return JSON.parse(readFileSync(path.join(this.stateDir, 'applied.json'), 'utf8')) as ReturnType<
      ReconcileLab['record']
    >;
  }

  /** A background child process that close() will kill if it is still running. */
  track(child: ChildProcess): ChildProcess {
    this.children.add(child);
    child.on('close', () => this.children.delete(child));
    return child;
  }

  /** Kills what is still running, removes both namespaces (their iptables, ipsets, links), the bpffs and folders. */
  close(): void {
    for (const c of this.children) c.kill('SIGKILL');
    this.children.clear();
    try {
      this.a.delete();
      this.b.delete();
    } finally {
      this.pins.cleanup();
      rmSync(path.dirname(this.stateDir), { recursive: true, force: true });
    }
  }
}

/** Runs `fn` with a fresh lab and always closes it. */
/** A HostReconciler outcome, as the lab's reconciler scripts print it. */
export interface LabOutcome {
  status: string;
  reason: string;
  message: string;
  changes: number;
  revision: { commit: string | null } | null;
}

/** The pinned path of one of the running generation's policy maps on eth0. */
export function policyMap(lab: ReconcileLab, name: string): string {
  return path.join(lab.bpffs, IFNAME, `gen-${lab.observe().activeGeneration}`, 'policy', name);
}

/**
 * Tampers with the running policy program's IPv4 source table: the slots of 10.0.0.0/8 overwritten with those of
 * 11.0.0.0/8 (under no prefix), so the app subnet no longer matches its rules until apply rebuilds the program.
 */
export function overwriteAppSourceSlots(lab: ReconcileLab): void {
  const src = policyMap(lab, 'ntp4_src');
  const lookup = (first: number): string[] =>
    (
      JSON.parse(
        run(['bpftool', '-j', 'map', 'lookup', 'pinned', src, 'key', String(first), '0', '0', '0']).stdout,
      ) as {
        value: string[];
      }
    ).value.map((b) => b.replace(/^0x/, ''));
  const outside = lookup(11);
  if (lookup(10).join() === outside.join()) throw new Error('the app subnet has no slots of its own to overwrite');
  run(['bpftool', 'map', 'update', 'pinned', src, 'key', '10', '0', '0', '0', 'value', 'hex', ...outside]);
}

export async function withLab<T>(fn: (lab: ReconcileLab) => Promise<T> | T): Promise<T> {
  const lab = ReconcileLab.create();
  try {
    return await fn(lab);
  } finally {
    lab.close();
  }
}

const RECEIVER = `import dgram from 'node:dgram';
const [addr, port] = process.argv.slice(-2);
const s = dgram.createSocket({ type: 'udp4', recvBufferSize: 16 << 20 });
// Counts in constant stack: the highest number is kept as datagrams arrive (a stream can be millions long).
const seen = new Set();
let dup = 0, max = 0;
function report() {
  const missing = [];
  for (let i = 1; i <= max && missing.length < 50; i++) if (!seen.has(i)) missing.push(i);
  process.stdout.write(JSON.stringify({ received: seen.size, max, duplicates: dup, missing }) + '\\n', () => process.exit(0));
}
s.on('message', (m) => {
  const t = m.toString();
  if (t === 'end') return report();
  const n = Number(t);
  if (seen.has(n)) dup++; else seen.add(n);
  if (n > max) max = n;
});
process.on('SIGTERM', report);
s.bind(Number(port), addr, () => process.stdout.write('ready\\n'));
`;

const SENDER = `import dgram from 'node:dgram';
const [addr, port, every, burst] = process.argv.slice(-4);
const s = dgram.createSocket('udp4');
let n = 0, errors = 0, stopping = false;
const timer = setInterval(() => {
  if (stopping) return;
  for (let i = 0; i < Number(burst); i++) {
    n += 1;
    s.send(String(n), Number(port), addr, (e) => { if (e) errors++; });
  }
}, Number(every));
process.stdin.on('data', () => {});
process.stdin.on('end', () => {
  stopping = true;
  clearInterval(timer);
  // The receiver may still be reading the last datagrams: end once, later, and again in case one is lost.
  setTimeout(() => s.send('end', Number(port), addr), 300);
  setTimeout(() => s.send('end', Number(port), addr, () => {
    process.stdout.write(JSON.stringify({ sent: n, errors }) + '\\n', () => process.exit(0));
  }), 600);
});
process.stdout.write('ready\\n');
`;

export interface FeedResult {
  sent: number;
  sendErrors: number;
  received: number;
  duplicates: number;
  /** Numbers that never reached the receiver (the first 50). */
  missing: number[];
  /** Datagrams `a` dropped because the receiver fell behind (its socket buffer was full): not the dataplane's doing. */
  receiverOverflows: number;
}

/** UDP RcvbufErrors of a namespace, from its /proc/net/snmp. */
function udpRcvbufErrors(ns: NetNs): number {
  const lines = ns
    .exec(['cat', '/proc/net/snmp'])
    .stdout.split('\n')
    .filter((l) => l.startsWith('Udp: '));
  const names = lines[0]!.split(/\s+/),
    values = lines[1]!.split(/\s+/);
  return Number(values[names.indexOf('RcvbufErrors')]);
}

export interface Feed {
  /** Ends the sender, then collects what both sides counted. */
  stop(): Promise<FeedResult>;
}

function lineFrom(child: ChildProcess, what: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`${what}: no output within ${timeoutMs} ms (${out})`)), timeoutMs);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const nl = out.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        const line = out.slice(0, nl);
        out = out.slice(nl + 1);
        child.stdout!.removeAllListeners('data');
        resolve(line);
      }
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} ended (${code}) before printing: ${out}`));
    });
  });
}

/**
 * A steady stream of numbered UDP datagrams from `b` to db-1's feed port, `burst` every `everyMs`, counted by a
 * receiver in `a`: stop() tells which numbers never arrived.
 */
export async function startFeed(lab: ReconcileLab, opts: { everyMs?: number; burst?: number } = {}): Promise<Feed> {
  const node = (ns: NetNs, code: string, args: string[]): ChildProcess =>
    lab.track(
      spawn('ip', ['netns', 'exec', ns.name, process.execPath, '--input-type=module', '--eval', code, '--', ...args], {
        stdio: ['pipe', 'pipe', 'inherit'],
      }),
    );
  const overflowsBefore = udpRcvbufErrors(lab.a);
  const receiver = node(lab.a, RECEIVER, [HOST_ADDR4, String(FEED)]);
  if ((await lineFrom(receiver, 'feed receiver', 10_000)) !== 'ready') throw new Error('feed receiver did not start');
  const sender = node(lab.b, SENDER, [HOST_ADDR4, String(FEED), String(opts.everyMs ?? 1), String(opts.burst ?? 1)]);
  if ((await lineFrom(sender, 'feed sender', 10_000)) !== 'ready') throw new Error('feed sender did not start');
  return {
    async stop(): Promise<FeedResult> {
      const received = lineFrom(receiver, 'feed receiver', 10_000);
      const sent = lineFrom(sender, 'feed sender', 10_000);
      sender.stdin!.end();
      const s = JSON.parse(await sent) as { sent: number; errors: number };
      // The receiver reports on the sender's "end"; should both be lost, it reports on SIGTERM instead.
      const nudge = setTimeout(() => receiver.kill('SIGTERM'), 2_000);
      const r = JSON.parse(await received) as { received: number; duplicates: number; missing: number[]; max: number };
      clearTimeout(nudge);
      const missing = [...r.missing];
      for (let i = r.max + 1; i <= s.sent && missing.length < 50; i++) missing.push(i);
      return {
        sent: s.sent,
        sendErrors: s.errors,
        received: r.received,
        duplicates: r.duplicates,
        missing,
        receiverOverflows: udpRcvbufErrors(lab.a) - overflowsBefore,
      };
    },
  };
}

/**
 * One connection from the app server to postgres on db-1: whether its data arrived (the host's INPUT drops
 * anything tracked that is not established, so only the untracked path gets it through) and the conntrack
 * entries of port 5432 afterwards (none when the flow went untracked).
 */
export async function postgresConnection(
  lab: ReconcileLab,
  family: Family = 4,
): Promise<{ arrived: boolean; tracked: string[] }> {
  const to = family === 4 ? HOST_ADDR4 : HOST_ADDR6;
  const text = `hello postgres over IPv${family}`;
  const rx = await receiveTcp(lab.a, family, POSTGRES, 3);
  const connected = sendTcp(lab.b, family, to, POSTGRES, text, 1);
  const got = await rx.received();
  const tracked = conntrackFlows(lab.a, family).filter((l) => l.includes(`port=${POSTGRES}`));
  return { arrived: connected && got === text, tracked };
}

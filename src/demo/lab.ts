// The lab: a small fleet on one machine, all inside network namespaces it creates: one per host of a policy
// repository (interfaces named as its HostEndpoints say), a client to send traffic from, a git namespace running
// the Git server, and a "lan" namespace whose bridge joins them. Nothing is created in the root namespace.
// destroy() removes everything, and the next lab removes what a crashed one left.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadResources } from '../model/load-resources.js';
import type { HostEndpoint } from '../model/resources.js';
import { fetchSource, isYamlFile } from '../source/index.js';
import { runCommand, type CommandOptions, type CommandResult } from './command.js';
import { GitService } from './git-service.js';
import { LabError } from './lab-error.js';
import { LabNamespace } from './lab-namespace.js';
import { LabProcess } from './lab-process.js';
import {
  bpffsMounts,
  killNamespaceProcesses,
  LAB_MARKER,
  LAB_NAME_PREFIX,
  namespaceNames,
  ownedName,
  removeLeftovers,
} from './leftovers.js';
import { notrackArgv } from './node-entry.js';
import { PolicyRepository } from './policy-repository.js';
import {
  BRIDGE,
  GIT_ADDRESS,
  planTopology,
  type PlannedHost,
  type PlannedNamespace,
  type Topology,
} from './topology.js';

/** The programs the lab runs, and what each is for (for the message when one is missing). */
export const LAB_TOOLS: Record<string, string> = {
  ip: 'iproute2: namespaces, veth, bridge, addresses',
  bridge: "iproute2: the bridge's forwarding entries",
  ss: 'iproute2: waiting for listeners',
  git: 'the policy repository',
  '/usr/lib/git-core/git-http-backend': "git's smart HTTP server (package git)",
  socat: 'TCP and UDP test traffic',
  ping: 'ICMP test traffic (iputils-ping)',
  conntrack: 'reading connection-tracking entries (conntrack-tools)',
  iptables: "the hosts' own stateful firewall rule, and the demo tampering with notrack's chains",
  ip6tables: "the hosts' own stateful firewall rule (IPv6)",
  mount: 'the private bpffs',
  timeout: 'bounded listeners (coreutils)',
};

function onPath(tool: string): boolean {
  if (tool.startsWith('/')) return existsSync(tool);
  const dirs = (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(':');
  return [...dirs, '/usr/sbin', '/sbin'].some((d) => d !== '' && existsSync(join(d, tool)));
}

/** What stops a lab from being built here, one line each; empty when it can be. */
export function labPrerequisites(): string[] {
  const problems: string[] = [];
  if (process.platform !== 'linux') problems.push('the lab needs Linux (network namespaces, XDP)');
  if (process.getuid?.() !== 0)
    problems.push('the lab needs root: it creates network namespaces, veth pairs and a bpffs mount (run it with sudo)');
  for (const [tool, why] of Object.entries(LAB_TOOLS)) {
    if (!onPath(tool)) problems.push(`${tool} is not installed (${why})`);
  }
  return problems;
}

export interface LabOptions {
  /** A policy folder whose HostEndpoints say which hosts and interfaces to create. */
  policyFolder: string;
  /** The Git server's port in the git namespace; default 8080. */
  gitPort?: number;
  /** The repository's name (`<name>.git`) and branch; defaults 'policies' and 'main'. */
  repoName?: string;
  branch?: string;
  /** The argv that runs notrack; default: bin/notrack.js when built, the sources under tsx otherwise. */
  notrack?: string[];
  /** Told about each thing the lab makes and removes. */
  log?: (line: string) => void;
}

/** One host of the lab: its namespace, its HostEndpoint interfaces, and the folders notrack uses there. */
export interface LabHost {
  node: string;
  namespace: LabNamespace;
  plan: PlannedHost;
  /** Its own folder on the lab's bpffs (--bpffs). */
  bpffs: string;
  /** Its own state folder (--state-dir). */
  stateDir: string;
  /** Its own Git cache (XDG_CACHE_HOME for notrack), as each real host would have. */
  cacheHome: string;
}

/** The HostEndpoints of a policy folder (tests/ holds test cases, not policy, and is skipped). */
export async function readHostEndpoints(folder: string): Promise<HostEndpoint[]> {
  const root = resolve(folder);
  const snapshot = await fetchSource({ path: root, root, include: (p) => isYamlFile(p) && !p.startsWith('tests/') });
  return loadResources(snapshot.files).resources.hostEndpoints;
}

let serial = 0;

export class Lab {
  /** Every name the lab makes starts with this: `ntd<pid>-<n>`. */
  readonly prefix: string;
  readonly topology: Topology;
  /** The lab's temporary folder (bpffs mount, repositories, state). */
  readonly dir: string;
  /** The private bpffs mount; each host has a folder in it. */
  readonly bpffs: string;
  readonly hosts: LabHost[];
  readonly lan: LabNamespace;
  readonly client: LabNamespace;
  readonly git: LabNamespace;
  /** Set once the repository exists (createLab does it). */
  repository!: PolicyRepository;
  /** Set once the Git server is configured (createLab does it); started by startGitServer(). */
  gitServer!: GitService;
  private readonly notrackCommand: string[];
  private readonly log: (line: string) => void;
  private readonly made: { namespaces: string[]; mounted: boolean; dir: boolean } = {
    namespaces: [],
    mounted: false,
    dir: false,
  };
  private destroyed = false;
  private destroying: Promise<void> | undefined;
  private readonly onExit = (): void => this.teardown();

  constructor(prefix: string, topology: Topology, opts: LabOptions) {
    this.prefix = prefix;
    this.topology = topology;
    this.dir = join(tmpdir(), prefix);
    this.bpffs = join(this.dir, 'bpffs');
    this.lan = new LabNamespace(topology.lan, 'lan');
    this.client = new LabNamespace(topology.client.namespace, 'client');
    this.git = new LabNamespace(topology.git.namespace, 'git');
    this.hosts = topology.hosts.map((plan) => ({
      node: plan.node,
      namespace: new LabNamespace(plan.namespace, plan.node),
      plan,
      bpffs: join(this.bpffs, plan.node),
      stateDir: join(this.dir, 'state', plan.node),
      cacheHome: join(this.dir, 'cache', plan.node),
    }));
    this.notrackCommand = opts.notrack ?? notrackArgv();
    this.log = opts.log ?? (() => {});
  }

  /** The host named `node`; throws when the lab has none. */
  host(node: string): LabHost {
    const h = this.hosts.find((x) => x.node === node);
    if (!h)
      throw new LabError(
        'lab-topology',
        `the lab has no host ${node} (it has ${this.hosts.map((x) => x.node).join(', ')})`,
      );
    return h;
  }

  /** The repository's URL as hosts reach it over the bridge. */
  get repoUrl(): string {
    return this.gitServer.url(this.repository.name);
  }

  /** The options every host-side notrack command takes: repository, ref, host name, pins and state. */
  hostOptions(node: string): string[] {
    const h = this.host(node);
    return [
      '--repo',
      this.repoUrl,
      '--ref',
      this.repository.branch,
      '--host',
      h.node,
      '--bpffs',
      h.bpffs,
      '--state-dir',
      h.stateDir,
    ];
  }

  /** The argv that runs `notrack <args>` inside a host's namespace. */
  notrackArgv(node: string, args: readonly string[]): string[] {
    return this.host(node).namespace.wrap([...this.notrackCommand, ...args]);
  }

  /** The environment notrack runs with on a host: its own Git cache. */
  notrackEnv(node: string): NodeJS.ProcessEnv {
    return { ...process.env, XDG_CACHE_HOME: this.host(node).cacheHome };
  }

  /** Runs `notrack <args>` inside a host's namespace and returns its status and output (never rejects on status). */
  notrack(
    node: string,
    args: readonly string[],
    opts: Omit<CommandOptions, 'allowFail' | 'env'> = {},
  ): Promise<CommandResult> {
    return runCommand(this.notrackArgv(node, args), {
      timeoutMs: 60_000,
      ...opts,
      allowFail: true,
      env: this.notrackEnv(node),
    });
  }

  /**
   * Starts `notrack <args>` inside a host's namespace without waiting for it (an agent). It is stopped by the
   * caller, or at the latest by destroy(), which ends every process in the lab's namespaces.
   */
  startNotrack(node: string, args: readonly string[]): LabProcess {
    const h = this.host(node);
    return new LabProcess(h.namespace.start([...this.notrackCommand, ...args], this.notrackEnv(node)));
  }

  async startGitServer(): Promise<void> {
    this.checkAlive();
    await this.gitServer.start();
  }

  /** Stops the Git server (the repository stays), to play an unreachable repository. */
  async stopGitServer(): Promise<void> {
    await this.gitServer.stop();
  }

  /** Publishes `folder` as the branch's next commit; returns the commit id. */
  async publish(folder: string, message: string): Promise<string> {
    this.checkAlive();
    return this.repository.publishFolder(folder, message);
  }

  /** Pushes one commit that writes (or, with null, deletes) files; returns the commit id. */
  async commit(files: Record<string, string | null>, message: string): Promise<string> {
    this.checkAlive();
    return this.repository.commit(files, message);
  }

  private checkAlive(): void {
    if (this.destroyed) throw new LabError('lab-destroyed', `lab ${this.prefix} was destroyed`);
  }

  /** Creates the namespaces, bridge, veth pairs, addresses, routes, bpffs and repository. Called by createLab. */
  async build(opts: LabOptions): Promise<void> {
    process.once('exit', this.onExit);
    mkdirSync(this.dir, { recursive: false });
    this.made.dir = true;
    writeFileSync(join(this.dir, LAB_MARKER), `notrack demo lab, made by process ${process.pid}\n`);

    await this.addNamespace(this.lan);
    await this.lan.exec(['ip', 'link', 'add', BRIDGE, 'type', 'bridge']);
    await this.lan.exec(['ip', 'link', 'set', BRIDGE, 'up']);
    this.log(`namespace ${this.lan.name}: bridge ${BRIDGE}, one L2 segment for the whole lab`);

    for (const h of this.hosts) {
      await this.addMember(h.namespace, h.plan);
      await this.addTrackedFirewall(h.namespace);
    }
    await this.addMember(this.client, this.topology.client);
    await this.addMember(this.git, this.topology.git);

    mkdirSync(this.bpffs);
    await runCommand(['mount', '-t', 'bpf', 'bpf', this.bpffs]);
    this.made.mounted = true;
    for (const h of this.hosts) {
      mkdirSync(h.bpffs);
      mkdirSync(h.stateDir, { recursive: true });
      mkdirSync(h.cacheHome, { recursive: true });
    }
    this.log(`bpffs: a private instance at ${this.bpffs}, one folder per host`);

    const gitDir = join(this.dir, 'git');
    const home = join(gitDir, 'home');
    mkdirSync(home, { recursive: true });
    this.repository = await PolicyRepository.create({
      projectRoot: join(gitDir, 'repos'),
      workDir: join(gitDir, 'work'),
      home,
      name: opts.repoName ?? 'policies',
      branch: opts.branch ?? 'main',
    });
    this.gitServer = new GitService({
      namespace: this.git,
      projectRoot: join(gitDir, 'repos'),
      home,
      address: GIT_ADDRESS,
      port: opts.gitPort ?? 8080,
    });
  }

  private async addNamespace(ns: LabNamespace): Promise<void> {
    await runCommand(['ip', 'netns', 'add', ns.name]);
    this.made.namespaces.push(ns.name);
    await ns.exec(['ip', 'link', 'set', 'lo', 'up']);
  }

  private async addMember(ns: LabNamespace, plan: PlannedNamespace): Promise<void> {
    await this.addNamespace(ns);
    if (plan.strictArp) {
      // Sysctls of this namespace only (ip netns exec): two interfaces on one segment each answer for their own address.
      await ns.exec(['sysctl', '-q', '-w', 'net.ipv4.conf.all.arp_ignore=1', 'net.ipv4.conf.all.arp_announce=2']);
    }
    for (const i of plan.interfaces) {
      // Created directly inside the two namespaces: the pair never exists in the root namespace.
      await runCommand([
        'ip',
        'link',
        'add',
        'name',
        i.name,
        'netns',
        ns.name,
        'type',
        'veth',
        'peer',
        'name',
        i.bridgePort,
        'netns',
        this.lan.name,
      ]);
      await this.lan.exec(['ip', 'link', 'set', i.bridgePort, 'master', BRIDGE, 'up']);
      // A switch floods a frame until it has learnt where its destination is, and a host whose replies leave by
      // another interface never teaches it: the lab's bridge is told each interface's port at once, so a frame for
      // one interface never reaches another of the same host on this segment.
      const mac = (await ns.exec(['cat', `/sys/class/net/${i.name}/address`])).stdout.trim();
      await this.lan.exec(['bridge', 'fdb', 'replace', mac, 'dev', i.bridgePort, 'master', 'static']);
      for (const a of i.addresses) {
        await ns.exec(
          a.includes(':')
            ? ['ip', '-6', 'addr', 'add', a, 'dev', i.name, 'nodad']
            : ['ip', 'addr', 'add', a, 'dev', i.name],
        );
      }
      await ns.exec(['ip', 'link', 'set', i.name, 'up']);
    }
    for (const r of plan.routes) {
      await ns.exec(['ip', `-${r.family}`, 'route', 'add', r.to, 'dev', r.dev, ...(r.src ? ['src', r.src] : [])]);
    }
    const ifs = plan.interfaces.map((i) => `${i.name} ${i.addresses.join(' ')}`).join('; ');
    this.log(`namespace ${ns.name}: ${ifs}`);
  }

  /**
   * The host's own stateful firewall, as most hosts have one: a rule that accepts established flows. It changes
   * no verdict (the policy is ACCEPT), but it is what makes the kernel track connections in this namespace at
   * all: conntrack starts in a namespace only once some rule needs it. Without it, "no conntrack entry for an
   * untracked flow" would prove nothing.
   */
  private async addTrackedFirewall(ns: LabNamespace): Promise<void> {
    for (const tool of ['iptables', 'ip6tables']) {
      await ns.exec([tool, '-w', '-A', 'INPUT', '-m', 'conntrack', '--ctstate', 'ESTABLISHED,RELATED', '-j', 'ACCEPT']);
    }
  }

  /** Removes everything the lab made: Git server, processes in its namespaces, namespaces, bpffs mount, folder. */
  destroy(): Promise<void> {
    // Callers racing (Ctrl-C and the demo's own clean-up) share one removal.
    this.destroying ??= (async () => {
      if (this.destroyed) return;
      await this.gitServer?.stop(1_000);
      this.teardown();
    })();
    return this.destroying;
  }

  /** The synchronous part of destroy(), also run when the process exits with the lab still up. */
  private teardown(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    process.off('exit', this.onExit);
    this.gitServer?.killNow();
    const present = new Set(namespaceNames());
    for (const ns of this.made.namespaces.slice().reverse()) {
      if (!present.has(ns)) continue;
      killNamespaceProcesses(ns);
      spawnSync('ip', ['netns', 'del', ns], { timeout: 15_000 });
    }
    if (this.made.mounted) {
      const r = spawnSync('umount', [this.bpffs], { timeout: 15_000 });
      this.made.mounted = r.status !== 0;
    }
    if (this.made.dir && !this.made.mounted) rmSync(this.dir, { recursive: true, force: true });
    this.log(
      `removed lab ${this.prefix}: ${this.made.namespaces.length} namespaces${this.made.mounted ? '' : ', bpffs mount'}, ${this.dir}`,
    );
  }

  /** What of the lab is still present: namespaces, the bpffs mount, the folder (empty after destroy()). */
  remains(): string[] {
    const out: string[] = [];
    const present = new Set(namespaceNames());
    for (const ns of this.made.namespaces) if (present.has(ns)) out.push(`namespace ${ns}`);
    if (bpffsMounts().includes(this.bpffs)) out.push(`mount ${this.bpffs}`);
    if (existsSync(this.dir)) out.push(`folder ${this.dir}`);
    return out;
  }
}

/**
 * Builds a lab for the hosts of `opts.policyFolder`, after removing what crashed earlier labs left. On failure,
 * whatever was made is removed before the error is thrown.
 */
export async function createLab(opts: LabOptions): Promise<Lab> {
  const problems = labPrerequisites();
  if (problems.length > 0) {
    throw new LabError(process.getuid?.() !== 0 ? 'lab-not-root' : 'lab-missing-tool', problems.join('; '));
  }
  for (const line of removeLeftovers()) opts.log?.(`removed the leftover ${line} of an earlier lab`);
  const endpoints = await readHostEndpoints(opts.policyFolder);
  serial += 1;
  const prefix = ownedName(LAB_NAME_PREFIX, serial.toString(36));
  const lab = new Lab(prefix, planTopology(prefix, endpoints), opts);
  try {
    await lab.build(opts);
  } catch (e) {
    await lab.destroy();
    throw e;
  }
  return lab;
}

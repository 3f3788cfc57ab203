// The chaos run's policy repository: a bare repository that the Git front serves, a work clone the run commits
// from, and the policies it pushes (the steady policy in variants, and the two lock-out commits).
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { runCommand } from '../../src/demo/command.js';
import { lockOutPolicy } from '../support/lock-out-policy.js';
import { FEED, HOST, HOST_ADDR4, IFNAME } from '../support/reconcile-fixture.js';

/** The deny-listed network the flood comes from (inside the lab link's /16, so no route is needed). */
export const DENIED_NET = '10.0.66.0/24';
export const DENIED_ADDR = '10.0.66.7';
/** The UDP port the flood is aimed at; the host's own firewall accepts it, so what gets past XDP is counted. */
export const FLOOD_PORT = 9999;

export type Lockout = 'deny-all-inbound' | 'deny-all-outbound';

/**
 * db-1's policy: the deny list first, then the allowed flow (and its replies) untracked. `variant` adds a Deny of
 * one more UDP port, so each variant compiles to a new program; `lockout` adds the lock-out policy of the
 * confirmation tests ahead of all (every packet denied in one direction).
 */
export function chaosPolicy(variant: number, lockout?: Lockout): Record<string, string> {
  const files: Record<string, string> = {
    'hosts/db-1.yaml': `apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata:
  name: db-1-${IFNAME}
  labels:
    role: db
spec:
  node: ${HOST}
  interfaceName: ${IFNAME}
  expectedIPs: [${HOST_ADDR4}]
`,
    'sets/deny-list.yaml': `apiVersion: projectcalico.org/v3
kind: GlobalNetworkSet
metadata:
  name: deny-list
  labels:
    list: deny
spec:
  nets: [${DENIED_NET}]
`,
    'policies/deny-list.yaml': `apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: deny-list
spec:
  order: 10
  selector: role == 'db'
  doNotTrack: true
  applyOnForward: true
  types: [Ingress]
  ingress:
    - action: Deny
      source:
        selector: list == 'deny'
`,
    'policies/feed.yaml': `apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: feed
spec:
  order: 100
  selector: role == 'db'
  doNotTrack: true
  applyOnForward: true
  types: [Ingress, Egress]
  ingress:
    - action: Deny
      protocol: UDP
      destination:
        ports: [${20000 + (variant % 10000)}]
    - action: Allow
      protocol: UDP
      source:
        nets: [10.0.1.0/24]
      destination:
        ports: [${FEED}]
  egress:
    - action: Allow
      protocol: UDP
      source:
        ports: [${FEED}]
      destination:
        nets: [10.0.1.0/24]
`,
  };
  return lockout ? lockOutPolicy(lockout === 'deny-all-inbound' ? 'Ingress' : 'Egress', files) : files;
}

export class PolicyRemote {
  /** The folder the Git front serves (`<root>/policy.git`). */
  readonly root: string;
  readonly home: string;
  readonly bare: string;
  private readonly work: string;
  private serial = 0;

  constructor(base: string) {
    this.root = path.join(base, 'repos');
    this.home = path.join(base, 'home');
    this.bare = path.join(this.root, 'policy.git');
    this.work = path.join(base, 'work');
    for (const d of [this.root, this.home, this.work]) mkdirSync(d, { recursive: true });
  }

  private async git(args: string[], cwd: string): Promise<string> {
    const r = await runCommand(
      ['git', '-c', 'user.name=notrack chaos', '-c', 'user.email=chaos@notrack.invalid', ...args],
      { cwd, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: this.home, GIT_CONFIG_NOSYSTEM: '1' } },
    );
    return r.stdout.trim();
  }

  async init(): Promise<void> {
    await this.git(['init', '-q', '--bare', '-b', 'main', this.bare], this.root);
    await this.git(['init', '-q', '-b', 'main', this.work], this.work);
    await this.git(['remote', 'add', 'origin', this.bare], this.work);
  }

  /** Replaces the work tree's files with `files`, commits and pushes to main; returns the commit id. */
  async push(files: Record<string, string>, message: string): Promise<string> {
    this.serial += 1;
    await this.git(['rm', '-r', '-q', '--ignore-unmatch', '.'], this.work);
    for (const [p, text] of Object.entries(files)) {
      mkdirSync(path.dirname(path.join(this.work, p)), { recursive: true });
      writeFileSync(path.join(this.work, p), text);
    }
    await this.git(['add', '-A'], this.work);
    await this.git(['commit', '-q', '--allow-empty', '-m', `${message} (#${this.serial})`], this.work);
    await this.git(['push', '-q', '--force', 'origin', 'HEAD:refs/heads/main'], this.work);
    return this.git(['rev-parse', 'HEAD'], this.work);
  }

  /** The commit `back` commits before the work clone's head. */
  ancestor(back: number): Promise<string> {
    return this.git(['rev-parse', `HEAD~${back}`], this.work);
  }

  /** Points the served main at `commit` (a force-push), leaving the work clone where it is. */
  async setMain(commit: string): Promise<void> {
    await this.git(['update-ref', 'refs/heads/main', commit], this.bare);
  }

  /** Puts the served main back at the work clone's head (the end of a force-push fault). */
  async restoreMain(): Promise<string> {
    const head = await this.git(['rev-parse', 'HEAD'], this.work);
    await this.setMain(head);
    return head;
  }

  remove(): void {
    rmSync(path.dirname(this.root), { recursive: true, force: true });
  }
}

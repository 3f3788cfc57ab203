// Test network namespaces, built on the lab's (src/demo): its owned names, command runner and namespace wrapper,
// plus what kernel tests need beyond the lab: synchronous commands, running code inside a namespace, veth pairs
// and private bpffs mounts. Nothing here touches the root namespace: interfaces are created inside the namespaces.
import { readlinkSync, openSync, closeSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import koffi from 'koffi';
import { runCommandSync, type CommandOptions, type CommandResult } from '../../src/demo/command.js';
import { LabNamespace } from '../../src/demo/lab-namespace.js';
import { ownedName, TEST_NAME_PREFIX } from '../../src/demo/leftovers.js';

let serial = 0;

/** A unique short name for this process: `ntt<pid36>-<tag><n>`, at most 15 characters so it fits an interface too. */
export function uniqueName(tag = ''): string {
  serial += 1;
  const name = ownedName(TEST_NAME_PREFIX, `${tag}${serial.toString(36)}`);
  if (name.length > 15) throw new Error(`test name ${name} is over 15 characters`);
  return name;
}

export type RunResult = CommandResult;

/** Runs argv (no shell) and returns its output; throws with stderr when it fails unless `allowFail`. */
export function run(argv: string[], opts: CommandOptions = {}): RunResult {
  return runCommandSync(argv, opts);
}

const libc = koffi.load('libc.so.6');
const setns = libc.func('int setns(int fd, int nstype)');
const CLONE_NEWNET = 0x40000000;

function currentNetnsId(): string {
  return readlinkSync('/proc/thread-self/ns/net');
}

/** The root namespace's id, read once at start so `enter()` can prove it left and came back. */
const ROOT_NETNS = currentNetnsId();
/** An open handle on the namespace this process started in, to switch back to. */
const ROOT_NETNS_FD = openSync('/proc/thread-self/ns/net', 'r');

export class NetNs {
  readonly name: string;
  /** The same namespace as the lab sees it: for the lab's asynchronous commands and traffic (src/demo). */
  readonly lab: LabNamespace;
  private closed = false;

  private constructor(name: string) {
    this.name = name;
    this.lab = new LabNamespace(name, 'test');
  }

  /** Creates a new namespace with loopback up. */
  static create(tag = 'n'): NetNs {
    const ns = new NetNs(uniqueName(tag));
    run(['ip', 'netns', 'add', ns.name]);
    ns.exec(['ip', 'link', 'set', 'lo', 'up']);
    return ns;
  }

  /** Runs argv inside the namespace (`ip netns exec`). */
  exec(argv: string[], opts: CommandOptions = {}): RunResult {
    return runCommandSync(this.lab.wrap(argv), opts);
  }

  /**
   * Runs a synchronous function with this thread switched into the namespace: BPF syscalls and spawned
   * children then act there. It must not await: the switch is per thread and is undone before returning.
   */
  enter<T>(fn: () => T): T {
    const fd = openSync(`/run/netns/${this.name}`, 'r');
    try {
      if (setns(fd, CLONE_NEWNET) !== 0) throw new Error(`setns into ${this.name} failed`);
    } finally {
      closeSync(fd);
    }
    try {
      if (currentNetnsId() === ROOT_NETNS) throw new Error('setns did not leave the root namespace');
      const out = fn();
      if (out instanceof Promise) throw new Error('NetNs.enter() takes a synchronous function');
      return out;
    } finally {
      if (setns(ROOT_NETNS_FD, CLONE_NEWNET) !== 0) throw new Error('could not return to the root namespace');
      if (currentNetnsId() !== ROOT_NETNS) throw new Error('did not return to the root namespace');
    }
  }

  /** ifindex of an interface inside the namespace. */
  ifindex(dev: string): number {
    const out = this.exec(['cat', `/sys/class/net/${dev}/ifindex`]).stdout.trim();
    return Number(out);
  }

  delete(): void {
    if (this.closed) return;
    this.closed = true;
    run(['ip', 'netns', 'del', this.name], { allowFail: true });
  }
}

export interface VethPair {
  a: NetNs;
  aDev: string;
  aAddr4: string;
  aAddr6: string;
  b: NetNs;
  bDev: string;
  bAddr4: string;
  bAddr6: string;
}

/**
 * Two namespaces joined by a veth pair with IPv4 and IPv6 addresses (10.200.x.1/2, fd00:200:x::1/2).
 * `a` is meant as the firewalled host, `b` as the peer that sends traffic.
 */
export function vethPair(subnet = 1): VethPair {
  const a = NetNs.create('a');
  const b = NetNs.create('b');
  try {
    const aDev = uniqueName('v');
    const bDev = uniqueName('v');
    run(['ip', 'link', 'add', 'name', aDev, 'netns', a.name, 'type', 'veth', 'peer', 'name', bDev, 'netns', b.name]);
    const aAddr4 = `10.200.${subnet}.1`,
      bAddr4 = `10.200.${subnet}.2`;
    const aAddr6 = `fd00:200:${subnet}::1`,
      bAddr6 = `fd00:200:${subnet}::2`;
    a.exec(['ip', 'addr', 'add', `${aAddr4}/24`, 'dev', aDev]);
    b.exec(['ip', 'addr', 'add', `${bAddr4}/24`, 'dev', bDev]);
    a.exec(['ip', '-6', 'addr', 'add', `${aAddr6}/64`, 'dev', aDev, 'nodad']);
    b.exec(['ip', '-6', 'addr', 'add', `${bAddr6}/64`, 'dev', bDev, 'nodad']);
    a.exec(['ip', 'link', 'set', aDev, 'up']);
    b.exec(['ip', 'link', 'set', bDev, 'up']);
    return { a, aDev, aAddr4, aAddr6, b, bDev, bAddr4, bAddr6 };
  } catch (e) {
    a.delete();
    b.delete();
    throw e;
  }
}

/**
 * A bpffs of this test's own: a fresh bpffs instance mounted on a temporary folder, so pins never mix with the
 * machine's /sys/fs/bpf or with another test. `cleanup()` unmounts it, which drops every pin in it.
 */
export function pinDir(): { path: string; cleanup: () => void } {
  const path = join(tmpdir(), `${uniqueName('p')}-bpffs`);
  mkdirSync(path);
  try {
    run(['mount', '-t', 'bpf', 'bpf', path]);
  } catch (e) {
    rmSync(path, { recursive: true, force: true });
    throw e;
  }
  let done = false;
  return {
    path,
    cleanup: () => {
      if (done) return;
      done = true;
      run(['umount', path], { allowFail: true });
      rmSync(path, { recursive: true, force: true });
    },
  };
}

// The host's TCP sessions as the kernel holds them (`ss -Htanp`): the established ones with the interface that owns
// their local address, and the listening ports (a session on one was opened by a peer, the others by this host).
// The calling process's own sockets are left out: they are notrack's Git connections (kept alive after a fetch),
// whose path the Git probe of commit confirmation judges.
import { networkInterfaces } from 'node:os';
import { spawnRunner, type CommandRunner } from './command-runner.js';
import { DataplaneCommandError } from './command-runner.js';

/** One established TCP session, seen from this host. */
export interface TcpSession {
  family: 4 | 6;
  local: string;
  localPort: number;
  peer: string;
  peerPort: number;
  /** The interface that holds the local address (null: none does, e.g. a loopback or a moved address). */
  iface: string | null;
  /** The peer opened it (the local port listens); else this host did. */
  inbound: boolean;
}

/** "10.0.0.1:22", "[2001:db8::1]:22", "[::ffff:10.0.0.1]:22", "[fe80::1%eth0]:22", "*:22" -> address and port. */
function endpoint(text: string): { address: string; port: number } | null {
  const m = /^\[?(.*?)\]?:(\d+|\*)$/.exec(text);
  if (!m || m[2] === '*') return null;
  let address = m[1]!.replace(/%.*$/, '');
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) address = mapped[1]!;
  return { address, port: Number(m[2]) };
}

function isLoopback(address: string): boolean {
  return address.startsWith('127.') || address === '::1';
}

/** Which interface holds each local address of this network namespace. */
function addressOwners(): Map<string, string> {
  const owners = new Map<string, string>();
  for (const [name, addrs] of Object.entries(networkInterfaces()))
    for (const a of addrs ?? []) owners.set(a.address.replace(/%.*$/, '').toLowerCase(), name);
  return owners;
}

/** Established TCP sessions of this network namespace, loopback ones left out (no interface of notrack sees them). */
export function readTcpSessions(runner: CommandRunner = spawnRunner): TcpSession[] {
  const argv = ['ss', '-Htanp'];
  const r = runner(argv);
  if (r.status !== 0) throw new DataplaneCommandError('tcp-sessions-unreadable', argv, r.status, r.stderr);
  const listening = new Set<number>();
  const established: { local: { address: string; port: number }; peer: { address: string; port: number } }[] = [];
  for (const line of r.stdout.split('\n')) {
    const cols = line.trim().split(/\s+/);
    if (cols.length < 5) continue;
    const [state, , , localText, peerText] = cols as [string, string, string, string, string];
    const local = endpoint(localText);
    if (state === 'LISTEN') {
      const port = /:(\d+)$/.exec(localText)?.[1];
      if (port) listening.add(Number(port));
      continue;
    }
    const peer = endpoint(peerText);
    if (state !== 'ESTAB' || !local || !peer) continue;
    const pids = [
      ...cols
        .slice(5)
        .join(' ')
        .matchAll(/pid=(\d+)/g),
    ].map((m) => Number(m[1]));
    if (pids.length && pids.every((pid) => pid === process.pid)) continue;
    if (isLoopback(local.address) || isLoopback(peer.address)) continue;
    established.push({ local, peer });
  }
  const owners = addressOwners();
  return established.map(({ local, peer }) => ({
    family: local.address.includes(':') ? 6 : 4,
    local: local.address,
    localPort: local.port,
    peer: peer.address,
    peerPort: peer.port,
    iface: owners.get(local.address.toLowerCase()) ?? null,
    inbound: listening.has(local.port),
  }));
}

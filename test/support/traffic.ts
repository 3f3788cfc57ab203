// Real ICMP, UDP and TCP between test namespaces (ping and socat run inside them), with bounded waits, clean-up of
// every process started, and conntrack reads; plus static neighbour entries so ARP/ND never depend on a policy.
// ping and conntrack are the lab's (src/demo/traffic.ts) command lines, run synchronously here.
import { spawn, type ChildProcess } from 'node:child_process';
import { conntrackArgv, conntrackLines, pingArgv } from '../../src/demo/traffic.js';
import type { NetNs, VethPair } from './netns.js';

export type Family = 4 | 6;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Every process started here that has not ended yet; stopTraffic() ends them. */
const running = new Set<ChildProcess>();

function start(ns: NetNs, argv: string[]): ChildProcess {
  const child = spawn('ip', ['netns', 'exec', ns.name, ...argv], { stdio: ['pipe', 'pipe', 'pipe'] });
  running.add(child);
  child.on('close', () => running.delete(child));
  return child;
}

/** Kills whatever is still running (call in `finally`). */
export function stopTraffic(): void {
  for (const child of running) child.kill('SIGKILL');
  running.clear();
}

/** `[addr]` for IPv6 in socat addresses. */
const host = (family: Family, addr: string): string => (family === 6 ? `[${addr}]` : addr);

/** One echo request with a 1-second wait; true when the reply came. */
export function ping(from: NetNs, to: string, family: Family): boolean {
  return from.exec(pingArgv(to, { family }), { allowFail: true, timeoutMs: 5_000 }).status === 0;
}

/** `count` echo requests `intervalS` apart, in the background; resolves with how many were sent and answered. */
export function pingFlood(
  from: NetNs,
  to: string,
  family: Family,
  count: number,
  intervalS: number,
): Promise<{ sent: number; received: number }> {
  const child = start(from, pingArgv(to, { family, count, intervalS }));
  let out = '';
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  return new Promise((resolve) =>
    child.on('close', () => {
      const m = /(\d+) packets transmitted, (\d+) received/.exec(out);
      resolve({ sent: Number(m?.[1] ?? 0), received: Number(m?.[2] ?? 0) });
    }),
  );
}

export interface Receiver {
  /** What arrived, once the receiver ended (after one TCP connection or UDP datagram, or its time limit). */
  received(): Promise<string>;
}

async function listen(
  ns: NetNs,
  kind: 'udp' | 'tcp',
  family: Family,
  port: number,
  seconds: number,
): Promise<Receiver> {
  const address = kind === 'udp' ? `UDP${family}-RECVFROM:${port}` : `TCP${family}-LISTEN:${port},reuseaddr`;
  const child = start(ns, ['timeout', String(seconds), 'socat', '-u', address, 'STDOUT']);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const closed = new Promise<string>((resolve) => child.on('close', () => resolve(out)));
  const ssKind = kind === 'udp' ? '-Hlun' : '-Hltn';
  for (let i = 0; i < 100; i++) {
    if (ns.exec(['ss', ssKind, `sport = :${port}`]).stdout.trim() !== '') return { received: () => closed };
    await sleep(20);
  }
  child.kill('SIGKILL');
  throw new Error(`nothing listens on ${kind} ${port} in ${ns.name}`);
}

/** Receives one UDP datagram on `port` (empty string when none came within `seconds`). */
export function receiveUdp(ns: NetNs, family: Family, port: number, seconds: number): Promise<Receiver> {
  return listen(ns, 'udp', family, port, seconds);
}

/** Accepts one TCP connection on `port` and collects what it sends (empty when none came within `seconds`). */
export function receiveTcp(ns: NetNs, family: Family, port: number, seconds: number): Promise<Receiver> {
  return listen(ns, 'tcp', family, port, seconds);
}

export function sendUdp(from: NetNs, family: Family, to: string, port: number, text: string): void {
  from.exec(['socat', '-u', 'STDIN', `UDP${family}-SENDTO:${host(family, to)}:${port}`], {
    input: text,
    timeoutMs: 5_000,
  });
}

/** Connects, sends `text` and closes; false when the connection could not be made within `timeoutS`. */
export function sendTcp(from: NetNs, family: Family, to: string, port: number, text: string, timeoutS = 1): boolean {
  const r = from.exec(
    ['socat', '-u', 'STDIN', `TCP${family}:${host(family, to)}:${port},connect-timeout=${timeoutS}`],
    { input: text, allowFail: true, timeoutMs: (timeoutS + 4) * 1000 },
  );
  return r.status === 0;
}

/** The conntrack table of `ns` for one family, one entry per line. */
export function conntrackFlows(ns: NetNs, family: Family): string[] {
  return conntrackLines(ns.exec(conntrackArgv({ family }), { allowFail: true }).stdout);
}

/**
 * Permanent neighbour entries on both sides for both families, so that address resolution never needs a packet
 * the policy under test might drop (ARP is not IP and always passes, but ND is ICMPv6).
 */
export function staticNeighbours(pair: VethPair): void {
  const mac = (ns: NetNs, dev: string): string => ns.exec(['cat', `/sys/class/net/${dev}/address`]).stdout.trim();
  const aMac = mac(pair.a, pair.aDev);
  const bMac = mac(pair.b, pair.bDev);
  for (const [ns, dev, addr, lladdr] of [
    [pair.a, pair.aDev, pair.bAddr4, bMac],
    [pair.a, pair.aDev, pair.bAddr6, bMac],
    [pair.b, pair.bDev, pair.aAddr4, aMac],
    [pair.b, pair.bDev, pair.aAddr6, aMac],
  ] as const) {
    ns.exec(['ip', 'neigh', 'replace', addr, 'lladdr', lladdr, 'dev', dev, 'nud', 'permanent']);
  }
}

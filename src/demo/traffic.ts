// Real traffic between lab namespaces, with bounded waits: ping, one TCP or UDP request answered by an echo server
// (socat), and the conntrack entries a host kept. Each helper ends every process it started.
import type { ChildProcess } from 'node:child_process';
import type { LabNamespace } from './lab-namespace.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface PingOptions {
  /** The source address (one of the sender's own); default: the kernel's choice. */
  from?: string;
  /** How long to wait for each reply, in seconds; default 1. */
  timeoutS?: number;
  /** 4 or 6; default: from the address. */
  family?: 4 | 6;
  /** How many echo requests, `intervalS` apart; default 1. */
  count?: number;
  intervalS?: number;
}

/** The ping command line for `opts` (quiet, numeric). */
export function pingArgv(to: string, opts: PingOptions = {}): string[] {
  return [
    'ping',
    '-n',
    '-q',
    ...(opts.family ? [`-${opts.family}`] : []),
    '-c',
    String(opts.count ?? 1),
    ...(opts.intervalS !== undefined ? ['-i', String(opts.intervalS)] : []),
    '-W',
    String(opts.timeoutS ?? 1),
    ...(opts.from ? ['-I', opts.from] : []),
    to,
  ];
}

/** One echo request; true when the reply came back. */
export async function ping(ns: LabNamespace, to: string, opts: PingOptions = {}): Promise<boolean> {
  const r = await ns.exec(pingArgv(to, { ...opts, count: 1 }), {
    allowFail: true,
    timeoutMs: ((opts.timeoutS ?? 1) + 4) * 1000,
  });
  return r.status === 0;
}

export interface ExchangeOptions {
  /** Where the request comes from. */
  client: LabNamespace;
  /** Where the echo server runs. */
  server: LabNamespace;
  /** The server's address (the echo server binds to it). */
  to: string;
  port: number;
  /** The client's source address; default: the kernel's choice. */
  from?: string;
  /** How long the client waits to connect and for the answer, in seconds; default 1. */
  timeoutS?: number;
}

export interface Exchange {
  protocol: 'tcp' | 'udp';
  to: string;
  port: number;
  from: string | undefined;
  /** The server received the request. */
  delivered: boolean;
  /** The client received the server's answer (the request echoed back). */
  answered: boolean;
}

function finished(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('close', () => resolve()));
}

/** Starts an echo server that logs what it receives (socat -v) and resolves once it listens. */
async function echoServer(
  ns: LabNamespace,
  protocol: 'tcp' | 'udp',
  to: string,
  port: number,
  lifeS: number,
): Promise<{ child: ChildProcess; log: () => string }> {
  const address =
    protocol === 'tcp' ? `TCP4-LISTEN:${port},reuseaddr,bind=${to}` : `UDP4-RECVFROM:${port},reuseaddr,bind=${to}`;
  // `timeout` bounds a server nobody reaches; it passes SIGTERM on to socat.
  const child = ns.start(['timeout', String(lifeS), 'socat', '-v', '-T', String(lifeS), address, 'PIPE']);
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  child.stdout!.resume();
  const ssFlags = protocol === 'tcp' ? '-Hltn' : '-Hlun';
  for (let i = 0; i < 150; i++) {
    const r = await ns.exec(['ss', ssFlags, `sport = :${port}`], { allowFail: true });
    if (r.stdout.trim() !== '') return { child, log: () => stderr };
    if (child.exitCode !== null) break;
    await sleep(20);
  }
  child.kill('SIGTERM');
  await finished(child);
  throw new Error(`the echo server on ${protocol} ${to}:${port} in ${ns.name} did not start: ${stderr.trim()}`);
}

async function exchange(protocol: 'tcp' | 'udp', opts: ExchangeOptions): Promise<Exchange> {
  const timeoutS = opts.timeoutS ?? 1;
  const server = await echoServer(opts.server, protocol, opts.to, opts.port, timeoutS + 5);
  const payload = `notrack-demo ${protocol} ${opts.port} ${Date.now()}`;
  const bind = opts.from ? `,bind=${opts.from}` : '';
  const target =
    protocol === 'tcp'
      ? `TCP4:${opts.to}:${opts.port},connect-timeout=${timeoutS}${bind}`
      : `UDP4:${opts.to}:${opts.port}${bind}`;
  let answered = false;
  try {
    const r = await opts.client.exec(['socat', '-T', String(timeoutS), '-', target], {
      input: `${payload}\n`,
      allowFail: true,
      timeoutMs: (timeoutS + 4) * 1000,
    });
    answered = r.stdout.includes(payload);
  } finally {
    // The server ends on its own after one TCP connection; a UDP one waits for more, so it is told to stop.
    const done = finished(server.child);
    const grace = setTimeout(() => server.child.kill('SIGTERM'), protocol === 'tcp' ? 300 : 50);
    await done;
    clearTimeout(grace);
  }
  return {
    protocol,
    to: opts.to,
    port: opts.port,
    from: opts.from,
    delivered: server.log().includes(payload),
    answered,
  };
}

/** Connects over TCP, sends one line and waits for it to come back. */
export function tcpExchange(opts: ExchangeOptions): Promise<Exchange> {
  return exchange('tcp', opts);
}

/** Sends one UDP datagram and waits for it to come back. */
export function udpExchange(opts: ExchangeOptions): Promise<Exchange> {
  return exchange('udp', opts);
}

export interface ConntrackFilter {
  /** IPv4 (default) or IPv6 entries. */
  family?: 4 | 6;
  protocol?: 'tcp' | 'udp' | 'icmp';
  /** The destination port of the original direction. */
  port?: number;
  /** The source address of the original direction. */
  source?: string;
}

/** The conntrack command line that lists the entries matching `filter`. */
export function conntrackArgv(filter: ConntrackFilter = {}): string[] {
  const argv = ['conntrack', '-L', '-f', filter.family === 6 ? 'ipv6' : 'ipv4'];
  if (filter.protocol) argv.push('-p', filter.protocol);
  if (filter.port !== undefined) argv.push('--dport', String(filter.port));
  if (filter.source) argv.push('-s', filter.source);
  return argv;
}

/** conntrack -L's output as one entry per line. */
export function conntrackLines(stdout: string): string[] {
  return stdout.split('\n').filter((l) => l.trim() !== '');
}

/** The connection-tracking entries of a namespace that match `filter`, one line each. */
export async function conntrackEntries(ns: LabNamespace, filter: ConntrackFilter = {}): Promise<string[]> {
  const r = await ns.exec(conntrackArgv(filter), { allowFail: true, timeoutMs: 10_000 });
  return conntrackLines(r.stdout);
}

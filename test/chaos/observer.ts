// The chaos run's eyes inside the firewalled host's namespace: samples the interface every 20 ms
// (present, up, which XDP program) and receives the allowed flow and whatever of the deny-listed flood got past the
// firewall, printing one JSON line per change or arrival, and a summary when its stdin closes.
// Usage: observer.ts --ifname eth0 --feed-port 7000 --flood-port 9999 --every-ms 20
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { interfaceIndex } from '../../src/libbpf/netdev.js';
import { programRef, xdpQuery } from '../../src/libbpf/query.js';

const { values } = parseArgs({
  options: {
    ifname: { type: 'string' },
    'feed-port': { type: 'string' },
    'flood-port': { type: 'string' },
    'every-ms': { type: 'string', default: '20' },
  },
  strict: true,
});
const ifname = values.ifname ?? 'eth0';
const everyMs = Number(values['every-ms']);

const say = (event: object): void => {
  process.stdout.write(`${JSON.stringify({ t: Date.now(), ...event })}\n`);
};

/** What one sample saw of the interface. */
interface LinkState {
  present: boolean;
  /** IFF_UP set: administratively up. Not operstate, which the kernel's linkwatch updates up to a second late, while
   *  a veth passes packets as soon as both ends are up: an up seen late would hide an unprotected window. */
  up: boolean;
  ifindex: number | null;
  /** `<name>#<id>` of the XDP program attached, or null. */
  xdp: string | null;
}

const IFF_UP = 0x1;

const names = new Map<number, string>();
/** A program's name by id (read once: an id is never reused for another program while it is attached). */
function programName(id: number): string {
  let name = names.get(id);
  if (name === undefined || name === '') {
    name = programRef(id).name;
    names.set(id, name);
  }
  return name || '?';
}

/**
 * One look at the interface, through the kernel directly (if_nametoindex, the XDP netlink query, sysfs) rather
 * than by running `ip`: a sample costs microseconds, so it stays on time on a loaded machine.
 */
function look(): LinkState {
  let ifindex: number;
  try {
    ifindex = interfaceIndex(ifname);
  } catch {
    return { present: false, up: false, ifindex: null, xdp: null };
  }
  try {
    const flags = Number.parseInt(readFileSync(`/sys/class/net/${ifname}/flags`, 'utf8').trim(), 16);
    const xdp = xdpQuery(ifindex);
    const id = xdp.programIds[0];
    return { present: true, up: (flags & IFF_UP) !== 0, ifindex, xdp: id ? `${programName(id)}#${id}` : null };
  } catch {
    // Deleted between the two calls.
    return { present: false, up: false, ifindex: null, xdp: null };
  }
}

let last = '';
let lastSample = 0;
let maxGapMs = 0;
let maxGapAt = 0;
/** Gaps between samples longer than 100 ms (the bound the run promises), counted. */
let lateSamples = 0;
let samples = 0;
let stopping = false;

function sample(): void {
  if (stopping) return;
  const state = look();
  const now = Date.now();
  samples += 1;
  if (lastSample && now - lastSample > maxGapMs) {
    maxGapMs = now - lastSample;
    maxGapAt = now;
  }
  if (lastSample && now - lastSample > 100) lateSamples += 1;
  lastSample = now;
  const key = JSON.stringify(state);
  if (key !== last) {
    last = key;
    say({ link: state });
  }
  setTimeout(sample, everyMs);
}

// The allowed flow: numbered datagrams; a bitmap keeps which arrived (ten minutes at a few hundred a second).
let seen = new Uint8Array(1 << 20);
let received = 0,
  duplicates = 0,
  max = 0;
const feed = dgram.createSocket({ type: 'udp4', recvBufferSize: 8 << 20 });
feed.on('message', (m) => {
  const n = Number(m.toString());
  if (!Number.isInteger(n) || n <= 0) return;
  if (n >= seen.length) {
    const bigger = new Uint8Array(Math.max(seen.length * 2, n + 1));
    bigger.set(seen);
    seen = bigger;
  }
  if (seen[n]) duplicates += 1;
  else {
    seen[n] = 1;
    received += 1;
  }
  if (n > max) max = n;
});

// The flood: any datagram that arrives here got past XDP (the host's firewall accepts this port on purpose).
let flood = 0;
const floodSocket = dgram.createSocket({ type: 'udp4', recvBufferSize: 8 << 20 });
floodSocket.on('message', (m) => {
  flood += 1;
  say({ flood: Number(m.toString()) });
});

function missingRanges(): [number, number][] {
  const out: [number, number][] = [];
  for (let i = 1; i <= max; i++) {
    if (seen[i]) continue;
    const from = i;
    while (i + 1 <= max && !seen[i + 1]) i++;
    out.push([from, i]);
  }
  return out;
}

function finish(): void {
  if (stopping) return;
  stopping = true;
  say({
    final: { received, duplicates, max, missing: missingRanges(), flood, samples, maxGapMs, maxGapAt, lateSamples },
  });
  process.stdout.write('', () => process.exit(0));
}

await new Promise<void>((r) => feed.bind(Number(values['feed-port']), '0.0.0.0', r));
await new Promise<void>((r) => floodSocket.bind(Number(values['flood-port']), '0.0.0.0', r));
process.stdin.on('end', finish);
process.on('SIGTERM', finish);
process.stdin.resume();
sample();
say({ ready: true });

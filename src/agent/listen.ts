// The metrics and health address: "host:port" to a typed address, refusing anything but loopback unless asked.
//
// /metrics and /status tell anyone who can reach them which policy commit a host runs and how many packets each
// rule matched: a map of the firewall. So the default is loopback, and a reachable address takes an explicit
// --listen-public.
import { isIP } from 'node:net';
import { UsageError } from '../errors.js';

export interface ListenAddress {
  host: string;
  port: number;
}

/** Parses "127.0.0.1:9808", "[::1]:9808", "localhost:9808", ":9808" (every address); "off" turns the server off. */
export function parseListen(value: string, options: { allowPublic: boolean }): ListenAddress | null {
  const text = value.trim();
  if (text === 'off' || text === 'none') return null;
  const m = /^(?:\[([^\]]+)\]|([^:\s]*)):(\d{1,5})$/.exec(text);
  if (!m) throw new UsageError(`--listen takes HOST:PORT (e.g. 127.0.0.1:9808 or [::1]:9808) or "off", not "${value}"`);
  const host = m[1] ?? m[2] ?? '';
  const port = Number(m[3]);
  if (port > 65535) throw new UsageError(`--listen: port ${port} is out of range (0-65535)`);
  if (m[1] !== undefined && isIP(host) !== 6) throw new UsageError(`--listen: "[${host}]" is not an IPv6 address`);
  const address = { host: host === '' ? '::' : host, port };
  if (!options.allowPublic && !isLoopback(address.host)) {
    throw new UsageError(
      `--listen ${value} is reachable from other machines, and /metrics and /status describe ` +
        `this host's firewall; use a loopback address (127.0.0.1, ::1, localhost) or add --listen-public`,
    );
  }
  return address;
}

/** 127.0.0.0/8, ::1, ::ffff:127.x.y.z and the name localhost. Any other name could resolve anywhere. */
function isLoopback(host: string): boolean {
  const h = host.toLowerCase();
  if (h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  const v4 = h.startsWith('::ffff:') ? h.slice(7) : h;
  return isIP(v4) === 4 && v4.split('.')[0] === '127';
}

/** "127.0.0.1:9808" or "[::1]:9808", for logs. */
export function formatListen(a: ListenAddress): string {
  return isIP(a.host) === 6 ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

// Rule ports: numbers, "from:to" ranges and named ports, parsed from the forms Calico accepts.

export type PortSpec = { kind: 'range'; from: number; to: number } | { kind: 'named'; name: string };

type PortParse = { ok: true; port: PortSpec } | { ok: false; message: string };

const NAMED = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** Parses one entry of `ports`/`notPorts`: 80, "80", "1024:65535" or "http". */
export function parsePort(value: number | string): PortParse {
  if (typeof value === 'number') {
    if (!Number.isInteger(value) || value < 0 || value > 65535) {
      return { ok: false, message: `port ${value} is out of range 0-65535` };
    }
    return { ok: true, port: { kind: 'range', from: value, to: value } };
  }
  const text = value.trim();
  const range = text.match(/^(\d+)\s*:\s*(\d+)$/);
  if (range) {
    const from = Number(range[1]),
      to = Number(range[2]);
    if (from > 65535 || to > 65535) return { ok: false, message: `port range "${value}" goes beyond 65535` };
    if (from > to) return { ok: false, message: `port range "${value}" starts after it ends; write "${to}:${from}"` };
    return { ok: true, port: { kind: 'range', from, to } };
  }
  if (/^\d+$/.test(text)) {
    const n = Number(text);
    if (n > 65535) return { ok: false, message: `port ${text} is out of range 0-65535` };
    return { ok: true, port: { kind: 'range', from: n, to: n } };
  }
  if (/^\d+\s*-\s*\d+$/.test(text)) {
    return {
      ok: false,
      message: `port range "${value}" uses "-"; Calico ranges use ":", e.g. "${text.replace(/\s*-\s*/, ':')}"`,
    };
  }
  if (!NAMED.test(text)) {
    return {
      ok: false,
      message: `"${value}" is neither a port number, a "from:to" range nor a port name (lower-case letters, digits and '-')`,
    };
  }
  return { ok: true, port: { kind: 'named', name: text } };
}

export function formatPort(p: PortSpec): string {
  if (p.kind === 'named') return p.name;
  return p.from === p.to ? String(p.from) : `${p.from}:${p.to}`;
}

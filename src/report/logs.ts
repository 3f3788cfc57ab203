// Renders the packets Log rules matched (`notrack logs`): one text line or one JSON object per event.
import type { PacketState } from '../abi/notrack.js';
import type { NamedLogEvent, NamedRule } from '../dataplane/xdp/log-events.js';

const PROTOCOLS: Record<number, string> = { 1: 'icmp', 6: 'tcp', 17: 'udp', 58: 'ipv6-icmp', 132: 'sctp' };

function ruleText(r: NamedRule): string {
  return `${r.policy} ${r.direction}[${r.index}]`;
}

function endpoint(address: string, port: number, family: number, ported: boolean): string {
  if (!ported) return address;
  return family === 6 ? `[${address}]:${port}` : `${address}:${port}`;
}

function packetText(p: PacketState): string {
  if (p.family === 0) return 'non-IP frame';
  const proto = PROTOCOLS[p.ipProto] ?? `proto ${p.ipProto}`;
  const ported = p.ipProto === 6 || p.ipProto === 17 || p.ipProto === 132;
  const icmp = p.ipProto === 1 || p.ipProto === 58 ? ` type ${p.icmpType} code ${p.icmpCode}` : '';
  return `${proto} ${endpoint(p.saddr, p.sport, p.family, ported)} > ${endpoint(p.daddr, p.dport, p.family, ported)}${icmp}`;
}

/** `2026-… eth0 log db-log ingress[0]: tcp 10.0.1.7:40000 > 10.0.2.10:5432, then deny by edge-deny ingress[1]` */
export function logLine(e: NamedLogEvent): string {
  const outcome = e.decidedBy
    ? `then ${(e.decidedBy.action ?? e.event.verdict).toLowerCase()} by ${ruleText(e.decidedBy)}`
    : `then ${e.event.verdict} (no rule decided)`;
  return `${e.time.toISOString()} ${e.ifname} log ${ruleText(e.rule)}: ${packetText(e.event.packet)}, ${outcome}`;
}

/** One JSON line's object; field names are stable for log shippers. */
export function logJson(e: NamedLogEvent): Record<string, unknown> {
  const p = e.event.packet;
  const rule = (r: NamedRule) => ({ policy: r.policy, direction: r.direction, index: r.index, action: r.action });
  return {
    time: e.time.toISOString(),
    interface: e.ifname,
    generation: e.generation,
    rule: rule(e.rule),
    decidedBy: e.decidedBy ? rule(e.decidedBy) : null,
    verdict: e.event.verdict,
    packet: {
      family: p.family,
      protocol: p.ipProto,
      source: p.saddr,
      destination: p.daddr,
      sourcePort: p.sport,
      destinationPort: p.dport,
      icmpType: p.icmpType,
      icmpCode: p.icmpCode,
      length: e.event.pktLen,
    },
  };
}

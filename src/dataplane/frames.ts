// Raw Ethernet frames for BPF_PROG_TEST_RUN (`explain --kernel`, the differential tests): a typed description in,
// exact bytes out. Pure: no I/O.
//
// `buildFrame(spec)` makes Ethernet (+ 0, 1 or 2 VLAN tags), IPv4 (options, fragments, header checksum) or IPv6
// (extension header chains, fragment header), then TCP/UDP/UDPLite/SCTP with ports, ICMP/ICMPv6 with type and
// code, or a raw payload for any other protocol number, with correct checksums (the L4 checksum of a first
// fragment covers only the bytes in this frame). `corrupt` breaks chosen fields on purpose for malformed-packet
// tests. `layoutFrame(spec)` also says where the IP and upper-layer headers start. `packetFrame(description)` is
// the frame of a packet as the reference evaluator takes it.
import type { PacketDescription } from '../compile/desired-state.js';
import { NotrackError } from '../errors.js';
import { parseIp } from '../net/cidr.js';

/** A frame description that cannot be built (bad address, port, VLAN id, fragment offset …). */
class FrameError extends NotrackError {
  constructor(message: string) {
    super('invalid-frame', message);
  }
}

type ProtoName = 'tcp' | 'udp' | 'udplite' | 'icmp' | 'icmpv6' | 'sctp';
type Proto = number | ProtoName;

const PROTO_NUMBERS: Record<ProtoName, number> = { tcp: 6, udp: 17, udplite: 136, icmp: 1, icmpv6: 58, sctp: 132 };

const EtherType = { ipv4: 0x0800, arp: 0x0806, vlan: 0x8100, qinq: 0x88a8, ipv6: 0x86dd, lldp: 0x88cc } as const;

/** One IPv6 extension header, in chain order. */
type ExtHeaderSpec =
  /** Options are the raw TLVs; PadN/Pad1 fill the header to a multiple of 8 bytes. */
  | { type: 'hop-by-hop' | 'destination'; options?: Buffer }
  /** Routing type 0 with segments left 0 by default (which the kernel ignores); `data` (a multiple of 8 bytes) follows the 4 reserved bytes. */
  | { type: 'routing'; routingType?: number; segmentsLeft?: number; data?: Buffer }
  /** Offset, M flag and id come from `PacketSpec.fragment`. */
  | { type: 'fragment' }
  /** Authentication header with a 12-byte ICV by default (24 bytes in all). */
  | { type: 'ah'; spi?: number; seq?: number; icv?: Buffer };

export interface PacketSpec {
  family: 4 | 6;
  proto: Proto;
  src: string;
  dst: string;
  sport?: number;
  dport?: number;
  icmpType?: number;
  icmpCode?: number;
  /** ICMP/ICMPv6 rest of header (identifier and sequence for echo): 4 bytes, zero by default. */
  icmpRest?: Buffer;
  /** TCP flags byte; SYN (0x02) by default. */
  tcpFlags?: number;
  /** VLAN ids, outermost first. One tag uses TPID 0x8100; two use 0x88a8 then 0x8100 (802.1ad). */
  vlan?: number[];
  /** TPIDs for the tags, outermost first, to override the defaults above. */
  vlanTpids?: number[];
  /**
   * Makes this a fragment. `offset` is in BYTES and must be a multiple of 8. A fragment with offset > 0 carries
   * `payload` only: its upper-layer header is in the first fragment. IPv4 sets MF/offset in the header; IPv6
   * adds a fragment header at the end of `extHeaders` unless the chain places one itself.
   */
  fragment?: { offset: number; more: boolean; id?: number };
  /** IPv4 options, padded with zero bytes (End of Options) to a multiple of 4; at most 40 bytes. */
  ipOptions?: Buffer;
  /** IPv6 extension headers, in order. */
  extHeaders?: ExtHeaderSpec[];
  /** Bytes after the upper-layer header (or the whole IP payload for a raw protocol or a later fragment). */
  payload?: Buffer;
  ttl?: number;
  tos?: number;
  ipId?: number;
  dontFragment?: boolean;
  srcMac?: string;
  dstMac?: string;
  /** Pads the frame with zero bytes to this length (as Ethernet pads short frames to 60). */
  padTo?: number;
  /** Deliberate damage, applied after checksums are computed. */
  corrupt?: {
    version?: number;
    /** IPv4 header length field in 32-bit words (the header itself is still built at its real length). */
    ihl?: number;
    /** IPv4 total length field. */
    totalLength?: number;
    /** IPv6 payload length field. */
    payloadLength?: number;
    /** TCP data offset field in 32-bit words. */
    tcpDataOffset?: number;
    /** Cuts the finished frame to this many bytes. */
    truncateTo?: number;
  };
}

interface BuiltFrame {
  frame: Buffer;
  /** Offset of the IP header. */
  l3Off: number;
  /** Offset of the upper-layer header; null for a fragment with a non-zero offset. */
  l4Off: number | null;
  /** The protocol number after any IPv6 extension headers. */
  ipProto: number;
}

const DEFAULT_SRC_MAC = '02:00:00:00:00:01';
const DEFAULT_DST_MAC = '02:00:00:00:00:02';

function protoNumber(proto: Proto): number {
  const n = typeof proto === 'number' ? proto : PROTO_NUMBERS[proto];
  if (!Number.isInteger(n) || n < 0 || n > 255) throw new FrameError(`packet: bad protocol ${String(proto)}`);
  return n;
}

function mac(text: string): Buffer {
  const parts = text.split(':');
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-fA-F]{2}$/.test(p)))
    throw new FrameError(`packet: bad MAC ${text}`);
  return Buffer.from(parts.map((p) => parseInt(p, 16)));
}

function address(text: string, family: 4 | 6): Buffer {
  const ip = parseIp(text);
  if (!ip || ip.family !== family) throw new FrameError(`packet: ${text} is not an IPv${family} address`);
  return Buffer.from(ip.addr);
}

/** The 16-bit ones' complement sum folded and inverted (RFC 1071) over the concatenated parts. */
export function internetChecksum(...parts: Buffer[]): number {
  let sum = 0;
  let odd: number | null = null;
  for (const part of parts) {
    for (const byte of part) {
      if (odd === null) odd = byte;
      else {
        sum += (odd << 8) | byte;
        odd = null;
      }
    }
  }
  if (odd !== null) sum += odd << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

let crc32cTable: Uint32Array | undefined;

/** CRC-32C (Castagnoli), the SCTP checksum. */
export function crc32c(buf: Buffer): number {
  if (!crc32cTable) {
    crc32cTable = new Uint32Array(256);
    for (let i = 0; i < 256; i++) {
      let c = i;
      for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
      crc32cTable[i] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (const byte of buf) crc = (crc >>> 8) ^ crc32cTable[(crc ^ byte) & 0xff]!;
  return (crc ^ 0xffffffff) >>> 0;
}

function vlanTags(vlan: number[] = [], tpids?: number[]): { tpid: number; id: number }[] {
  return vlan.map((id, i) => {
    if (!Number.isInteger(id) || id < 0 || id > 4095) throw new FrameError(`packet: bad VLAN id ${id}`);
    const tpid = tpids?.[i] ?? (vlan.length >= 2 && i < vlan.length - 1 ? EtherType.qinq : EtherType.vlan);
    return { tpid, id };
  });
}

/** An Ethernet frame around any payload: e.g. LLDP (0x88cc) or a raw EtherType. */
export function buildEthernetFrame(opts: {
  etherType: number;
  payload: Buffer;
  vlan?: number[];
  vlanTpids?: number[];
  srcMac?: string;
  dstMac?: string;
}): Buffer {
  const tags = vlanTags(opts.vlan, opts.vlanTpids);
  const head = Buffer.alloc(14 + 4 * tags.length);
  mac(opts.dstMac ?? DEFAULT_DST_MAC).copy(head, 0);
  mac(opts.srcMac ?? DEFAULT_SRC_MAC).copy(head, 6);
  let off = 12;
  for (const t of tags) {
    head.writeUInt16BE(t.tpid, off);
    head.writeUInt16BE(t.id, off + 2);
    off += 4;
  }
  head.writeUInt16BE(opts.etherType, off);
  return Buffer.concat([head, opts.payload]);
}

/** An ARP request (op 1) or reply (op 2) for IPv4 over Ethernet. */
export function buildArpFrame(opts: {
  senderIp: string;
  targetIp: string;
  op?: 1 | 2;
  senderMac?: string;
  targetMac?: string;
  vlan?: number[];
}): Buffer {
  const arp = Buffer.alloc(28);
  arp.writeUInt16BE(1, 0); // Ethernet
  arp.writeUInt16BE(EtherType.ipv4, 2);
  arp.writeUInt8(6, 4);
  arp.writeUInt8(4, 5);
  arp.writeUInt16BE(opts.op ?? 1, 6);
  mac(opts.senderMac ?? DEFAULT_SRC_MAC).copy(arp, 8);
  address(opts.senderIp, 4).copy(arp, 14);
  mac(opts.targetMac ?? '00:00:00:00:00:00').copy(arp, 18);
  address(opts.targetIp, 4).copy(arp, 24);
  return buildEthernetFrame({
    etherType: EtherType.arp,
    payload: arp,
    vlan: opts.vlan,
    srcMac: opts.senderMac,
    dstMac: opts.op === 2 ? opts.targetMac : 'ff:ff:ff:ff:ff:ff',
  });
}

function pseudoHeader(spec: PacketSpec, proto: number, length: number): Buffer {
  if (spec.family === 4) {
    const p = Buffer.alloc(12);
    address(spec.src, 4).copy(p, 0);
    address(spec.dst, 4).copy(p, 4);
    p.writeUInt8(proto, 9);
    p.writeUInt16BE(length, 10);
    return p;
  }
  const p = Buffer.alloc(40);
  address(spec.src, 6).copy(p, 0);
  address(spec.dst, 6).copy(p, 16);
  p.writeUInt32BE(length, 32);
  p.writeUInt8(proto, 39);
  return p;
}

function port(n: number | undefined, what: string): number {
  const v = n ?? 0;
  if (!Number.isInteger(v) || v < 0 || v > 65535) throw new FrameError(`packet: bad ${what} ${v}`);
  return v;
}

/** The upper-layer header and payload, checksummed. */
function upperLayer(spec: PacketSpec, proto: number): Buffer {
  const payload = spec.payload ?? Buffer.alloc(0);
  const sport = port(spec.sport, 'source port');
  const dport = port(spec.dport, 'destination port');
  if (proto === 6) {
    const h = Buffer.alloc(20);
    h.writeUInt16BE(sport, 0);
    h.writeUInt16BE(dport, 2);
    h.writeUInt32BE(1, 4); // sequence number
    h.writeUInt8(5 << 4, 12);
    h.writeUInt8(spec.tcpFlags ?? 0x02, 13);
    h.writeUInt16BE(65535, 14);
    const seg = Buffer.concat([h, payload]);
    seg.writeUInt16BE(internetChecksum(pseudoHeader(spec, proto, seg.length), seg), 16);
    return seg;
  }
  if (proto === 17 || proto === 136) {
    const h = Buffer.alloc(8);
    h.writeUInt16BE(sport, 0);
    h.writeUInt16BE(dport, 2);
    // UDP: the length; UDPLite: the checksum coverage, where 0 means the whole datagram.
    h.writeUInt16BE(proto === 17 ? 8 + payload.length : 0, 4);
    const seg = Buffer.concat([h, payload]);
    const sum = internetChecksum(pseudoHeader(spec, proto, seg.length), seg);
    seg.writeUInt16BE(sum === 0 ? 0xffff : sum, 6);
    return seg;
  }
  if (proto === 132) {
    const h = Buffer.alloc(12);
    h.writeUInt16BE(sport, 0);
    h.writeUInt16BE(dport, 2);
    h.writeUInt32BE(0x01020304, 4); // verification tag
    const seg = Buffer.concat([h, payload]);
    seg.writeUInt32LE(crc32c(seg), 8);
    return seg;
  }
  if ((proto === 1 && spec.family === 4) || (proto === 58 && spec.family === 6)) {
    const h = Buffer.alloc(8);
    h.writeUInt8(spec.icmpType ?? (proto === 1 ? 8 : 128), 0);
    h.writeUInt8(spec.icmpCode ?? 0, 1);
    if (spec.icmpRest) {
      if (spec.icmpRest.length !== 4) throw new FrameError('packet: icmpRest must be 4 bytes');
      spec.icmpRest.copy(h, 4);
    }
    const msg = Buffer.concat([h, payload]);
    const sum = proto === 1 ? internetChecksum(msg) : internetChecksum(pseudoHeader(spec, proto, msg.length), msg);
    msg.writeUInt16BE(sum, 2);
    return msg;
  }
  return payload;
}

function fragmentField(spec: PacketSpec): { offsetUnits: number; more: boolean; id: number } | null {
  const f = spec.fragment;
  if (!f) return null;
  if (!Number.isInteger(f.offset) || f.offset < 0 || f.offset % 8 !== 0 || f.offset / 8 > 0x1fff) {
    throw new FrameError(`packet: fragment offset ${f.offset} must be a multiple of 8 bytes below 65536`);
  }
  return { offsetUnits: f.offset / 8, more: f.more, id: f.id ?? 0x1234 };
}

const EXT_CODES = { 'hop-by-hop': 0, routing: 43, fragment: 44, ah: 51, destination: 60 } as const;

/** Pads TLV options so that 2 + options is a multiple of 8, with Pad1 or PadN. */
function paddedOptions(options: Buffer): Buffer {
  const total = Math.ceil((2 + options.length) / 8) * 8;
  const pad = total - 2 - options.length;
  if (pad === 0) return options;
  if (pad === 1) return Buffer.concat([options, Buffer.from([0])]);
  return Buffer.concat([options, Buffer.from([1, pad - 2]), Buffer.alloc(pad - 2)]);
}

function extHeader(h: ExtHeaderSpec, next: number, spec: PacketSpec): Buffer {
  switch (h.type) {
    case 'hop-by-hop':
    case 'destination': {
      const body = paddedOptions(h.options ?? Buffer.alloc(0));
      const out = Buffer.concat([Buffer.from([next, (2 + body.length) / 8 - 1]), body]);
      return out;
    }
    case 'routing': {
      const data = h.data ?? Buffer.alloc(0);
      if (data.length % 8 !== 0) throw new FrameError('packet: routing header data must be a multiple of 8 bytes');
      const out = Buffer.alloc(8 + data.length);
      out.writeUInt8(next, 0);
      out.writeUInt8(out.length / 8 - 1, 1);
      out.writeUInt8(h.routingType ?? 0, 2);
      out.writeUInt8(h.segmentsLeft ?? 0, 3);
      data.copy(out, 8);
      return out;
    }
    case 'fragment': {
      const f = fragmentField(spec) ?? { offsetUnits: 0, more: false, id: 0x1234 };
      const out = Buffer.alloc(8);
      out.writeUInt8(next, 0);
      out.writeUInt16BE((f.offsetUnits << 3) | (f.more ? 1 : 0), 2);
      out.writeUInt32BE(f.id, 4);
      return out;
    }
    case 'ah': {
      const icv = h.icv ?? Buffer.alloc(12);
      const out = Buffer.alloc(12 + icv.length);
      if (out.length % 8 !== 0) throw new FrameError('packet: an IPv6 AH must be a multiple of 8 bytes');
      out.writeUInt8(next, 0);
      out.writeUInt8(out.length / 4 - 2, 1);
      out.writeUInt32BE(h.spi ?? 0x100, 4);
      out.writeUInt32BE(h.seq ?? 1, 8);
      icv.copy(out, 12);
      return out;
    }
  }
}

/** Builds the frame and reports where its headers are. */
export function layoutFrame(spec: PacketSpec): BuiltFrame {
  const proto = protoNumber(spec.proto);
  const frag = fragmentField(spec);
  const later = frag !== null && frag.offsetUnits > 0;
  const l4 = later ? (spec.payload ?? Buffer.alloc(0)) : upperLayer(spec, proto);
  const c = spec.corrupt ?? {};

  let ip: Buffer;
  let l4InIp: number;
  if (spec.family === 4) {
    const options = spec.ipOptions ?? Buffer.alloc(0);
    const optLen = Math.ceil(options.length / 4) * 4;
    if (optLen > 40) throw new FrameError('packet: IPv4 options are at most 40 bytes');
    const hlen = 20 + optLen;
    const h = Buffer.alloc(hlen);
    h.writeUInt8(((c.version ?? 4) << 4) | (hlen / 4), 0);
    h.writeUInt8(spec.tos ?? 0, 1);
    h.writeUInt16BE(hlen + l4.length, 2);
    h.writeUInt16BE(frag?.id ?? spec.ipId ?? 0, 4);
    const flags = (spec.dontFragment ? 0x4000 : 0) | (frag?.more ? 0x2000 : 0) | (frag?.offsetUnits ?? 0);
    h.writeUInt16BE(flags, 6);
    h.writeUInt8(spec.ttl ?? 64, 8);
    h.writeUInt8(proto, 9);
    address(spec.src, 4).copy(h, 12);
    address(spec.dst, 4).copy(h, 16);
    options.copy(h, 20);
    h.writeUInt16BE(internetChecksum(h), 10);
    if (c.ihl !== undefined) h.writeUInt8((h[0]! & 0xf0) | (c.ihl & 0x0f), 0);
    if (c.totalLength !== undefined) h.writeUInt16BE(c.totalLength, 2);
    ip = Buffer.concat([h, l4]);
    l4InIp = hlen;
  } else {
    const chain = [...(spec.extHeaders ?? [])];
    if (frag && !chain.some((h) => h.type === 'fragment')) chain.push({ type: 'fragment' });
    // Each header carries the code of the one after it: build from the end.
    const headers: Buffer[] = [];
    let next = proto;
    for (let i = chain.length - 1; i >= 0; i--) {
      const h = chain[i]!;
      headers.unshift(extHeader(h, next, spec));
      next = EXT_CODES[h.type];
    }
    const ext = Buffer.concat(headers);
    const h = Buffer.alloc(40);
    h.writeUInt32BE(((c.version ?? 6) << 28) | ((spec.tos ?? 0) << 20), 0);
    h.writeUInt16BE(c.payloadLength ?? ext.length + l4.length, 4);
    h.writeUInt8(next, 6);
    h.writeUInt8(spec.ttl ?? 64, 7);
    address(spec.src, 6).copy(h, 8);
    address(spec.dst, 6).copy(h, 24);
    ip = Buffer.concat([h, ext, l4]);
    l4InIp = 40 + ext.length;
  }

  let frame = buildEthernetFrame({
    etherType: spec.family === 4 ? EtherType.ipv4 : EtherType.ipv6,
    payload: ip,
    vlan: spec.vlan,
    vlanTpids: spec.vlanTpids,
    srcMac: spec.srcMac,
    dstMac: spec.dstMac,
  });
  const l3Off = 14 + 4 * (spec.vlan?.length ?? 0);
  const l4Off = later ? null : l3Off + l4InIp;
  if (c.tcpDataOffset !== undefined && proto === 6 && l4Off !== null) {
    frame.writeUInt8((c.tcpDataOffset & 0x0f) << 4, l4Off + 12);
  }
  if (spec.padTo !== undefined && frame.length < spec.padTo)
    frame = Buffer.concat([frame, Buffer.alloc(spec.padTo - frame.length)]);
  if (c.truncateTo !== undefined) frame = frame.subarray(0, c.truncateTo);
  return { frame, l3Off, l4Off, ipProto: proto };
}

/** The raw frame bytes for a packet description. */
export function buildFrame(spec: PacketSpec): Buffer {
  return layoutFrame(spec).frame;
}

/**
 * The frame of a packet description (what the reference evaluator takes), with any extras (VLAN tags …). A later
 * fragment gets offset 1480 and a few payload bytes; an ICMP header without a type is type 0, as the evaluator reads it.
 */
export function packetFrame(p: PacketDescription, extra: Partial<PacketSpec> = {}): Buffer {
  const spec: PacketSpec = {
    family: p.family,
    proto: p.protocol,
    src: p.src,
    dst: p.dst,
    sport: p.sport,
    dport: p.dport,
    icmpType: p.icmpType ?? 0,
    icmpCode: p.icmpCode ?? 0,
    ...extra,
  };
  if (p.laterFragment) {
    spec.fragment = spec.fragment ?? { offset: 1480, more: false };
    spec.payload = spec.payload ?? Buffer.alloc(16, 0xab);
  }
  return buildFrame(spec);
}

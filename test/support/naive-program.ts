// The naive policy program: one entry after another, each a chain of checks that jumps to the next entry on the first
// failure (the bpfilter/iptables way). Same semantics and the same contract with nt_xdp_entry and the epilogues as
// the generated program; it exists as the baseline the benchmark measures the classifier against, and as a second
// program the tests can run beside the generated one. Not product code: src/ never imports it.
//
// Registers: R6 the context, R7 nt_state, R0..R5 scratch within one check (R2 the field value being compared).
// Small sets are compared inline (mask and compare per prefix); a set with more than `inlinePrefixes` prefixes
// gets an LPM trie of its own (presence only) and costs one lookup per entry that uses it.
import { ProgramBuilder, FP, R0, R1, R2, R3, R4, R6, R7, type AssembledProgram } from '../../src/asm/index.js';
import { JumpSlot, PacketFlag, STATE_FIELDS } from '../../src/abi/notrack.js';
import { MapFlag, MapType } from '../../src/abi/bpf-uapi.js';
import { parseCidr, type IpFamily } from '../../src/net/cidr.js';
import type { DesiredState, IngressEntry, PortRange } from '../../src/compile/desired-state.js';
import { STACK_INDEX, STACK_KEY, STATIC_MAP_NAMES, XDP_DROP, XDP_PASS } from '../../src/compile/program/frame.js';
import { LOG_RECORDS, PolicyProgramError } from '../../src/compile/program/limits.js';

const R_CTX = R6;
const R_STATE = R7;

/** A set the naive program looks up in a trie: its map and contents. */
export interface NaiveSetMap {
  readonly name: string;
  readonly setId: string;
  readonly family: IpFamily;
  readonly type: number;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly flags: number;
  /** `count` keys of `keySize` bytes (u32 prefix length, then the address); every value is 1. */
  readonly keys: Buffer;
  readonly count: number;
}

export interface NaiveProgram {
  /**
   * The program in parts: part 0 for nt_jump slot 0, part k for slot 3 + k; each part holds `entriesPerPart`
   * entries of each family and tail-calls the next. (The verifier walks at most 8192 pending branches per program;
   * a chain of checks leaves a few per entry behind, so one program cannot hold 10,000 entries.)
   */
  readonly parts: readonly AssembledProgram[];
  readonly maps: readonly NaiveSetMap[];
}

/** The nt_jump slot of part k of a split program. */
export function partSlot(k: number): number {
  return k === 0 ? JumpSlot.policy : JumpSlot.splitFirst + k - 1;
}

interface ParsedPrefix {
  addr: Uint8Array;
  prefix: number;
}

function verdictSlot(action: IngressEntry['action']): number {
  return action === 'Allow' ? JumpSlot.accept : action === 'Deny' ? JumpSlot.drop : JumpSlot.pass;
}

/** The u32 words a little-endian load of the address bytes gives, for the address and for the prefix mask. */
function loadWords(bytes: Uint8Array): number[] {
  const out: number[] = [];
  for (let i = 0; i < bytes.length; i += 4)
    out.push((bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24)) >>> 0);
  return out;
}

function maskBytes(len: number, size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = (0xff00 >> Math.max(0, Math.min(8, len - i * 8))) & 0xff;
  return out;
}

export function emitNaiveProgram(
  state: DesiredState,
  iface: string,
  options: { inlinePrefixes?: number; entriesPerPart?: number } = {},
): NaiveProgram {
  const ifc = state.interfaces.find((i) => i.name === iface) ?? state.interfaces.find((i) => i.name === '*');
  if (!ifc) throw new PolicyProgramError('policy-program-bad-input', `the desired state has no interface ${iface}`);
  const inline = options.inlinePrefixes ?? 8;
  const maps = new Map<string, NaiveSetMap>();
  const parsed = new Map<string, ParsedPrefix[]>();

  const prefixesOf = (id: string, family: IpFamily): ParsedPrefix[] => {
    const key = `${family}/${id}`;
    let list = parsed.get(key);
    if (!list) {
      const set = state.sets[id];
      if (!set)
        throw new PolicyProgramError(
          'policy-program-bad-input',
          `an entry refers to set ${id}, which the desired state does not hold`,
        );
      list =
        set.family !== family
          ? []
          : set.prefixes.map((t) => {
              const c = parseCidr(t);
              if (!c) throw new PolicyProgramError('policy-program-bad-input', `set ${id}: ${t} is not a CIDR`);
              return { addr: c.addr, prefix: c.prefix };
            });
      parsed.set(key, list);
    }
    return list;
  };
  const trieOf = (id: string, family: IpFamily, list: ParsedPrefix[]): NaiveSetMap => {
    let m = maps.get(`${family}/${id}`);
    if (!m) {
      const keySize = family === 4 ? 8 : 20;
      const keys = Buffer.alloc(list.length * keySize);
      list.forEach((p, i) => {
        keys.writeUInt32LE(p.prefix, i * keySize);
        keys.set(p.addr, i * keySize + 4);
      });
      m = {
        name: `ntn_s${maps.size}`,
        setId: id,
        family,
        type: MapType.LPM_TRIE,
        keySize,
        valueSize: 1,
        maxEntries: Math.max(1, list.length),
        flags: MapFlag.NO_PREALLOC,
        keys,
        count: list.length,
      };
      maps.set(`${family}/${id}`, m);
    }
    return m;
  };

  let p = new ProgramBuilder();

  /** Jumps to `fail` unless the address at `at` is in the set (`member`), or when it is (`!member`). */
  const setCheck = (id: string, family: IpFamily, at: number, member: boolean, fail: string): void => {
    const list = prefixesOf(id, family);
    // Empty (only for notInSets: entries with an empty inSet are left out) or whole-family (only for inSets: an
    // entry excluding a whole-family set is left out): nothing to check.
    if (list.length === 0 || list.some((x) => x.prefix === 0)) return;
    const hit = p.newLabel('in_set');
    if (list.length > inline) {
      const trie = trieOf(id, family, list);
      const words = family === 4 ? 1 : 4;
      p.st('u32', FP, STACK_KEY, words * 32);
      for (let w = 0; w < words; w++) p.ldx('u32', R1, R_STATE, at + 4 * w).stx('u32', FP, STACK_KEY + 4 + 4 * w, R1);
      p.ldMap(R1, trie.name).mov64(R2, FP).alu64('add', R2, STACK_KEY).call('map_lookup_elem');
      p.jmp(member ? 'jeq' : 'jne', R0, 0, fail);
      return;
    }
    if (member && list.length === 1) {
      const pre = list[0]!;
      const net = loadWords(pre.addr);
      const mask = loadWords(maskBytes(pre.prefix, pre.addr.length));
      net.forEach((n, w) => {
        if (mask[w] === 0) return;
        p.ldx('u32', R2, R_STATE, at + 4 * w);
        if (mask[w] !== 0xffffffff) p.alu32('and', R2, mask[w]!);
        p.jmp32('jne', R2, n, fail);
      });
      return;
    }
    for (const pre of list) {
      const net = loadWords(pre.addr);
      const mask = loadWords(maskBytes(pre.prefix, pre.addr.length));
      const next = p.newLabel('next_prefix');
      net.forEach((n, w) => {
        if (mask[w] === 0) return;
        p.ldx('u32', R2, R_STATE, at + 4 * w);
        if (mask[w] !== 0xffffffff) p.alu32('and', R2, mask[w]!);
        p.jmp32('jne', R2, n, next);
      });
      p.ja(hit);
      p.label(next);
    }
    // No prefix matched.
    if (member) p.ja(fail);
    else p.ja(`${hit}_after`);
    p.label(hit);
    if (!member) p.ja(fail);
    p.label(`${hit}_after`);
  };

  /** Jumps to `fail` unless R2 (a port) is in one of the ranges (`inside`), or when it is (`!inside`). */
  const rangeCheck = (ranges: readonly PortRange[], inside: boolean, fail: string): void => {
    // One range to be inside: jump away on failure and fall through on success, so the verifier's walk of the
    // not-matching path does not leave a pending branch behind for every entry (it allows 8192).
    if (inside && ranges.length === 1) {
      const r = ranges[0]!;
      if (r.from === r.to) p.jmp('jne', R2, r.from, fail);
      else p.jmp('jlt', R2, r.from, fail).jmp('jgt', R2, r.to, fail);
      return;
    }
    const hit = p.newLabel('in_range');
    for (const r of ranges) {
      if (r.from === r.to) p.jmp('jeq', R2, r.from, hit);
      else {
        const skip = p.newLabel('below');
        p.jmp('jlt', R2, r.from, skip).jmp('jle', R2, r.to, hit).label(skip);
      }
    }
    if (inside) p.ja(fail);
    else p.ja(`${hit}_after`);
    p.label(hit);
    if (!inside) p.ja(fail);
    p.label(`${hit}_after`);
  };

  const requireFlag = (flag: number, fail: string): void => {
    p.ldx('u32', R1, R_STATE, STATE_FIELDS.flags.offset).alu64('and', R1, flag).jmp('jeq', R1, 0, fail);
  };

  /** True when the entry has no check at all: if it decides, nothing after it in its family is reachable. */
  const unconditional = (e: IngressEntry, family: IpFamily): boolean =>
    e.protocol === null &&
    e.notProtocol === null &&
    e.icmp === null &&
    e.notICMP === null &&
    [e.source, e.destination].every(
      (m) =>
        m.ports.length === 0 &&
        m.notPorts.length === 0 &&
        m.inSets.every((id) => prefixesOf(id, family).some((x) => x.prefix === 0)) &&
        m.notInSets.every((id) => prefixesOf(id, family).length === 0),
    );

  const emitEntry = (e: IngressEntry, family: IpFamily): void => {
    // An entry that can never match (a set of the other family, a notICMP that names every message) emits
    // nothing: the verifier refuses code it cannot reach.
    const everything = (id: string): boolean => prefixesOf(id, family).some((x) => x.prefix === 0);
    const never =
      [e.source, e.destination].some(
        (m) => m.inSets.some((id) => prefixesOf(id, family).length === 0) || m.notInSets.some(everything),
      ) ||
      (e.notICMP !== null && e.notICMP.type === undefined && e.notICMP.code === undefined);
    if (never) return;
    const next = p.newLabel('next_entry');
    if (e.protocol !== null || e.notProtocol !== null) {
      p.ldx('u8', R2, R_STATE, STATE_FIELDS.ipProto.offset);
      if (e.protocol !== null) p.jmp('jne', R2, e.protocol, next);
      if (e.notProtocol !== null) p.jmp('jeq', R2, e.notProtocol, next);
    }
    if (e.icmp || e.notICMP) {
      requireFlag(PacketFlag.icmp, next);
      p.ldx('u8', R2, R_STATE, STATE_FIELDS.icmpType.offset).ldx('u8', R3, R_STATE, STATE_FIELDS.icmpCode.offset);
      if (e.icmp) {
        if (e.icmp.type !== undefined) p.jmp('jne', R2, e.icmp.type, next);
        if (e.icmp.code !== undefined) p.jmp('jne', R3, e.icmp.code, next);
      }
      if (e.notICMP) {
        const differs = p.newLabel('icmp_differs');
        if (e.notICMP.type !== undefined) p.jmp('jne', R2, e.notICMP.type, differs);
        if (e.notICMP.code !== undefined) p.jmp('jne', R3, e.notICMP.code, differs);
        p.ja(next).label(differs);
      }
    }
    for (const side of ['source', 'destination'] as const) {
      const m = e[side];
      if (m.ports.length || m.notPorts.length) {
        requireFlag(PacketFlag.ports, next);
        p.ldx('u16', R2, R_STATE, side === 'source' ? STATE_FIELDS.sport.offset : STATE_FIELDS.dport.offset);
        if (m.ports.length) rangeCheck(m.ports, true, next);
        if (m.notPorts.length) rangeCheck(m.notPorts, false, next);
      }
      const at = side === 'source' ? STATE_FIELDS.saddr.offset : STATE_FIELDS.daddr.offset;
      for (const id of m.inSets) setCheck(id, family, at, true, next);
      for (const id of m.notInSets) setCheck(id, family, at, false, next);
    }
    if (e.action === 'Log') {
      const counted = p.newLabel('log_counted');
      p.ldx('u32', R1, R_STATE, STATE_FIELDS.logCount.offset).jmp('jge', R1, LOG_RECORDS, counted);
      p.mov64(R2, R1).alu64('lsh', R2, 2).mov64(R3, R_STATE).alu64('add', R3, R2);
      p.mov32(R4, e.counter).stx('u32', R3, STATE_FIELDS.logRules.offset, R4);
      p.label(counted).alu64('add', R1, 1).stx('u32', R_STATE, STATE_FIELDS.logCount.offset, R1);
    } else {
      const slot = verdictSlot(e.action);
      p.st('u32', R_STATE, STATE_FIELDS.ruleId.offset, e.counter);
      p.mov64(R1, R_CTX).ldMap(R2, STATIC_MAP_NAMES.jump).mov64(R3, slot).call('tail_call');
      p.mov64(R0, slot === JumpSlot.drop ? XDP_DROP : XDP_PASS).exit();
    }
    p.label(next);
  };

  /** After the part's entries: the next part, or the pass epilogue (no match) after the last. */
  const partEnd = (slot: number): void => {
    p.mov64(R1, R_CTX).ldMap(R2, STATIC_MAP_NAMES.jump).mov64(R3, slot).call('tail_call');
    p.mov64(R0, XDP_PASS).exit();
  };
  const emitFamily = (entries: readonly IngressEntry[], family: IpFamily, endSlot: number): void => {
    for (const e of entries) {
      emitEntry(e, family);
      if (e.action !== 'Log' && unconditional(e, family)) return;
    }
    partEnd(endSlot);
  };
  const per = options.entriesPerPart ?? 1000;
  const v4 = ifc.ingress.v4,
    v6 = ifc.ingress.v6;
  const count = Math.max(1, Math.ceil(v4.length / per), Math.ceil(v6.length / per));
  const parts: AssembledProgram[] = [];
  for (let k = 0; k < count; k++) {
    p = new ProgramBuilder();
    p.mov64(R_CTX, R1);
    p.st('u32', FP, STACK_INDEX, 0).ldMap(R1, STATIC_MAP_NAMES.state).mov64(R2, FP).alu64('add', R2, STACK_INDEX);
    p.call('map_lookup_elem').jmp('jne', R0, 0, 'have_state').mov64(R0, XDP_PASS).exit();
    p.label('have_state').mov64(R_STATE, R0);
    p.ldx('u8', R1, R_STATE, STATE_FIELDS.family.offset).jmp('jne', R1, 6, 'family_4').gotol('family_6');
    const endSlot = k === count - 1 ? JumpSlot.pass : partSlot(k + 1);
    p.label('family_4');
    emitFamily(v4.slice(k * per, (k + 1) * per), 4, endSlot);
    p.label('family_6');
    emitFamily(v6.slice(k * per, (k + 1) * per), 6, endSlot);
    parts.push(p.assemble());
  }
  return { parts, maps: [...maps.values()] };
}

// What is on an interface and in its pins: attachments (ours or not), generations, failsafes, policy slots, counters.
import {
  isBpfError,
  interfaceIndex,
  programRef,
  programSlotId,
  tcxQuery,
  xdpQuery,
  readU32,
  type BpfMap,
  type ProgramRef,
  type XdpAttachMode,
} from '../../libbpf/index.js';
import type { Failsafe } from '../../compile/desired-state.js';
import {
  Counter,
  decodeFailsafeKey,
  encodeFailsafePorts,
  JumpSlot,
  Limits,
  sumPerCpuCounter,
  TcCounter,
  type CounterName,
  type CounterValue,
  type DataplaneConfig,
  type TcCounterName,
} from '../../abi/notrack.js';
import { clsBpfFilters } from '../tc-filters.js';
import { findNotrackClsBpf } from './cls-bpf.js';
import { XdpDataplaneError } from './errors.js';
import { failsafesFromEntries } from './failsafes.js';
import { openGeneration, type InterfaceGeneration } from './generation.js';
import { InterfacePins, type GenerationProgramName } from './pin-paths.js';
import { readPinnedLinks } from './pinned-links.js';

interface ObserveInterfaceOptions {
  ifname: string;
  pinDir: string;
  /** The applied policy wants notrack on this interface: it is reported unprotected even when nothing is pinned
   *  for it (a re-created interface, one that appeared after the apply, a boot without restore). */
  expected?: boolean;
  /** Read the counters (default true). A check of what runs needs none, and 10,000 rules' per-CPU counters are
   *  most of what observing an interface costs. */
  counters?: boolean;
  /** List the cls_bpf filters on ingress even when notrack's tcx link runs there (default true). They change no
   *  finding then, and listing them spawns `tc` (netlink's filter dump has no libbpf call): a check skips them. */
  clsBpf?: boolean;
}

/** An attached program, and whether it is one of this interface's pinned generations (and which). */
interface ObservedProgram extends ProgramRef {
  ours: boolean;
  generation: number | null;
}

interface ObservedXdp {
  mode: XdpAttachMode;
  programs: ObservedProgram[];
  /** notrack's pinned XDP link: `live` is false once it is defunct (its interface was deleted). */
  link: { id: number; progId: number; live: boolean } | null;
}

interface ObservedTc {
  /** How notrack's TC program is attached to ingress, or none. */
  mechanism: 'tcx' | 'cls_bpf' | 'none';
  /** Every program on ingress: tcx programs in run order, then cls_bpf filters. */
  programs: (ObservedProgram & { via: 'tcx' | 'cls_bpf' })[];
  link: { id: number; progId: number; live: boolean } | null;
}

interface ObservedPolicy {
  /** The program in slot 0, or null when the slot is empty (every packet passes, tracked). */
  program: ProgramRef | null;
  /** Occupied policy slots (0 and split parts), ascending, with their program ids. */
  slots: number[];
  programIds: number[];
}

export interface ObservedGeneration {
  number: number;
  path: string;
  /** False when some of its pins are missing: it can only be removed. */
  complete: boolean;
  /** The XDP link runs this generation's entry program. */
  attached: boolean;
  programIds: Record<GenerationProgramName, number> | null;
  config: DataplaneConfig | null;
  /** nt_failsafe as failsafes, in canonical order (sortFailsafes). */
  failsafes: Failsafe[];
  /** nt_failsafe_ports is filled and has exactly the ports of nt_failsafe. */
  failsafePortsConsistent: boolean;
  policy: ObservedPolicy;
  /** Slots 1-3 hold this generation's accept, drop and pass programs. */
  epiloguesIntact: boolean;
  /** Per reason (nt_counters), summed over CPUs. */
  counters: Record<CounterName, CounterValue>;
  tcCounters: Record<TcCounterName, CounterValue>;
  /** Per rule index, summed over CPUs; as many as nt_rule_counters holds. */
  ruleCounters: CounterValue[];
}

type FindingCode =
  | 'interface-missing'
  | 'xdp-not-attached'
  | 'xdp-foreign'
  | 'xdp-link-defunct'
  | 'tc-missing'
  | 'tc-generation-differs'
  | 'policy-empty'
  | 'epilogues-missing'
  | 'generation-incomplete'
  | 'extra-generations'
  | 'failsafe-ports-differ';

/** Something that differs from a healthy, converged interface, for drift reports. */
interface Finding {
  code: FindingCode;
  message: string;
}

export interface InterfaceObservation {
  ifname: string;
  /** null when the interface does not exist in this namespace. */
  ifindex: number | null;
  xdp: ObservedXdp;
  tc: ObservedTc;
  generations: ObservedGeneration[];
  /** The generation the XDP link runs, or null. */
  activeGeneration: number | null;
  findings: Finding[];
}

const ZERO: CounterValue = { packets: 0n, bytes: 0n };

function readCounters(map: BpfMap): CounterValue[] {
  const out: CounterValue[] = Array.from({ length: map.maxEntries }, () => ZERO);
  for (const e of map.lookupBatchPerCpu().entries) {
    const index = readU32(e.key);
    if (index < out.length) out[index] = sumPerCpuCounter(Buffer.concat(e.values));
  }
  return out;
}

function named<K extends string>(names: Record<K, number>, values: CounterValue[]): Record<K, CounterValue> {
  return Object.fromEntries(Object.entries(names).map(([k, i]) => [k, values[i as number] ?? ZERO])) as Record<
    K,
    CounterValue
  >;
}

function observeGeneration(
  gen: InterfaceGeneration,
  attachedProgId: number | undefined,
  counters: boolean,
): ObservedGeneration {
  const read = (map: BpfMap): CounterValue[] => (counters ? readCounters(map) : []);
  const jump = gen.maps.jump;
  const trie = gen.maps.failsafe.keys().map(decodeFailsafeKey);
  const ports = gen.maps.failsafePorts.lookup(0);
  const slots: number[] = [];
  const programIds: number[] = [];
  for (const slot of [
    JumpSlot.policy,
    ...Array.from({ length: Limits.jumpSlots - JumpSlot.splitFirst }, (_, i) => JumpSlot.splitFirst + i),
  ]) {
    const id = programSlotId(jump, slot);
    if (id !== undefined) {
      slots.push(slot);
      programIds.push(id);
    }
  }
  const policyId = programSlotId(jump, JumpSlot.policy);
  const ids = gen.ids.programs;
  return {
    number: gen.number,
    path: gen.path,
    complete: true,
    attached: attachedProgId === ids.xdpEntry,
    programIds: { ...ids },
    config: gen.config,
    failsafes: failsafesFromEntries(trie),
    failsafePortsConsistent: ports !== undefined && ports.equals(encodeFailsafePorts(trie)),
    policy: { program: policyId === undefined ? null : programRef(policyId), slots, programIds },
    epiloguesIntact:
      programSlotId(jump, JumpSlot.accept) === ids.accept &&
      programSlotId(jump, JumpSlot.drop) === ids.drop &&
      programSlotId(jump, JumpSlot.pass) === ids.pass,
    counters: named(Counter, read(gen.maps.counters)),
    tcCounters: named(TcCounter, read(gen.maps.tcCounters)),
    ruleCounters: read(gen.maps.ruleCounters),
  };
}

function incompleteGeneration(pins: InterfacePins, n: number): ObservedGeneration {
  return {
    number: n,
    path: pins.generation(n),
    complete: false,
    attached: false,
    programIds: null,
    config: null,
    failsafes: [],
    failsafePortsConsistent: false,
    policy: { program: null, slots: [], programIds: [] },
    epiloguesIntact: false,
    counters: named(Counter, []),
    tcCounters: named(TcCounter, []),
    ruleCounters: [],
  };
}

/**
 * Reads everything notrack has on `ifname`, in the calling thread's network namespace, from the kernel and the
 * pins under `<pinDir>/<ifname>/`: what is attached (and whether it is notrack's), each pinned generation with
 * its configuration, failsafes, policy slots and counters, and findings that a drift report can show.
 * Changes nothing.
 */
export function observeInterface(opts: ObserveInterfaceOptions): InterfaceObservation {
  const pins = new InterfacePins(opts.pinDir, opts.ifname);
  let ifindex: number | null = null;
  try {
    ifindex = interfaceIndex(opts.ifname);
  } catch (e) {
    if (!isBpfError(e, 'bpf-not-found')) throw e;
  }
  const links = readPinnedLinks(pins);
  const findings: Finding[] = [];

  const generations: ObservedGeneration[] = [];
  for (const n of pins.generations()) {
    let gen: InterfaceGeneration;
    try {
      gen = openGeneration({ ifname: opts.ifname, pinDir: opts.pinDir, generation: n });
    } catch (e) {
      if (!(e instanceof XdpDataplaneError && e.code === 'xdp-generation-missing')) throw e;
      generations.push(incompleteGeneration(pins, n));
      findings.push({
        code: 'generation-incomplete',
        message: `generation ${n} of ${opts.ifname} is missing pins under ${pins.generation(n)}`,
      });
      continue;
    }
    try {
      generations.push(observeGeneration(gen, links.xdp?.progId, opts.counters !== false));
    } finally {
      gen.close();
    }
  }
  const ownerOf = (id: number, name: GenerationProgramName): number | null =>
    generations.find((g) => g.programIds?.[name] === id)?.number ?? null;
  const observed = (id: number, name: GenerationProgramName): ObservedProgram => {
    const generation = ownerOf(id, name);
    return { ...programRef(id), ours: generation !== null, generation };
  };

  const xdpState = ifindex === null ? null : xdpQuery(ifindex);
  const xdp: ObservedXdp = {
    mode: xdpState?.mode ?? 'none',
    programs: (xdpState?.programIds ?? []).map((id) => observed(id, 'xdpEntry')),
    link: links.xdp ? { id: links.xdp.linkId, progId: links.xdp.progId, live: links.xdp.ifindex !== 0 } : null,
  };

  const tcPrograms: ObservedTc['programs'] = [];
  let tcMechanism: ObservedTc['mechanism'] = 'none';
  if (ifindex !== null) {
    const tcx = tcxQuery(ifindex, 'ingress');
    for (const id of tcx.programIds) tcPrograms.push({ ...observed(id, 'tcIngress'), via: 'tcx' });
    const ownTcx = links.tc?.mechanism === 'tcx' && links.tc.ifindex !== 0 && tcx.programIds.includes(links.tc.progId);
    if (opts.clsBpf !== false || !ownTcx)
      for (const f of clsBpfFilters(ifindex, 'ingress'))
        tcPrograms.push({ ...observed(f.progId, 'tcIngress'), via: 'cls_bpf' });
    if (ownTcx) tcMechanism = 'tcx';
    else if (
      findNotrackClsBpf(
        ifindex,
        generations.map((g) => g.programIds?.tcIngress ?? 0),
      )
    )
      tcMechanism = 'cls_bpf';
  }
  const tc: ObservedTc = {
    mechanism: tcMechanism,
    programs: tcPrograms,
    link:
      links.tc?.mechanism === 'tcx'
        ? { id: links.tc.linkId, progId: links.tc.progId, live: links.tc.ifindex !== 0 }
        : null,
  };

  const active =
    generations.find((g) => g.attached && xdp.programs.some((p) => p.id === g.programIds?.xdpEntry)) ?? null;
  const anything = generations.length > 0 || links.xdp !== undefined;
  if (ifindex === null && anything) {
    findings.push({
      code: 'interface-missing',
      message: `${opts.ifname} does not exist here, but notrack has pins for it under ${pins.root}`,
    });
  }
  if (links.xdp && !xdp.link!.live) {
    findings.push({
      code: 'xdp-link-defunct',
      message: `the XDP link pinned at ${links.xdp.path} no longer has an interface`,
    });
  }
  for (const p of xdp.programs.filter((x) => !x.ours)) {
    findings.push({
      code: 'xdp-foreign',
      message: `another XDP program is attached to ${opts.ifname} in ${xdp.mode} mode: id ${p.id}${p.name ? ` (${p.name})` : ''}; notrack does not replace it`,
    });
  }
  if (ifindex !== null && !active && (generations.length > 0 || opts.expected === true)) {
    findings.push({ code: 'xdp-not-attached', message: `notrack's XDP program is not attached to ${opts.ifname}` });
  }
  if (active) {
    const tcOurs = tcPrograms.find((p) => p.ours);
    if (tcMechanism === 'none' || !tcOurs) {
      findings.push({
        code: 'tc-missing',
        message: `notrack's TC ingress program is not attached to ${opts.ifname}: accepted packets are not marked (they stay tracked)`,
      });
    } else if (tcOurs.generation !== active.number) {
      findings.push({
        code: 'tc-generation-differs',
        message: `TC on ${opts.ifname} runs generation ${tcOurs.generation}, XDP runs ${active.number}`,
      });
    }
    if (!active.policy.program) {
      findings.push({
        code: 'policy-empty',
        message: `generation ${active.number} on ${opts.ifname} has no policy program: every packet passes, tracked`,
      });
    }
    if (!active.epiloguesIntact) {
      findings.push({
        code: 'epilogues-missing',
        message: `nt_jump of generation ${active.number} on ${opts.ifname} lacks its accept/drop/pass programs`,
      });
    }
    if (!active.failsafePortsConsistent) {
      findings.push({
        code: 'failsafe-ports-differ',
        message: `nt_failsafe_ports of generation ${active.number} does not match nt_failsafe: some failsafes may not apply`,
      });
    }
  }
  if (generations.length > 1) {
    findings.push({
      code: 'extra-generations',
      message: `${generations.length} generations are pinned for ${opts.ifname} (${generations.map((g) => g.number).join(', ')}): an interrupted switch left some behind`,
    });
  }
  return { ifname: opts.ifname, ifindex, xdp, tc, generations, activeGeneration: active?.number ?? null, findings };
}

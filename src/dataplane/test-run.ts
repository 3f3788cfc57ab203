// The full XDP ingress pipeline run on frames with BPF_PROG_TEST_RUN, for `explain --kernel` and the differential
// tests: build/bpf/xdp.o loaded (entry, failsafes, epilogues), a DesiredState's policy program in its nt_jump slots,
// the state's failsafes, and what the kernel did read back: action, metadata flag, deciding rule and Log rules.
//
// Nothing is attached and nothing is pinned: the programs and maps live as long as this process holds their fds,
// so a test run touches no interface and needs no network namespace. It does need root (CAP_BPF, CAP_NET_ADMIN).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DesiredState, Failsafe, InterfaceState, PacketDescription } from '../compile/desired-state.js';
import { interfaceState } from '../compile/evaluate.js';
import type { KernelReason, KernelVerdict } from '../compile/explain.js';
import { BpfObject, testRunXdp, type BpfMap, type BpfProgram } from '../libbpf/index.js';
import { packetFrame } from './frames.js';
import {
  BPF_OBJECTS,
  Counter,
  encodeFailsafeKey,
  encodeFailsafePorts,
  FAILSAFE_VALUE,
  Limits,
  MAPS,
  Meta,
  PROGRAMS,
  RULE_NONE,
  STATE_FIELDS,
  STRUCTS,
  sumPerCpuCounter,
  type CounterName,
  type CounterValue,
} from '../abi/notrack.js';
import { loadPolicyProgram, type PolicyProgramStats } from './policy-program.js';
import { XdpDataplaneError } from './xdp/errors.js';
import { failsafeEntries } from './xdp/failsafes.js';

/** The repository root as seen from src/dataplane/ and from dist/dataplane/ alike. */
const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** enum xdp_action. */
export const XdpAction = { aborted: 0, drop: 1, pass: 2, tx: 3, redirect: 4 } as const;
const ACTION_NAMES = ['XDP_ABORTED', 'XDP_DROP', 'XDP_PASS', 'XDP_TX', 'XDP_REDIRECT'];

function xdpActionName(action: number): string {
  return ACTION_NAMES[action] ?? `XDP action ${action}`;
}

/** What the pipeline did with one frame. */
export interface FrameResult {
  /** The XDP action: 1 drop, 2 pass. */
  action: number;
  /** The accept epilogue's metadata (NT_META_MAGIC, NT_META_ACCEPTED) is in front of the packet. */
  accepted: boolean;
}

interface OpenTestRunOptions {
  /** The xdp.o to load; default the repository's build/bpf/xdp.o (scripts/build-bpf.mjs makes it). */
  objectPath?: string;
  /** Capacity of nt_rule_counters, when a policy has more rules than the compiled default. */
  ruleCounters?: number;
}

/** Closes what a policy program holds; a replaced program is closed once the slots point elsewhere. */
interface InstalledPolicy {
  close(): void;
}

const COUNTER_NAMES = Object.keys(Counter) as CounterName[];
const STATE_SIZE = STRUCTS.nt_state.size;

/** One load of xdp.o for test runs, and the policy program and failsafes it currently runs. */
export class XdpTestRun {
  readonly object: BpfObject;
  readonly entry: BpfProgram;
  readonly maps: {
    state: BpfMap;
    jump: BpfMap;
    counters: BpfMap;
    ruleCounters: BpfMap;
    failsafe: BpfMap;
    failsafePorts: BpfMap;
  };
  #policy: InstalledPolicy | null = null;
  #failsafeKeys: Buffer[] = [];

  protected constructor(object: BpfObject) {
    this.object = object;
    this.entry = object.program(PROGRAMS.xdpEntry).program();
    this.maps = {
      state: object.map(MAPS.state.name).map(),
      jump: object.map(MAPS.jump.name).map(),
      counters: object.map(MAPS.counters.name).map(),
      ruleCounters: object.map(MAPS.ruleCounters.name).map(),
      failsafe: object.map(MAPS.failsafe.name).map(),
      failsafePorts: object.map(MAPS.failsafePorts.name).map(),
    };
  }

  /** Opens and loads xdp.o. Without root the binding's BpfError (`bpf-permission`) says so. */
  static open(options: OpenTestRunOptions = {}): XdpTestRun {
    return new XdpTestRun(XdpTestRun.loadObject(options));
  }

  protected static loadObject(options: OpenTestRunOptions): BpfObject {
    const path = options.objectPath ?? join(REPO_ROOT, BPF_OBJECTS.xdp);
    if (!existsSync(path)) {
      throw new XdpDataplaneError(
        'xdp-object-missing',
        `${path} does not exist: build the BPF objects with \`node scripts/build-bpf.mjs\``,
      );
    }
    const object = BpfObject.open(path);
    try {
      if (options.ruleCounters !== undefined)
        object.map(MAPS.ruleCounters.name).setMaxEntries(Math.max(1, options.ruleCounters));
      object.load();
      return object;
    } catch (e) {
      object.close();
      throw e;
    }
  }

  /**
   * Compiles and loads the policy program of `iface` in `state`, puts it in its slots (replacing the previous one)
   * and writes the state's failsafes.
   */
  install(
    state: DesiredState,
    iface: string | InterfaceState,
    options: { steps?: number; minGroupEntries?: number; ipv6Table?: 'lengths' | 'lpm' } = {},
  ): PolicyProgramStats {
    const loaded = loadPolicyProgram({
      state,
      iface,
      steps: options.steps,
      minGroupEntries: options.minGroupEntries,
      ipv6Table: options.ipv6Table,
      staticMaps: { nt_state: this.maps.state, nt_jump: this.maps.jump, nt_counters: this.maps.counters },
    });
    loaded.install(this.maps.jump);
    this.replacePolicy(loaded);
    this.setFailsafes(state.failsafes);
    return loaded.stats;
  }

  /** Takes over a policy program already in the slots, closing the one it replaced. */
  protected replacePolicy(policy: InstalledPolicy): void {
    this.#policy?.close();
    this.#policy = policy;
  }

  /** Replaces the failsafe entries (trie and port filter) with these. */
  setFailsafes(failsafes: readonly Failsafe[]): void {
    for (const k of this.#failsafeKeys) this.maps.failsafe.delete(k);
    const entries = failsafeEntries(failsafes);
    this.#failsafeKeys = entries.map(encodeFailsafeKey);
    for (const k of this.#failsafeKeys) this.maps.failsafe.update(k, FAILSAFE_VALUE);
    this.maps.failsafePorts.update(0, encodeFailsafePorts(entries));
  }

  /** Runs one frame through nt_xdp_entry (-> failsafes -> policy -> epilogue). */
  run(frame: Uint8Array): FrameResult {
    const r = testRunXdp(this.entry, { packet: frame });
    return { action: r.action, accepted: hasAcceptedMeta(r.meta) };
  }

  /**
   * Runs one frame and reads back why the kernel did what it did: the global counter that moved, and the per-packet
   * state (deciding rule, Log rules) of the CPU that ran it. `iface` names the rules; its counters are the
   * program's rule indexes.
   */
  verdict(frame: Uint8Array, iface: InterfaceState | null): KernelVerdict {
    // Every CPU's state zeroed first: afterwards the one with a packet length is the CPU the run was on.
    this.maps.state.updatePerCpu(0, Buffer.alloc(STATE_SIZE));
    const before = this.#globalCounters();
    const r = testRunXdp(this.entry, { packet: frame });
    const after = this.#globalCounters();
    const moved = (name: CounterName): boolean => after[Counter[name]]! > before[Counter[name]]!;
    const state = this.maps.state.lookupPerCpu(0)?.find((s) => s.readUInt32LE(STATE_FIELDS.pktLen.offset) !== 0);

    const ruleId = state ? state.readUInt32LE(STATE_FIELDS.ruleId.offset) : RULE_NONE;
    const logCount = state ? state.readUInt32LE(STATE_FIELDS.logCount.offset) : 0;
    const logged: number[] = [];
    for (let i = 0; i < Math.min(logCount, Limits.logMax); i++)
      logged.push(state!.readUInt32LE(STATE_FIELDS.logRules.offset + 4 * i));
    const counter = ruleId === RULE_NONE ? null : ruleId;
    const untrackedFlag = hasAcceptedMeta(r.meta);
    return {
      action: r.action,
      actionName: xdpActionName(r.action),
      untrackedFlag,
      outcome:
        r.action === XdpAction.drop
          ? 'deny'
          : r.action === XdpAction.pass
            ? untrackedFlag
              ? 'allow'
              : 'pass'
            : 'other',
      reason: reasonOf(moved),
      counter,
      rule: counter === null ? null : (iface?.counters[counter] ?? null),
      logged,
      logCount,
    };
  }

  #globalCounters(): bigint[] {
    return COUNTER_NAMES.map((name) => this.counter(name).packets);
  }

  /** Rule counters summed over CPUs, for each index asked. */
  ruleCounters(indexes: readonly number[]): CounterValue[] {
    return indexes.map((i) => {
      const v = this.maps.ruleCounters.lookupPerCpu(i);
      return v ? sumPerCpuCounter(Buffer.concat(v)) : { packets: 0n, bytes: 0n };
    });
  }

  /** A global counter (nt_counters) summed over CPUs. */
  counter(name: CounterName): CounterValue {
    const v = this.maps.counters.lookupPerCpu(Counter[name]);
    return v ? sumPerCpuCounter(Buffer.concat(v)) : { packets: 0n, bytes: 0n };
  }

  /** Closes the policy program and the object: with no pins and no attachment, the kernel frees everything. */
  close(): void {
    this.#policy?.close();
    this.#policy = null;
    this.object.close();
  }
}

function hasAcceptedMeta(meta: Buffer): boolean {
  return (
    meta.length >= 8 &&
    meta.readUInt32LE(meta.length - 8) === Meta.magic &&
    (meta.readUInt32LE(meta.length - 4) & Meta.accepted) !== 0
  );
}

/** The reason from the global counters that moved; the outcome counters come last since they go with several. */
function reasonOf(moved: (name: CounterName) => boolean): KernelReason {
  if (moved('nonIp')) return 'non-ip';
  if (moved('malformed')) return 'malformed';
  if (moved('unsupported')) return 'unsupported';
  if (moved('failsafe')) return 'failsafe';
  if (moved('noPolicy')) return 'no-policy';
  if (moved('tailCallFailed')) return 'tail-call-failed';
  if (moved('noMatch')) return 'no-match';
  if (moved('accepted') || moved('dropped') || moved('policyPassed')) return 'rule';
  return 'unknown';
}

/**
 * The kernel's verdict for `packet` arriving on `iface` of the state's host: xdp.o loaded, the interface's policy
 * program and the failsafes installed, the packet's frame run once, everything closed again. An interface without
 * a state gets no policy program and no failsafes, as a host where notrack is not attached there.
 */
export function kernelVerdict(
  state: DesiredState,
  iface: string | InterfaceState,
  packet: PacketDescription,
): KernelVerdict {
  const ifc = typeof iface === 'string' ? interfaceState(state, iface) : iface;
  const frame = packetFrame(packet);
  const run = XdpTestRun.open({ ruleCounters: Math.max(Limits.ruleCountersMax, ifc?.counters.length ?? 0) });
  try {
    if (ifc) run.install(state, ifc);
    return run.verdict(frame, ifc);
  } finally {
    run.close();
  }
}

// The full XDP ingress pipeline for BPF_PROG_TEST_RUN: build/bpf/xdp.o loaded once (entry, failsafes, epilogues),
// a policy program in nt_jump slot 0, frames run through nt_xdp_entry, and the verdict and counters read back.
// Nothing is attached anywhere and nothing is pinned, so no namespace is needed.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { DesiredState, Failsafe, PacketDescription } from '../../src/compile/desired-state.js';
import { loadPolicyProgram, type LoadedPolicyProgram, type PolicyProgramStats } from '../../src/dataplane/policy-program.js';
import {
  BPF_OBJECTS, Counter, encodeFailsafeKey, encodeFailsafePorts, FAILSAFE_VALUE, JumpSlot, MAPS, Meta, POLICY_PROGRAM_LOAD, PROGRAMS,
  sumPerCpuCounter, type CounterName, type CounterValue,
} from '../../src/dataplane/layout.js';
import { failsafeEntries } from '../../src/dataplane/xdp/failsafes.js';
import {
  BpfObject, clearProgramSlot, createMap, loadProgram, setProgramSlot, testRunXdp, type BpfMap, type BpfProgram,
} from '../../src/libbpf/index.js';
import { patchMapFds } from '../../src/compile/asm/index.js';
import { emitNaiveProgram, partSlot } from '../../src/compile/program/index.js';
import { buildFrame, type PacketSpec } from './packets.js';

export const XDP_DROP = 1;
export const XDP_PASS = 2;

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** What the pipeline did with one frame. */
export interface PipelineResult {
  /** The XDP action: 1 drop, 2 pass. */
  action: number;
  /** The accept epilogue's metadata (NT_META_MAGIC, NT_META_ACCEPTED) is in front of the packet. */
  accepted: boolean;
}

export class Pipeline {
  readonly object: BpfObject;
  readonly entry: BpfProgram;
  readonly maps: {
    state: BpfMap; jump: BpfMap; counters: BpfMap; ruleCounters: BpfMap; failsafe: BpfMap; failsafePorts: BpfMap;
  };
  #policy: LoadedPolicyProgram | null = null;
  #naive: { programs: BpfProgram[]; maps: BpfMap[] } | null = null;
  #failsafeKeys: Buffer[] = [];

  private constructor(object: BpfObject) {
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

  /** Loads xdp.o (build it first: node scripts/build-bpf.mjs). */
  static open(): Pipeline {
    const path = `${ROOT}${BPF_OBJECTS.xdp}`;
    if (!existsSync(path)) throw new Error(`${path} is missing: run node scripts/build-bpf.mjs`);
    const object = BpfObject.open(path);
    try {
      object.load();
      return new Pipeline(object);
    } catch (e) {
      object.close();
      throw e;
    }
  }

  /**
   * Compiles and loads the policy program of `iface` in `state`, puts it in its slots (replacing the previous one)
   * and writes the state's failsafes.
   */
  install(state: DesiredState, iface: string, options: { steps?: number; minGroupEntries?: number } = {}): PolicyProgramStats {
    const loaded = loadPolicyProgram({
      state, iface, steps: options.steps, minGroupEntries: options.minGroupEntries,
      staticMaps: { nt_state: this.maps.state, nt_jump: this.maps.jump, nt_counters: this.maps.counters },
    });
    loaded.install(this.maps.jump);
    this.#release();
    this.#policy = loaded;
    this.setFailsafes(state.failsafes);
    return loaded.stats;
  }

  /**
   * Loads the naive baseline (one entry after another, src/compile/program/naive-program.ts) for the same state
   * and puts it in the policy slot instead. Returns its instruction count and load time.
   */
  installNaive(state: DesiredState, iface: string): { insns: number; verifiedInsns: number; parts: number; ms: number } {
    const t0 = performance.now();
    const naive = emitNaiveProgram(state, iface);
    const maps: BpfMap[] = [];
    const programs: BpfProgram[] = [];
    try {
      const fds: Record<string, number> = {
        [MAPS.state.name]: this.maps.state.fd.fd, [MAPS.jump.name]: this.maps.jump.fd.fd, [MAPS.counters.name]: this.maps.counters.fd.fd,
      };
      const one = Buffer.from([1]);
      for (const m of naive.maps) {
        const map = createMap({ type: m.type, name: m.name, keySize: m.keySize, valueSize: m.valueSize, maxEntries: m.maxEntries, flags: m.flags });
        maps.push(map);
        fds[m.name] = map.fd.fd;
        for (let at = 0; at < m.count; at += 65536) {
          const end = Math.min(m.count, at + 65536);
          const batch = [];
          for (let i = at; i < end; i++) batch.push({ key: m.keys.subarray(i * m.keySize, (i + 1) * m.keySize), value: one });
          map.updateBatch(batch);
        }
      }
      for (const part of naive.parts) {
        programs.push(loadProgram({
          type: POLICY_PROGRAM_LOAD.progType, expectedAttachType: POLICY_PROGRAM_LOAD.expectedAttachType,
          name: 'nt_naive', insns: patchMapFds(part, fds),
        }));
      }
      for (let k = programs.length - 1; k >= 0; k--) setProgramSlot(this.maps.jump, partSlot(k), programs[k]!);
      if (programs.length === 1) clearProgramSlot(this.maps.jump, JumpSlot.splitFirst);
      this.#release();
      this.#naive = { programs, maps };
      this.setFailsafes(state.failsafes);
      return {
        insns: naive.parts.reduce((n, part) => n + part.insnCount, 0),
        verifiedInsns: programs.reduce((n, prog) => n + prog.info().verifiedInstructions, 0),
        parts: programs.length,
        ms: performance.now() - t0,
      };
    } catch (e) {
      for (const prog of programs) prog.close();
      for (const m of maps) m.close();
      throw e;
    }
  }

  #release(): void {
    this.#policy?.close();
    this.#policy = null;
    if (this.#naive) {
      for (const prog of this.#naive.programs) prog.close();
      for (const m of this.#naive.maps) m.close();
      this.#naive = null;
    }
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
  run(frame: Uint8Array): PipelineResult {
    const r = testRunXdp(this.entry, { packet: frame });
    const accepted = r.meta.length >= 8 && r.meta.readUInt32LE(r.meta.length - 8) === Meta.magic &&
      (r.meta.readUInt32LE(r.meta.length - 4) & Meta.accepted) !== 0;
    return { action: r.action, accepted };
  }

  /** Runs one frame `repeat` times in the kernel; the mean nanoseconds per run as the kernel measured it. */
  time(frame: Uint8Array, repeat: number): number {
    return testRunXdp(this.entry, { packet: frame, repeat }).durationNs;
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

  close(): void {
    this.#release();
    this.object.close();
  }
}

/** The frame for a packet description (what the reference evaluator takes), with its extras. */
export function frameFor(p: PacketDescription, extra: Partial<PacketSpec> = {}): Buffer {
  const spec: PacketSpec = {
    family: p.family, proto: p.protocol, src: p.src, dst: p.dst, sport: p.sport, dport: p.dport,
    icmpType: p.icmpType, icmpCode: p.icmpCode, ...extra,
  };
  if (p.laterFragment) {
    spec.fragment = { offset: 1480, more: false };
    spec.payload = spec.payload ?? Buffer.alloc(16, 0xab);
  }
  return buildFrame(spec);
}

/** The XDP outcome the verdict implies: [action, accepted]. */
export function expectedAction(outcome: 'allow' | 'deny' | 'pass'): PipelineResult {
  if (outcome === 'deny') return { action: XDP_DROP, accepted: false };
  return { action: XDP_PASS, accepted: outcome === 'allow' };
}

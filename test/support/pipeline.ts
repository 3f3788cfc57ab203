// The full XDP ingress pipeline for the tests and the benchmark: the product's test-run pipeline
// (src/dataplane/test-run.ts: xdp.o loaded, a policy program in its slots, frames run through nt_xdp_entry), plus
// what only tests and the benchmark need: the naive baseline in the policy slots, and timing.
// Nothing is attached anywhere and nothing is pinned, so no namespace is needed.
import type { DesiredState, PacketDescription } from '../../src/compile/desired-state.js';
import { JumpSlot, MAPS, POLICY_PROGRAM_LOAD } from '../../src/abi/notrack.js';
import { packetFrame, type PacketSpec } from '../../src/dataplane/frames.js';
import { XdpAction, XdpTestRun, type FrameResult } from '../../src/dataplane/test-run.js';
import {
  clearProgramSlot,
  createMap,
  loadProgram,
  setProgramSlot,
  testRunXdp,
  type BpfMap,
  type BpfProgram,
} from '../../src/libbpf/index.js';
import { patchMapFds } from '../../src/asm/index.js';
import { emitNaiveProgram, partSlot } from './naive-program.js';

export const XDP_DROP = XdpAction.drop;
export const XDP_PASS = XdpAction.pass;

/** What the pipeline did with one frame. */
export type PipelineResult = FrameResult;

export class Pipeline extends XdpTestRun {
  /** Loads xdp.o (build it first: node scripts/build-bpf.mjs). */
  static override open(): Pipeline {
    return new Pipeline(XdpTestRun.loadObject({}));
  }

  /**
   * Loads the naive baseline (one entry after another, test/support/naive-program.ts) for the same state
   * and puts it in the policy slot instead. Returns its instruction count and load time.
   */
  installNaive(
    state: DesiredState,
    iface: string,
  ): { insns: number; verifiedInsns: number; parts: number; ms: number } {
    const t0 = performance.now();
    const naive = emitNaiveProgram(state, iface);
    const maps: BpfMap[] = [];
    const programs: BpfProgram[] = [];
    try {
      const fds: Record<string, number> = {
        [MAPS.state.name]: this.maps.state.fd.fd,
        [MAPS.jump.name]: this.maps.jump.fd.fd,
        [MAPS.counters.name]: this.maps.counters.fd.fd,
      };
      const one = Buffer.from([1]);
      for (const m of naive.maps) {
        const map = createMap({
          type: m.type,
          name: m.name,
          keySize: m.keySize,
          valueSize: m.valueSize,
          maxEntries: m.maxEntries,
          flags: m.flags,
        });
        maps.push(map);
        fds[m.name] = map.fd.fd;
        for (let at = 0; at < m.count; at += 65536) {
          const end = Math.min(m.count, at + 65536);
          const batch = [];
          for (let i = at; i < end; i++)
            batch.push({ key: m.keys.subarray(i * m.keySize, (i + 1) * m.keySize), value: one });
          map.updateBatch(batch);
        }
      }
      for (const part of naive.parts) {
        programs.push(
          loadProgram({
            type: POLICY_PROGRAM_LOAD.progType,
            expectedAttachType: POLICY_PROGRAM_LOAD.expectedAttachType,
            name: 'nt_naive',
            insns: patchMapFds(part, fds),
          }),
        );
      }
      for (let k = programs.length - 1; k >= 0; k--) setProgramSlot(this.maps.jump, partSlot(k), programs[k]!);
      if (programs.length === 1) clearProgramSlot(this.maps.jump, JumpSlot.splitFirst);
      this.replacePolicy({
        close(): void {
          for (const prog of programs) prog.close();
          for (const m of maps) m.close();
        },
      });
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

  /** Runs one frame `repeat` times in the kernel; the mean nanoseconds per run as the kernel measured it. */
  time(frame: Uint8Array, repeat: number): number {
    return testRunXdp(this.entry, { packet: frame, repeat }).durationNs;
  }
}

/** The frame for a packet description (what the reference evaluator takes), with its extras. */
export function frameFor(p: PacketDescription, extra: Partial<PacketSpec> = {}): Buffer {
  return packetFrame(p, extra);
}

/** The XDP outcome the verdict implies: [action, accepted]. */
export function expectedAction(outcome: 'allow' | 'deny' | 'pass'): PipelineResult {
  if (outcome === 'deny') return { action: XDP_DROP, accepted: false };
  return { action: XDP_PASS, accepted: outcome === 'allow' };
}

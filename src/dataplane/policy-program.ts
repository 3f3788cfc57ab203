// Loads one interface's generated policy program: compiles its tables, creates and fills the class maps (arrays
// through a shared mapping, keyed maps with batch updates), resolves the map relocations and loads the program for
// nt_jump (the loader then calls `install`).
import { join } from 'node:path';
import { arrayDigest, keyedDigest } from './map-digest.js';
import { patchMapFds } from '../asm/index.js';
import type { DesiredState, InterfaceState } from '../compile/desired-state.js';
import {
  compilePolicyProgram,
  policyMapContents,
  POLICY_PROGRAM_NAME,
  type Classifier,
  type PolicyMapContents,
  type PolicyMapSpec,
} from '../compile/program/index.js';
import {
  createMap,
  loadProgram,
  MapFlag,
  MapType,
  setProgramSlot,
  type BpfMap,
  type BpfProgram,
} from '../libbpf/index.js';
import { MAPS, POLICY_PROGRAM_LOAD } from '../abi/notrack.js';

/** The maps of the loaded xdp.o the program refers to: the same load as the nt_xdp_entry it runs behind. */
interface PolicyStaticMaps {
  nt_state: BpfMap;
  nt_jump: BpfMap;
  nt_counters: BpfMap;
}

interface PolicyLoadProgress {
  phase: 'compile' | 'fill' | 'load';
  /** While filling: the map, and how many of its entries are written. */
  map?: string;
  done?: number;
  total?: number;
}

interface LoadPolicyProgramOptions {
  state: DesiredState;
  iface: string | InterfaceState;
  staticMaps: PolicyStaticMaps;
  /** Pins every map at `<pinDir>/<map name>` and the program at `<pinDir>/nt_policy` (a folder per interface). */
  pinDir?: string;
  /** Step budget per part (tests); see src/compile/program/limits.ts. */
  steps?: number;
  /** Smallest group of entries kept apart in the placement (tests); see src/compile/program/entry-placement.ts. */
  minGroupEntries?: number;
  /** The IPv6 address structure (the benchmark's before and after); see src/compile/program/ipv6-lengths.ts. */
  ipv6Table?: 'lengths' | 'lpm';
  /** Called per phase and every batch while filling (entries of big sets, records). */
  onProgress?: (p: PolicyLoadProgress) => void;
}

export interface PolicyProgramStats {
  insns: number;
  /** Instructions the verifier walked (its complexity measure; the kernel's limit is 1,000,000). */
  verifiedInsns: number;
  generation: number;
  steps: { v4: number; v6: number };
  entries: { v4: number; v6: number };
  /** Distinct class records per family. */
  records: { v4: number; v6: number };
  /** Entries written per map. */
  mapEntries: Record<string, number>;
  /** sha256 of the contents of each array map (class tables, records, entry table) and IPv6 address hash, to notice
   *  tampering: an array map's entries cannot be deleted, only overwritten, so counting them says nothing, and a
   *  hash element's value can be overwritten in place. */
  mapDigests: Record<string, string>;
  /** Milliseconds: compile (tables + program), fill (maps), load (verifier). */
  ms: { compile: number; fill: number; load: number };
}

interface LoadedPolicyProgram {
  readonly program: BpfProgram;
  /**
   * The program per part, in part order, for xdp/policy-slot.ts setPolicyProgram (part 0 -> slot 0, part k ->
   * slot 3 + k): the same program twice, since the continuation part is the program itself.
   */
  readonly parts: readonly BpfProgram[];
  /** The nt_jump slots it belongs in: NT_SLOT_POLICY and the continuation slot NT_SLOT_SPLIT_FIRST. */
  readonly slots: readonly number[];
  /** The class maps by name (owned: closed by close()). */
  readonly maps: ReadonlyMap<string, BpfMap>;
  readonly stats: PolicyProgramStats;
  /**
   * Puts the program in its slots of `jump` (the nt_jump of the same xdp.o load): the continuation slot first,
   * so that the moment the policy slot switches, every part the new program tail-calls is already its own.
   */
  install(jump: BpfMap): void;
  /** Closes the program and map fds held here (slots and pins keep the kernel objects alive). */
  close(): void;
}

/** Batch size of a keyed map: big enough for few syscalls, small enough that 1M prefixes never need 1M objects. */
const LPM_CHUNK = 65_536;

/**
 * The map flags the loader adds to a spec's: every ARRAY map is created mmapable, so that `fill` writes its values
 * with one copy through a shared mapping. The program reads it exactly as before (the verifier and the lookup are
 * the same for an array with or without the flag); the flag is the loader's, not the compiler's, whose output stays
 * as it was.
 */
function loadFlags(spec: PolicyMapSpec): number {
  return spec.type === MapType.ARRAY ? spec.flags | MapFlag.MMAPABLE : spec.flags;
}

function fill(map: BpfMap, contents: PolicyMapContents, progress: (done: number) => void): number {
  if (contents.kind !== 'array') {
    // An LPM trie or a hash: keys and u32 values. Equal values share one buffer: a set's prefixes mostly carry the
    // same record id.
    const { keySize, keys, values, count } = contents;
    const valueBuffers = new Map<number, Buffer>();
    for (let at = 0; at < count; at += LPM_CHUNK) {
      const end = Math.min(count, at + LPM_CHUNK);
      const batch: { key: Buffer; value: Buffer }[] = new Array(end - at);
      for (let i = at; i < end; i++) {
        const v = values.readUInt32LE(i * 4);
        let value = valueBuffers.get(v);
        if (!value) {
          value = values.subarray(i * 4, i * 4 + 4);
          valueBuffers.set(v, value);
        }
        batch[i - at] = { key: keys.subarray(i * keySize, (i + 1) * keySize), value };
      }
      map.updateBatch(batch);
      progress(end);
    }
    return count;
  }
  // The new generation's maps are read by no program until the switch: written whole, then loaded and switched in.
  const { valueSize, values, count } = contents;
  if (count === 0) return 0; // the per-CPU scan state: the program writes it
  map.writeArray(values.subarray(0, count * valueSize));
  progress(count);
  return count;
}

export { arrayDigest, keyedDigest } from './map-digest.js';

/** The digest of what `fill` writes, as drift reads it back: arrays in key order, hashes by keyedDigest. */
function contentsDigest(contents: PolicyMapContents): string | null {
  if (contents.kind === 'array') return arrayDigest(contents.values);
  if (contents.kind === 'lpm') return null; // (the benchmark's before: not applied by notrack)
  const { keys, values, keySize, count } = contents;
  return keyedDigest(
    Array.from({ length: count }, (_, i) => ({
      key: keys.subarray(i * keySize, (i + 1) * keySize),
      value: values.subarray(i * 4, i * 4 + 4),
    })),
  );
}

function classifierFor(spec: PolicyMapSpec, v4: Classifier, v6: Classifier): Classifier {
  return spec.family === 4 ? v4 : v6;
}

/** Compiles, fills and loads the policy program of one interface. Nothing is attached or put in a slot. */
export function loadPolicyProgram(options: LoadPolicyProgramOptions): LoadedPolicyProgram {
  const progress = options.onProgress ?? (() => {});
  const t0 = performance.now();
  progress({ phase: 'compile' });
  const compiled = compilePolicyProgram(options.state, options.iface, {
    steps: options.steps,
    minGroupEntries: options.minGroupEntries,
    ipv6Table: options.ipv6Table,
  });
  const t1 = performance.now();

  const maps = new Map<string, BpfMap>();
  let program: BpfProgram | undefined;
  try {
    const mapEntries: Record<string, number> = {};
    const mapDigests: Record<string, string> = {};
    for (const spec of compiled.program.maps) {
      const map = createMap({
        type: spec.type,
        name: spec.name,
        keySize: spec.keySize,
        valueSize: spec.valueSize,
        maxEntries: spec.maxEntries,
        flags: loadFlags(spec),
      });
      maps.set(spec.name, map);
      const contents = policyMapContents(classifierFor(spec, compiled.v4, compiled.v6), spec.role);
      mapEntries[spec.name] = fill(map, contents, (done) =>
        progress({ phase: 'fill', map: spec.name, done, total: contents.count }),
      );
      const digest = spec.role === 'scan' ? null : contentsDigest(contents);
      if (digest !== null) mapDigests[spec.name] = digest;
      if (options.pinDir !== undefined) map.pin(join(options.pinDir, spec.name));
    }
    const t2 = performance.now();

    progress({ phase: 'load' });
    const fds: Record<string, number> = {
      [MAPS.state.name]: options.staticMaps.nt_state.fd.fd,
      [MAPS.jump.name]: options.staticMaps.nt_jump.fd.fd,
      [MAPS.counters.name]: options.staticMaps.nt_counters.fd.fd,
    };
    for (const [name, map] of maps) fds[name] = map.fd.fd;
    program = loadProgram({
      type: POLICY_PROGRAM_LOAD.progType,
      expectedAttachType: POLICY_PROGRAM_LOAD.expectedAttachType,
      flags: POLICY_PROGRAM_LOAD.progFlags,
      name: POLICY_PROGRAM_NAME,
      license: 'Apache-2.0',
      insns: patchMapFds(compiled.program.program, fds),
    });
    if (options.pinDir !== undefined) program.pin(join(options.pinDir, POLICY_PROGRAM_NAME));
    const t3 = performance.now();

    const loaded = program;
    const slots = compiled.program.slots;
    const stats: PolicyProgramStats = {
      insns: compiled.program.program.insnCount,
      verifiedInsns: loaded.info().verifiedInstructions,
      generation: compiled.program.generation,
      steps: { ...compiled.program.steps },
      entries: { v4: compiled.v4.entryCount, v6: compiled.v6.entryCount },
      records: { v4: compiled.v4.records.count, v6: compiled.v6.records.count },
      mapEntries,
      mapDigests,
      ms: { compile: t1 - t0, fill: t2 - t1, load: t3 - t2 },
    };
    return {
      program: loaded,
      parts: slots.map(() => loaded),
      slots,
      maps,
      stats,
      install(jump: BpfMap): void {
        for (const slot of [...slots].reverse()) setProgramSlot(jump, slot, loaded);
      },
      close(): void {
        loaded.close();
        for (const m of maps.values()) m.close();
      },
    };
  } catch (e) {
    program?.close();
    for (const m of maps.values()) m.close();
    throw e;
  }
}

// One generation of an interface's dataplane: its pinned programs and maps, reopened as a typed handle, and removed.
import { statfsSync } from 'node:fs';
import {
  isBpfError,
  openPinnedLink,
  openPinnedMap,
  openPinnedProgram,
  type BpfMap,
  type BpfProgram,
} from '../../libbpf/index.js';
import { decodeConfig, MAPS, PROGRAMS, type DataplaneConfig } from '../../abi/notrack.js';
import { XdpDataplaneError } from './errors.js';
import { InterfacePins, removePinFolder, type GenerationMapName, type GenerationProgramName } from './pin-paths.js';

/** statfs f_type of bpffs. */
const BPF_FS_MAGIC = 0xcafe4a11;

/** Throws xdp-bad-option unless `pinDir` is a folder on a bpffs mount (pins anywhere else fail with EPERM). */
export function checkPinDir(pinDir: string): void {
  let type: number;
  try {
    type = Number(statfsSync(pinDir).type);
  } catch (e) {
    throw new XdpDataplaneError(
      'xdp-bad-option',
      `pin folder ${pinDir} cannot be read (${(e as Error).message}): create it on a bpffs mount`,
      { cause: e },
    );
  }
  if (type !== BPF_FS_MAGIC) {
    throw new XdpDataplaneError(
      'xdp-bad-option',
      `pin folder ${pinDir} is not on a bpffs mount: mount one there (mount -t bpf bpf ${pinDir}) or use a folder under one`,
    );
  }
}

const MAP_NAMES = [...Object.keys(MAPS), 'config', 'tcConfig'] as GenerationMapName[];
const PROGRAM_NAMES = Object.keys(PROGRAMS) as GenerationProgramName[];

/**
 * The programs and maps of generation `number` on one interface, opened from their pins (the handle owns its fds;
 * the pins keep everything alive when it is closed). What it holds does not depend on a network namespace.
 */
export class InterfaceGeneration {
  readonly ifname: string;
  readonly pinDir: string;
  readonly number: number;
  /** The generation's pin folder. */
  readonly path: string;
  readonly programs: Readonly<Record<GenerationProgramName, BpfProgram>>;
  readonly maps: Readonly<Record<GenerationMapName, BpfMap>>;
  /** Kernel ids, for reports and for telling notrack's attachments from others'. */
  readonly ids: {
    readonly programs: Readonly<Record<GenerationProgramName, number>>;
    readonly maps: Readonly<Record<GenerationMapName, number>>;
  };
  private closed = false;

  constructor(init: {
    pins: InterfacePins;
    number: number;
    programs: Record<GenerationProgramName, BpfProgram>;
    maps: Record<GenerationMapName, BpfMap>;
  }) {
    this.ifname = init.pins.ifname;
    this.pinDir = init.pins.pinDir;
    this.number = init.number;
    this.path = init.pins.generation(init.number);
    this.programs = init.programs;
    this.maps = init.maps;
    this.ids = {
      programs: Object.fromEntries(PROGRAM_NAMES.map((n) => [n, init.programs[n].id])) as Record<
        GenerationProgramName,
        number
      >,
      maps: Object.fromEntries(MAP_NAMES.map((n) => [n, init.maps[n].id])) as Record<GenerationMapName, number>,
    };
  }

  /** The configuration the programs were loaded with (read back from the frozen .rodata.config map). */
  get config(): DataplaneConfig {
    const raw = this.maps.config.lookup(0);
    if (!raw)
      throw new XdpDataplaneError(
        'xdp-generation-missing',
        `generation ${this.number} of ${this.ifname} has an empty configuration map`,
        { ifname: this.ifname },
      );
    return decodeConfig(raw);
  }

  /** Closes this handle's fds; the pinned generation stays as it is. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const p of Object.values(this.programs)) p.fd.close();
    for (const m of Object.values(this.maps)) m.close();
  }
}

interface GenerationRef {
  ifname: string;
  pinDir: string;
  generation: number;
}

/** Opens a pinned generation; xdp-generation-missing when any of its pins is gone. */
export function openGeneration(ref: GenerationRef): InterfaceGeneration {
  const pins = new InterfacePins(ref.pinDir, ref.ifname);
  const programs: Partial<Record<GenerationProgramName, BpfProgram>> = {};
  const maps: Partial<Record<GenerationMapName, BpfMap>> = {};
  try {
    for (const n of PROGRAM_NAMES) programs[n] = openPinnedProgram(pins.program(ref.generation, n));
    for (const n of MAP_NAMES) maps[n] = openPinnedMap(pins.map(ref.generation, n));
  } catch (e) {
    for (const p of Object.values(programs)) p.fd.close();
    for (const m of Object.values(maps)) m.close();
    if (isBpfError(e, 'bpf-not-found')) {
      throw new XdpDataplaneError(
        'xdp-generation-missing',
        `generation ${ref.generation} of ${ref.ifname} is not (fully) pinned under ${pins.root}: ${e.message}; load a new generation`,
        { ifname: ref.ifname, cause: e },
      );
    }
    throw e;
  }
  return new InterfaceGeneration({
    pins,
    number: ref.generation,
    programs: programs as Record<GenerationProgramName, BpfProgram>,
    maps: maps as Record<GenerationMapName, BpfMap>,
  });
}

/** The program id the pinned XDP link of the interface runs, or undefined when there is no (live) link pin. */
function pinnedXdpLinkProgram(pins: InterfacePins): number | undefined {
  try {
    const link = openPinnedLink(pins.xdpLink);
    try {
      return link.info().progId;
    } finally {
      link.close();
    }
  } catch (e) {
    if (isBpfError(e, 'bpf-not-found')) return undefined;
    throw e;
  }
}

/** The id of the entry program pinned in generation `n`, or undefined when it is not pinned. */
export function pinnedEntryProgram(pins: InterfacePins, n: number): number | undefined {
  try {
    const p = openPinnedProgram(pins.program(n, 'xdpEntry'));
    try {
      return p.id;
    } finally {
      p.fd.close();
    }
  } catch (e) {
    if (isBpfError(e, 'bpf-not-found')) return undefined;
    throw e;
  }
}

/**
 * Unpins generation `n` of an interface. Refuses (xdp-bad-option) when the interface's XDP link runs it: without
 * its pinned nt_jump the kernel would empty the program array under the attached program. Idempotent.
 */
export function removeGeneration(ref: GenerationRef): boolean {
  const pins = new InterfacePins(ref.pinDir, ref.ifname);
  const entry = pinnedEntryProgram(pins, ref.generation);
  const attached = pinnedXdpLinkProgram(pins);
  if (entry !== undefined && attached === entry) {
    throw new XdpDataplaneError(
      'xdp-bad-option',
      `generation ${ref.generation} is attached to ${ref.ifname}: switch to another generation or detach the interface first`,
      { ifname: ref.ifname },
    );
  }
  const path = pins.generation(ref.generation);
  const existed = pins.generations().includes(ref.generation);
  removePinFolder(path);
  return existed;
}

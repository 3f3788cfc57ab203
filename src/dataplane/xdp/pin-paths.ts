// Where notrack pins an interface's programs, maps and links in bpffs, and how to read those paths back.
//
//   <pinDir>/<ifname>/gen-<n>/maps/<map>        every map of generation n (nt_jump must stay pinned: the kernel
//                                               empties a program array when its last user reference goes)
//   <pinDir>/<ifname>/gen-<n>/progs/<program>   nt_xdp_entry, the epilogues, nt_tc_ingress, and policy-<slot>
//                                               for the policy program (slot 0) and the parts of a split one
//   <pinDir>/<ifname>/links/xdp                 the XDP link (it keeps the entry program attached)
//   <pinDir>/<ifname>/links/tc                  the tcx link, or, on kernels without tcx:
//   <pinDir>/<ifname>/links/tc-cls_bpf          the program of notrack's cls_bpf filter (the filter holds it;
//                                               the pin records which mechanism is in use)
//   <pinDir>/<ifname>/links/clsact-created/     an empty folder: notrack created the clsact qdisc and removes it
//
// bpffs holds only pins and folders, so everything a later run needs to know is in these names. A new
// generation is built beside the running one, links are updated to it, then the old folder is removed.
import { mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { MAPS, PROGRAMS } from '../../abi/notrack.js';
import { XdpDataplaneError } from './errors.js';

export type GenerationMapName = keyof typeof MAPS | 'config' | 'tcConfig';
export type GenerationProgramName = keyof typeof PROGRAMS;

/** Pin file names of the maps: the maps' own names, and the two configuration maps (internal, so renamed). */
const MAP_PIN_NAMES: Record<GenerationMapName, string> = {
  ...(Object.fromEntries(Object.entries(MAPS).map(([k, m]) => [k, m.name])) as Record<keyof typeof MAPS, string>),
  config: 'nt_config',
  tcConfig: 'nt_tc_config',
};

const GENERATION_DIR = /^gen-([1-9][0-9]{0,8})$/;
const IFNAME = /^[^\s/:]{1,15}$/;

/** Throws xdp-bad-option unless `ifname` can be an interface name and a folder name. */
function checkInterfaceName(ifname: string): void {
  if (typeof ifname !== 'string' || !IFNAME.test(ifname) || ifname === '.' || ifname === '..') {
    throw new XdpDataplaneError(
      'xdp-bad-option',
      `"${String(ifname)}" is not an interface name (1-15 characters, no spaces, "/" or ":")`,
    );
  }
}

/** The pin paths of one interface under `pinDir` (a folder on a bpffs mount). */
export class InterfacePins {
  readonly ifname: string;
  readonly pinDir: string;
  readonly root: string;
  readonly links: string;

  constructor(pinDir: string, ifname: string) {
    checkInterfaceName(ifname);
    if (typeof pinDir !== 'string' || pinDir === '')
      throw new XdpDataplaneError('xdp-bad-option', 'pinDir must be a folder on a bpffs mount');
    this.ifname = ifname;
    this.pinDir = pinDir;
    this.root = join(pinDir, ifname);
    this.links = join(this.root, 'links');
  }

  generation(n: number): string {
    return join(this.root, `gen-${n}`);
  }

  map(n: number, name: GenerationMapName): string {
    return join(this.generation(n), 'maps', MAP_PIN_NAMES[name]);
  }

  program(n: number, name: GenerationProgramName): string {
    return join(this.generation(n), 'progs', PROGRAMS[name]);
  }

  /** The pin of the policy program in `slot` of nt_jump (0, or a split part's slot). */
  policy(n: number, slot: number): string {
    return join(this.generation(n), 'progs', `policy-${slot}`);
  }

  get xdpLink(): string {
    return join(this.links, 'xdp');
  }

  get tcxLink(): string {
    return join(this.links, 'tc');
  }

  get clsBpfProgram(): string {
    return join(this.links, 'tc-cls_bpf');
  }

  get clsactCreated(): string {
    return join(this.links, 'clsact-created');
  }

  /** The generation numbers pinned for this interface, ascending. */
  generations(): number[] {
    return listDir(this.root)
      .map((name) => GENERATION_DIR.exec(name))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => Number(m[1]))
      .sort((a, b) => a - b);
  }

  /** The slots that have a pinned policy program in generation `n`, ascending. */
  policySlots(n: number): number[] {
    return listDir(join(this.generation(n), 'progs'))
      .map((name) => /^policy-([0-9]+)$/.exec(name))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => Number(m[1]))
      .sort((a, b) => a - b);
  }
}

/** Names in a folder; empty when it does not exist. */
function listDir(path: string): string[] {
  try {
    return readdirSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
}

export function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** The interfaces that have anything pinned under `pinDir`. */
export function pinnedInterfaces(pinDir: string): string[] {
  return listDir(pinDir)
    .filter((name) => IFNAME.test(name) && isDirectory(join(pinDir, name)))
    .sort();
}

/** Makes a pin folder (and its parents unless `exclusive`: then it must not exist yet). Throws xdp-pins. */
export function makePinFolder(path: string, opts: { exclusive?: boolean } = {}): void {
  try {
    mkdirSync(path, { recursive: !opts.exclusive });
  } catch (e) {
    const exists = (e as NodeJS.ErrnoException).code === 'EEXIST';
    throw new XdpDataplaneError(
      'xdp-pins',
      exists
        ? `${path} exists already: is another notrack loading this interface at the same time?`
        : `cannot create pin folder ${path}: ${(e as Error).message}`,
      { cause: e },
    );
  }
}

/** Removes a pin folder and everything pinned in it (the kernel objects live on while anything else holds them). */
export function removePinFolder(path: string): void {
  try {
    rmSync(path, { recursive: true, force: true });
  } catch (e) {
    throw new XdpDataplaneError('xdp-pins', `cannot remove pin folder ${path}: ${(e as Error).message}`, { cause: e });
  }
}

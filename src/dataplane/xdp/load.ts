// Loads a new generation of an interface's programs and maps (xdp.o and tc.o), pins it, and fills the failsafes.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Failsafe } from '../../compile/desired-state.js';
import { BpfObject } from '../../libbpf/index.js';
import {
  BPF_OBJECTS,
  CONFIG_MAP,
  encodeConfig,
  encodeFailsafeKey,
  encodeFailsafePorts,
  FAILSAFE_VALUE,
  MAPS,
  PROGRAMS,
  type DataplaneConfig,
} from '../../abi/notrack.js';
import { XdpDataplaneError } from './errors.js';
import { failsafeEntries } from './failsafes.js';
import { checkPinDir, openGeneration, type InterfaceGeneration } from './generation.js';
import {
  InterfacePins,
  makePinFolder,
  removePinFolder,
  type GenerationMapName,
  type GenerationProgramName,
} from './pin-paths.js';

/** The repository root as seen from src/dataplane/xdp/ and from dist/dataplane/xdp/ alike. */
const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** nt_rule_counters can be sized far past the compiled default; this bounds a mistake, not a real policy. */
const RULE_COUNTERS_CEILING = 1 << 20;

interface LoadGenerationOptions {
  ifname: string;
  /** A folder on a bpffs mount; the generation goes to `<pinDir>/<ifname>/gen-<n>/`. */
  pinDir: string;
  config: DataplaneConfig;
  /** Written to nt_failsafe and nt_failsafe_ports before anything is attached. */
  failsafes: readonly Failsafe[];
  /** How many rule counters the policy program uses (its rule indexes are 0 .. ruleCounters-1). */
  ruleCounters: number;
  /** Where xdp.o and tc.o are; default the repository's build/bpf (scripts/build-bpf.mjs makes them). */
  objectDir?: string;
}

function objectPath(opts: LoadGenerationOptions, name: keyof typeof BPF_OBJECTS): string {
  const file = opts.objectDir === undefined ? join(REPO_ROOT, BPF_OBJECTS[name]) : join(opts.objectDir, `${name}.o`);
  if (!existsSync(file))
    throw new XdpDataplaneError(
      'xdp-object-missing',
      `${file} does not exist: build the BPF objects with \`node scripts/build-bpf.mjs\``,
    );
  return file;
}

function checkOptions(opts: LoadGenerationOptions): void {
  const { acceptMark, acceptMask } = opts.config;
  // A zero mask turns marking off whatever the mark says; otherwise a mark bit outside the mask is a mistake.
  if (
    Number.isInteger(acceptMark) &&
    Number.isInteger(acceptMask) &&
    acceptMask !== 0 &&
    (acceptMark & ~acceptMask) >>> 0 !== 0
  ) {
    throw new XdpDataplaneError(
      'xdp-bad-option',
      `accept mark 0x${acceptMark.toString(16)} has bits outside its mask 0x${acceptMask.toString(16)}: the TC program would not set them`,
    );
  }
  if (!Number.isInteger(opts.ruleCounters) || opts.ruleCounters < 0 || opts.ruleCounters > RULE_COUNTERS_CEILING) {
    throw new XdpDataplaneError(
      'xdp-bad-option',
      `ruleCounters must be an integer from 0 to ${RULE_COUNTERS_CEILING}, not ${opts.ruleCounters}`,
    );
  }
}

/**
 * Loads xdp.o and tc.o with `config`, sizes nt_rule_counters, pins every map and program as generation n + 1 of
 * the interface (n the highest pinned so far) and writes the failsafes. Nothing is attached: attachInterface or
 * switchGeneration does that, after setPolicyProgram. Independent of the network namespace. On failure nothing
 * of the new generation is left.
 */
export function loadInterfaceGeneration(opts: LoadGenerationOptions): InterfaceGeneration {
  checkOptions(opts);
  const config = encodeConfig(opts.config);
  const entries = failsafeEntries(opts.failsafes);
  const ports = encodeFailsafePorts(entries);
  const keys = entries.map(encodeFailsafeKey);
  const pins = new InterfacePins(opts.pinDir, opts.ifname);
  checkPinDir(opts.pinDir);
  const files = { xdp: objectPath(opts, 'xdp'), tc: objectPath(opts, 'tc') };

  makePinFolder(pins.root);
  const number = (pins.generations().at(-1) ?? 0) + 1;
  const dir = pins.generation(number);
  makePinFolder(dir, { exclusive: true });

  const objects: BpfObject[] = [];
  try {
    const xdp = BpfObject.open(files.xdp);
    objects.push(xdp);
    const tc = BpfObject.open(files.tc);
    objects.push(tc);
    xdp.map(CONFIG_MAP).setInitialValue(config);
    tc.map(CONFIG_MAP).setInitialValue(config);
    xdp.map(MAPS.ruleCounters.name).setMaxEntries(Math.max(1, opts.ruleCounters));
    xdp.load();
    tc.load();

    makePinFolder(join(dir, 'maps'), { exclusive: true });
    makePinFolder(join(dir, 'progs'), { exclusive: true });
    for (const [name, spec] of Object.entries(MAPS) as [keyof typeof MAPS, (typeof MAPS)[keyof typeof MAPS]][]) {
      (spec.object === 'xdp' ? xdp : tc).map(spec.name).map().pin(pins.map(number, name));
    }
    const configPins: [GenerationMapName, BpfObject][] = [
      ['config', xdp],
      ['tcConfig', tc],
    ];
    for (const [name, obj] of configPins) obj.map(CONFIG_MAP).map().pin(pins.map(number, name));
    for (const [name, prog] of Object.entries(PROGRAMS) as [GenerationProgramName, string][]) {
      (name === 'tcIngress' ? tc : xdp).program(prog).program().pin(pins.program(number, name));
    }
    // Trie first, then the port bitmap that lets nt_xdp_entry consult it: nothing is attached yet either way.
    const failsafe = xdp.map(MAPS.failsafe.name).map();
    for (const key of keys) failsafe.update(key, FAILSAFE_VALUE);
    xdp.map(MAPS.failsafePorts.name).map().update(0, ports);
  } catch (e) {
    for (const o of objects) o.close();
    removePinFolder(dir);
    throw e;
  }
  // The pins hold everything now; the handle reopens from them so that a loaded and a reopened generation are alike.
  for (const o of objects) o.close();
  try {
    return openGeneration({ ifname: opts.ifname, pinDir: opts.pinDir, generation: number });
  } catch (e) {
    removePinFolder(dir);
    throw e;
  }
}

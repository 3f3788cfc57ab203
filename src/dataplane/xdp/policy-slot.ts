// Puts a generation's policy program (and the parts of a split one) into its nt_jump slots, and pins them.
import {
  BpfFd,
  clearProgramSlot,
  pinObject,
  programInfo,
  ProgType,
  setProgramSlot,
  unpin,
  type ProgramHandle,
} from '../../libbpf/index.js';
import { JumpSlot, Limits } from '../../abi/notrack.js';
import { XdpDataplaneError } from './errors.js';
import type { InterfaceGeneration } from './generation.js';
import { InterfacePins } from './pin-paths.js';

/** Slots 0 and splitFirst .. jumpSlots-1: the first part and up to 28 more. */
const MAX_POLICY_PARTS = 1 + Limits.jumpSlots - JumpSlot.splitFirst;

interface PolicySlots {
  /** The nt_jump slot of each part, in order (0, 4, 5 ...). */
  slots: number[];
  programIds: number[];
}

/** The nt_jump slot of part `k` of a policy program. */
function policySlot(part: number): number {
  return part === 0 ? JumpSlot.policy : JumpSlot.splitFirst + part - 1;
}

const fdOf = (p: ProgramHandle): BpfFd => (p instanceof BpfFd ? p : p.fd);

/**
 * Installs the policy program in generation `gen`: `program` is one program, or the parts of a split one (part 0
 * in slot 0, part k in slot 3 + k). Each must be loaded as notrack.h prescribes (POLICY_PROGRAM_LOAD, with the map
 * fds of this generation). Parts go in before slot 0, so on a generation that is not attached yet the switch is
 * complete before any packet runs it; on an attached one only the slot-0 replacement is atomic, so a changed split
 * program belongs in a new generation. Split slots the new program does not use are emptied afterwards.
 */
export function setPolicyProgram(
  gen: InterfaceGeneration,
  program: ProgramHandle | readonly ProgramHandle[],
): PolicySlots {
  const parts = Array.isArray(program) ? (program as readonly ProgramHandle[]) : [program as ProgramHandle];
  if (parts.length === 0) throw new XdpDataplaneError('xdp-bad-option', 'setPolicyProgram needs at least one program');
  if (parts.length > MAX_POLICY_PARTS) {
    throw new XdpDataplaneError(
      'xdp-bad-option',
      `a policy program split in ${parts.length} parts does not fit nt_jump (at most ${MAX_POLICY_PARTS} parts): split it into fewer, larger parts`,
    );
  }
  const ids = parts.map((p, k) => {
    const info = programInfo(fdOf(p));
    if (info.type !== ProgType.XDP) {
      throw new XdpDataplaneError(
        'xdp-bad-option',
        `policy part ${k} (program id ${info.id} ${info.name}) is a ${info.typeName} program; nt_jump takes XDP programs loaded with POLICY_PROGRAM_LOAD`,
      );
    }
    return info.id;
  });
  const slots = parts.map((_, k) => policySlot(k));
  const jump = gen.maps.jump;
  for (let k = parts.length - 1; k >= 0; k--) setProgramSlot(jump, slots[k]!, parts[k]!);

  const pins = new InterfacePins(gen.pinDir, gen.ifname);
  const used = new Set(slots);
  for (let slot = JumpSlot.splitFirst; slot < Limits.jumpSlots; slot++) {
    if (!used.has(slot)) clearProgramSlot(jump, slot);
  }
  for (const slot of pins.policySlots(gen.number)) unpin(pins.policy(gen.number, slot));
  parts.forEach((p, k) => pinObject(fdOf(p), pins.policy(gen.number, slots[k]!)));
  return { slots, programIds: ids };
}

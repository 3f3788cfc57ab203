// A small hand-assembled policy program for kernel tests: first-match rules on protocol, family, destination port
// and ICMP type, ending exactly as bpf/notrack.h prescribes (rule_id, then a tail call to the accept/drop/pass slot).
//
// Registers, one job each for the whole program:
//   r6  the xdp_md context, kept for bpf_tail_call
//   r7  the per-packet state (nt_state value, key 0)
//   r8  the destination port (host order), valid only with NT_PKT_F_PORTS
//   r9  the packet flags (enum nt_packet_flag)
//   r3  ip_proto while rules are checked; the tail call's slot argument at the end
//   r4  icmp_type
//   r5  family (4 or 6)
//   r2  scratch for one flag test
import { ProgramBuilder, FP, R0, R1, R2, R3, R4, R5, R6, R7, R8, R9 } from '../../src/asm/index.js';
import { loadProgram, type BpfProgram } from '../../src/libbpf/index.js';
import { JumpSlot, MAPS, PacketFlag, POLICY_PROGRAM_LOAD, RULE_NONE, STATE_FIELDS } from '../../src/abi/notrack.js';
import type { InterfaceGeneration } from '../../src/dataplane/xdp/index.js';

export type HandAction = 'allow' | 'deny' | 'pass';

/** One rule; every field given must match. Its rule index (and counter) is its position in the list. */
export interface HandRule {
  action: HandAction;
  proto?: number;
  family?: 4 | 6;
  dport?: number;
  icmpType?: number;
}

const XDP_DROP = 1;
const XDP_PASS = 2;

const SLOT: Record<HandAction, number> = { allow: JumpSlot.accept, deny: JumpSlot.drop, pass: JumpSlot.pass };
/** If the tail call returns (slot empty), Deny still drops and the rest pass tracked, as notrack.h asks. */
const FALLBACK: Record<HandAction, number> = { allow: XDP_PASS, deny: XDP_DROP, pass: XDP_PASS };

function tailCall(b: ProgramBuilder, slot: number, fallback: number): void {
  b.mov64(R1, R6).ldMap(R2, MAPS.jump.name).mov64(R3, slot).call('tail_call');
  b.mov64(R0, fallback).exit();
}

/** Builds the program; map loads name nt_state and nt_jump (resolve them with the generation's fds). */
export function buildHandPolicy(rules: readonly HandRule[]): ProgramBuilder {
  const b = new ProgramBuilder();
  b.comment('r6 = ctx; r7 = &nt_state[0]').mov64(R6, R1);
  b.st('u32', FP, -4, 0).mov64(R2, FP).alu64('add', R2, -4).ldMap(R1, MAPS.state.name).call('map_lookup_elem');
  b.jmp('jne', R0, 0, 'have_state').mov64(R0, XDP_PASS).exit();
  b.label('have_state').mov64(R7, R0);
  b.ldx('u32', R9, R7, STATE_FIELDS.flags.offset);
  b.ldx('u16', R8, R7, STATE_FIELDS.dport.offset);
  b.ldx('u8', R3, R7, STATE_FIELDS.ipProto.offset);
  b.ldx('u8', R4, R7, STATE_FIELDS.icmpType.offset);
  b.ldx('u8', R5, R7, STATE_FIELDS.family.offset);

  for (const [index, r] of rules.entries()) {
    const catchAll =
      r.proto === undefined && r.family === undefined && r.dport === undefined && r.icmpType === undefined;
    const next = b.newLabel(`after_rule_${index}`);
    b.comment(`rule ${index}: ${r.action} ${JSON.stringify({ ...r, action: undefined })}`);
    if (r.proto !== undefined) b.jmp('jne', R3, r.proto, next);
    if (r.family !== undefined) b.jmp('jne', R5, r.family, next);
    if (r.dport !== undefined) {
      b.mov64(R2, R9).alu64('and', R2, PacketFlag.ports).jmp('jeq', R2, 0, next);
      b.jmp('jne', R8, r.dport, next);
    }
    if (r.icmpType !== undefined) {
      b.mov64(R2, R9).alu64('and', R2, PacketFlag.icmp).jmp('jeq', R2, 0, next);
      b.jmp('jne', R4, r.icmpType, next);
    }
    b.st('u32', R7, STATE_FIELDS.ruleId.offset, index);
    tailCall(b, SLOT[r.action], FALLBACK[r.action]);
    // The verifier rejects unreachable instructions: nothing may follow a rule that matches everything.
    if (catchAll) return b;
    b.label(next);
  }
  b.comment('no rule matched').st('u32', R7, STATE_FIELDS.ruleId.offset, RULE_NONE);
  tailCall(b, JumpSlot.pass, XDP_PASS);
  return b;
}

/** Assembles and loads the rules as a policy program for `gen` (its nt_state and nt_jump). */
export function loadHandPolicy(
  gen: InterfaceGeneration,
  rules: readonly HandRule[],
  name = 'nt_hand_policy',
): BpfProgram {
  const program = buildHandPolicy(rules).assemble({
    maps: { [MAPS.state.name]: gen.maps.state.fd.fd, [MAPS.jump.name]: gen.maps.jump.fd.fd },
  });
  return loadProgram({
    type: POLICY_PROGRAM_LOAD.progType,
    expectedAttachType: POLICY_PROGRAM_LOAD.expectedAttachType,
    flags: POLICY_PROGRAM_LOAD.progFlags,
    name,
    insns: program.bytes,
  });
}

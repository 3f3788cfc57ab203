// Emits the generated policy program of one interface: both families' scans and the shared exits, in one part that
// is also its own continuation (nt_jump slots NT_SLOT_POLICY and NT_SLOT_SPLIT_FIRST).
//
// Register plan (frame.ts): R6 the scan's per-CPU scratch, R7 nt_state, R8 candidate words (in the exits: the
// verdict's slot), R9 matching entries of the current word, R0..R5 scratch; the context waits on the stack. Layout:
//
//   prologue   ctx to the stack; R7 = nt_state[0]; R6 = ntp_scan[0]; branch on the packet's family
//   IPv4 scan  (scan.ts) ends in `terminal`, `no_match` or a tail call to the continuation
//   IPv6 scan
//   terminal   R4 = entry word: rule_id = counter, tail call to its verdict's epilogue
//   no_match   rule_id = NT_RULE_NONE, tail call to the pass epilogue
//   failed     a tail call returned (empty slot: a loader bug): count NT_CNT_TAIL_CALL_FAILED and return
//              XDP_DROP for Deny, XDP_PASS otherwise (tracked: nothing is opened by mistake)
//
// The program's size depends on the step budget and the fields used, not on the number of rules (they are in
// the maps); limits.ts holds the budget and the size ceiling.
import { createHash } from 'node:crypto';
import { ProgramBuilder, FP, R0, R1, R2, R3, R4, type AssembledProgram } from '../../asm/index.js';
import { Counter, JumpSlot, RULE_NONE, STATE_FIELDS } from '../../abi/notrack.js';
import type { DesiredState, InterfaceState } from '../desired-state.js';
import {
  buildClassifier,
  ENTRY_COUNTER_MASK,
  ENTRY_SLOT_SHIFT,
  type Classifier,
  type ClassifierOptions,
} from './classifier.js';
import {
  R_CANDIDATES,
  R_SCAN,
  R_STATE,
  SCAN_MAP_NAME,
  STACK_CTX,
  STACK_INDEX,
  STATIC_MAP_NAMES,
  XDP_DROP,
  XDP_PASS,
} from './frame.js';
import { MAX_PART_INSNS, PolicyProgramError, stepBudget } from './limits.js';
import { policyMaps, scanMapSpec, type PolicyMapSpec } from './maps.js';
import { emitFamilyScan } from './scan.js';

interface PolicyProgramInput {
  v4: Classifier;
  v6: Classifier;
  /** Tags continuations so that a part of another generation never resumes this one's cursor (non-zero u32). */
  generation: number;
  /** Forces the step budget of each part (tests use a tiny one to make every packet cross parts). */
  steps?: number;
}

interface PolicyProgram {
  readonly program: AssembledProgram;
  /** The maps the program refers to besides nt_state, nt_jump and nt_counters. */
  readonly maps: readonly PolicyMapSpec[];
  /** The nt_jump slots the program goes in: the policy slot and the continuation slot. */
  readonly slots: readonly number[];
  readonly generation: number;
  readonly steps: { readonly v4: number; readonly v6: number };
}

/** The program's kernel name. */
export const POLICY_PROGRAM_NAME = 'nt_policy';

function emitPolicyProgram(input: PolicyProgramInput): PolicyProgram {
  const { v4, v6 } = input;
  if (v4.family !== 4 || v6.family !== 6)
    throw new PolicyProgramError('policy-program-bad-input', 'classifiers must be IPv4 then IPv6');
  const generation = input.generation >>> 0;
  if (generation === 0) throw new PolicyProgramError('policy-program-bad-input', 'the generation tag must not be 0');
  const budget = (c: Classifier): number =>
    stepBudget(c.shape.summaryWords, c.shape.words, c.placement.groups.length, input.steps);
  const steps = { v4: budget(v4), v6: budget(v6) };

  const p = new ProgramBuilder();
  const labels = { noMatch: 'no_match', terminal: 'terminal', tailFailed: 'tail_call_failed' };

  p.comment('prologue: context, state, scan state, family');
  p.stx('u64', FP, STACK_CTX, R1); // the context waits on the stack
  p.st('u32', FP, STACK_INDEX, 0); // key = 0
  p.ldMap(R1, STATIC_MAP_NAMES.state); // R1 = nt_state
  p.mov64(R2, FP); // R2 = fp
  p.alu64('add', R2, STACK_INDEX); // R2 = the key
  p.call('map_lookup_elem'); // R0 = nt_state[0]
  p.jmp('jne', R0, 0, 'have_state'); // found
  p.mov64(R0, XDP_PASS); // else pass (cannot happen: a per-CPU array)
  p.exit();
  p.label('have_state');
  p.mov64(R_STATE, R0); // R7 = nt_state
  p.ldMap(R1, SCAN_MAP_NAME); // R1 = ntp_scan
  p.mov64(R2, FP); // R2 = fp
  p.alu64('add', R2, STACK_INDEX); // R2 = the key (0)
  p.call('map_lookup_elem'); // R0 = ntp_scan[0]
  p.jmp('jeq', R0, 0, labels.noMatch); // none: no match
  p.mov64(R_SCAN, R0); // R6 = ntp_scan
  p.ldx('u8', R1, R_STATE, STATE_FIELDS.family.offset); // R1 = the packet's family
  p.jmp('jeq', R1, 6, 'family_6'); // IPv6
  emitFamilyScan(p, { classifier: v4, steps: steps.v4, generation, ...labels });
  p.label('family_6');
  emitFamilyScan(p, { classifier: v6, steps: steps.v6, generation, ...labels });

  // (Without entries nothing jumps here, and the verifier refuses unreachable code.)
  if (v4.entryCount + v6.entryCount > 0) {
    p.label(labels.terminal).comment('a deciding entry: R4 = entry word');
    p.mov64(R_CANDIDATES, R4); // R8 = entry word
    p.alu64('rsh', R_CANDIDATES, ENTRY_SLOT_SHIFT); // R8 = its verdict's slot
    p.alu64('and', R4, ENTRY_COUNTER_MASK); // R4 = its counter
    p.stx('u32', R_STATE, STATE_FIELDS.ruleId.offset, R4); // rule_id = counter
    p.ldx('u64', R1, FP, STACK_CTX); // R1 = ctx
    p.ldMap(R2, STATIC_MAP_NAMES.jump); // R2 = nt_jump
    p.mov64(R3, R_CANDIDATES); // R3 = the verdict's slot
    p.call('tail_call'); // to the verdict's epilogue
    p.ja(labels.tailFailed); // the tail call returned
  }

  p.label(labels.noMatch).comment('no entry matched');
  p.st('u32', R_STATE, STATE_FIELDS.ruleId.offset, RULE_NONE); // rule_id = none
  p.mov64(R_CANDIDATES, JumpSlot.pass); // R8 = the pass slot
  p.ldx('u64', R1, FP, STACK_CTX); // R1 = ctx
  p.ldMap(R2, STATIC_MAP_NAMES.jump); // R2 = nt_jump
  p.mov64(R3, JumpSlot.pass); // R3 = the pass slot
  p.call('tail_call'); // to the pass epilogue

  p.label(labels.tailFailed).comment('the tail call returned: count it, then fail safe');
  p.st('u32', FP, STACK_INDEX, Counter.tailCallFailed); // key = NT_CNT_TAIL_CALL_FAILED
  p.ldMap(R1, STATIC_MAP_NAMES.counters); // R1 = nt_counters
  p.mov64(R2, FP); // R2 = fp
  p.alu64('add', R2, STACK_INDEX); // R2 = the key
  p.call('map_lookup_elem'); // R0 = this CPU's counter
  p.jmp('jeq', R0, 0, 'fail_verdict'); // none: just return
  p.ldx('u64', R1, R0, 0); // R1 = packets
  p.alu64('add', R1, 1); // + 1
  p.stx('u64', R0, 0, R1); // packets stored
  p.ldx('u32', R2, R_STATE, STATE_FIELDS.pktLen.offset); // R2 = the packet's length
  p.ldx('u64', R1, R0, 8); // R1 = bytes
  p.alu64('add', R1, R2); // + the length
  p.stx('u64', R0, 8, R1); // bytes stored
  p.label('fail_verdict');
  p.mov64(R0, XDP_PASS); // R0 = pass (tracked)
  p.jmp('jne', R_CANDIDATES, JumpSlot.drop, 'fail_exit'); // unless the verdict was Deny
  p.mov64(R0, XDP_DROP); // Deny: drop
  p.label('fail_exit');
  p.exit();

  if (p.insnCount > MAX_PART_INSNS) {
    throw new PolicyProgramError(
      'policy-program-too-large',
      `the policy program has ${p.insnCount} instructions (step budgets ${steps.v4}/${steps.v6}); the limit is ${MAX_PART_INSNS}`,
    );
  }
  return {
    program: p.assemble({ maxInsns: MAX_PART_INSNS }),
    maps: [scanMapSpec(), ...policyMaps(v4), ...policyMaps(v6)],
    slots: [JumpSlot.policy, JumpSlot.splitFirst],
    generation,
    steps,
  };
}

interface CompiledPolicy {
  readonly v4: Classifier;
  readonly v6: Classifier;
  readonly program: PolicyProgram;
}

/**
 * Classifier tables and program of one interface, from the desired state. The generation tag comes from the
 * state's content hash, so equal inputs give equal programs.
 */
export function compilePolicyProgram(
  state: DesiredState,
  iface: string | InterfaceState,
  options: { steps?: number } & ClassifierOptions = {},
): CompiledPolicy {
  const v4 = buildClassifier(state, iface, 4, options);
  const v6 = buildClassifier(state, iface, 6, options);
  const name = typeof iface === 'string' ? iface : iface.name;
  // A state without its hash (hand-built in tests) is tagged by the interface's entries instead.
  const content = state.hash || JSON.stringify(state.interfaces.find((i) => i.name === name)?.ingress ?? null);
  const digest = createHash('sha256')
    .update(
      `${content}\0${name}\0${options.steps ?? ''}\0${options.minGroupEntries ?? ''}` +
        (options.ipv6Table === undefined ? '' : `\0${options.ipv6Table}`),
    )
    .digest();
  const generation = digest.readUInt32LE(0) || 1;
  return { v4, v6, program: emitPolicyProgram({ v4, v6, generation, steps: options.steps }) };
}

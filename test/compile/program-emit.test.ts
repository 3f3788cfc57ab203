// The emitted policy program as data: its size does not depend on the number of rules, the step budget keeps the
// worst case inside the tail-call limit, it refers only to the maps it should, and it is deterministic.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { DesiredState, IngressEntry, SideMatch } from '../../src/compile/desired-state.js';
import {
  compilePolicyProgram,
  DEFAULT_STEP_BUDGET,
  MAX_PARTS_PER_PACKET,
  PolicyProgramError,
  stepBudget,
  worstCaseSteps,
} from '../../src/compile/program/index.js';
import { disassemble } from '../../src/asm/index.js';
import { JumpSlot } from '../../src/abi/notrack.js';

const side = (m: Partial<SideMatch> = {}): SideMatch => ({ inSets: [], notInSets: [], ports: [], notPorts: [], ...m });

function rules(n: number, log = false): IngressEntry[] {
  return Array.from({ length: n }, (_, i) => ({
    counter: i,
    action: log && i % 10 === 9 ? 'Log' : 'Allow',
    protocol: 6,
    notProtocol: null,
    icmp: null,
    notICMP: null,
    source: side({ inSets: [`net${i % 50}`] }),
    destination: side({ ports: [{ from: 1000 + i, to: 1000 + i }] }),
  }));
}

function state(v4: IngressEntry[], hash = ''): DesiredState {
  const sets: DesiredState['sets'] = {};
  for (let i = 0; i < 50; i++) sets[`net${i}`] = { id: `net${i}`, family: 4, prefixes: [`10.${i}.0.0/16`], origin: '' };
  return {
    formatVersion: 1,
    host: 'h',
    hash,
    config: {
      acceptMark: 0,
      passMark: 0,
      xdpMode: 'native' as DesiredState['config']['xdpMode'],
      logRate: 0,
      logBurst: 0,
    },
    failsafes: [],
    sets,
    interfaces: [
      { name: 'eth0', endpoint: 'a', ingress: { v4, v6: [] }, counters: [] },
      { name: 'eth1', endpoint: 'b', ingress: { v4, v6: [] }, counters: [] },
    ],
    egress: { interfaces: [], ipsets: [] },
  };
}

test('the program does not grow with the rules: 10 and 10,000 rules of one shape give programs of one size', () => {
  const small = compilePolicyProgram(state(rules(10)), 'eth0').program;
  const large = compilePolicyProgram(state(rules(10_000)), 'eth0').program;
  assert.is(large.program.insnCount, small.program.insnCount);
  assert.is(large.steps.v4, DEFAULT_STEP_BUDGET);
  assert.ok(large.program.insnCount < 10_000, `${large.program.insnCount} instructions`);
});

test('Log code is there only when the family has Log entries', () => {
  const plain = compilePolicyProgram(state(rules(100)), 'eth0').program.program.insnCount;
  const logging = compilePolicyProgram(state(rules(100, true)), 'eth0').program.program.insnCount;
  assert.ok(logging > plain, `${logging} > ${plain}`);
});

test('the step budget grows so the worst case finishes within the tail-call limit, and a forced one must too', () => {
  assert.is(stepBudget(1, 10, 2), DEFAULT_STEP_BUDGET);
  const words = 20_000;
  const steps = stepBudget(Math.ceil(words / 64), words, 10);
  assert.ok(Math.ceil(worstCaseSteps(Math.ceil(words / 64), words, 10) / steps) <= MAX_PARTS_PER_PACKET);
  assert.is(stepBudget(1, 4, 1, 1), 1);
  try {
    stepBudget(3, 157, 4, 2);
    assert.unreachable('a budget of 2 steps cannot scan 157 words in 28 parts');
  } catch (e) {
    assert.instance(e, PolicyProgramError);
    assert.is((e as PolicyProgramError).code, 'policy-program-too-large');
  }
});

test('the program refers to nt_state, nt_jump, nt_counters and its own maps, and goes in slots 0 and 4', () => {
  const { program } = compilePolicyProgram(state(rules(100)), 'eth0');
  const used = new Set(program.program.relocations.map((r) => r.mapName));
  const own = new Set(program.maps.map((m) => m.name));
  for (const name of used)
    assert.ok(['nt_state', 'nt_jump', 'nt_counters'].includes(name) || own.has(name), `unexpected map ${name}`);
  for (const name of own) assert.ok(used.has(name), `map ${name} is created but never used`);
  assert.equal([...own].sort(), ['ntp4_dport', 'ntp4_ent', 'ntp4_proto', 'ntp4_rec', 'ntp4_src', 'ntp_scan']);
  assert.equal(program.slots, [JumpSlot.policy, JumpSlot.splitFirst]);
});

test('equal inputs give equal programs; another interface or state gets another generation tag', () => {
  const a = compilePolicyProgram(state(rules(50), 'h1'), 'eth0').program;
  const b = compilePolicyProgram(state(rules(50), 'h1'), 'eth0').program;
  assert.equal(Buffer.from(a.program.bytes), Buffer.from(b.program.bytes));
  assert.is.not(compilePolicyProgram(state(rules(50), 'h1'), 'eth1').program.generation, a.generation);
  assert.is.not(compilePolicyProgram(state(rules(50), 'h2'), 'eth0').program.generation, a.generation);
});

test('the listing shows the plan: fields, groups and steps per family', () => {
  const { program } = compilePolicyProgram(state(rules(100)), 'eth0');
  const listing = disassemble(program.program.bytes, program.program).join('\n');
  assert.match(listing, /IPv4: 100 entries in 1 groups, 2 words, 1 summary words, 3 fields, 24 steps/);
  assert.match(listing, /IPv6: no entries/);
  assert.match(listing, /field saddr: value -> class -> record/);
});

test.run();

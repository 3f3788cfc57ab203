// Runs the benchmarks named on the command line (default: all) and prints their figures as a table and JSON.
import { benchValidate } from './validate.js';
import { benchPolicyProgram } from './policy-program.js';
import { benchPolicyProgramV6 } from './policy-program-v6.js';
import { benchPlan, benchPlanScale, benchPlanStages } from './plan.js';
import { benchTrafficEngine } from './traffic-engine.js';
import { benchWire } from './wire.js';
import { benchConfirmation } from './confirmation.js';
import { benchControlPlane } from './control-plane.js';
import { benchFrontHalf } from './front-half.js';

const benches: Record<string, () => Promise<Record<string, number | string>>> = {
  validate: () => benchValidate(),
  'policy-program': () => benchPolicyProgram(),
  'policy-program-v6': () => benchPolicyProgramV6(),
  plan: () => benchPlan(),
  'plan-scale': () => benchPlanScale(),
  'plan-stages': () => benchPlanStages(),
  'traffic-engine': () => benchTrafficEngine(),
  wire: () => benchWire(),
  confirmation: () => benchConfirmation(),
  'control-plane': () => benchControlPlane(),
  'front-half': () => benchFrontHalf(),
};

const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const names = wanted.length ? wanted : Object.keys(benches);
const results: Record<string, unknown> = {};
for (const name of names) {
  const bench = benches[name];
  if (!bench) {
    console.error(`unknown benchmark ${name}; known: ${Object.keys(benches).join(', ')}`);
    process.exit(64);
  }
  console.log(`== ${name}`);
  const r = await bench();
  results[name] = r;
  for (const [k, v] of Object.entries(r)) console.log(`  ${k.padEnd(14)} ${v}`);
}
if (process.argv.includes('--json')) console.log(JSON.stringify(results, null, 2));

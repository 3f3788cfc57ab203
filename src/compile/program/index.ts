// The generated policy program: classifier tables (pure) and the program emitter.
export {
  buildClassifier, entriesOfRecord, summaryOfRecord, entryWord, FIELD_ORDER, NO_VALUE_INDEX, ENTRY_COUNTER_MASK, ENTRY_SLOT_SHIFT, ENTRY_LOG,
  type Classifier, type ClassifierField, type ClassifierOptions, type FieldName, type FieldTable,
} from './classifier.js';
export type { AddressTable } from './address-classes.js';
export { placeEntries, MIN_GROUP_ENTRIES, type EntryPlacement, type EntryGroup } from './entry-placement.js';
export type { ScalarTable } from './scalar-classes.js';
export { vectorShape, type VectorShape } from './records.js';
export {
  policyMaps, policyMapContents, policyMapName, debruijnTable,
  type PolicyMapSpec, type PolicyMapContents, type PolicyMapRole,
} from './maps.js';
export {
  emitPolicyProgram, compilePolicyProgram, POLICY_PROGRAM_NAME,
  type PolicyProgram, type PolicyProgramInput, type CompiledPolicy,
} from './emit-policy.js';
export {
  MAX_PART_INSNS, DEFAULT_STEP_BUDGET, MAX_PARTS_PER_PACKET, PolicyProgramError, stepBudget, worstCaseSteps,
} from './limits.js';

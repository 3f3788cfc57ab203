// The generated policy program: classifier tables (pure) and the program emitter.
export {
  buildClassifier,
  entriesOfRecord,
  summaryOfRecord,
  entryWord,
  NO_VALUE_INDEX,
  ENTRY_COUNTER_MASK,
  ENTRY_SLOT_SHIFT,
  ENTRY_LOG,
  type Classifier,
  type ClassifierField,
  type ClassifierOptions,
  type FieldName,
} from './classifier.js';
export type { AddressTable } from './address-classes.js';
export { placeEntries, type EntryPlacement } from './entry-placement.js';
export type { ScalarTable } from './scalar-classes.js';
export { vectorShape, type VectorShape } from './records.js';
export { policyMaps, policyMapContents, policyMapName, type PolicyMapSpec, type PolicyMapContents } from './maps.js';
export { compilePolicyProgram, POLICY_PROGRAM_NAME } from './emit-policy.js';
export {
  MAX_PART_INSNS,
  DEFAULT_STEP_BUDGET,
  MAX_PARTS_PER_PACKET,
  PolicyProgramError,
  stepBudget,
  worstCaseSteps,
} from './limits.js';

// notrack's iptables chains: render, observe, diff, apply and remove (see ruleset.ts for the layout of the chains).
export {
  type AsyncCommandRunner,
  type CommandRunner,
  asyncRunner,
  spawnRunner,
  DataplaneCommandError,
} from '../command-runner.js';
export * from './types.js';
export {
  chains,
  CHAIN_PREFIX,
  COMMENT_PREFIX,
  MAX_CHAIN_NAME,
  fitName,
  interfaceChainName,
  policyChainName,
  policyRuleComment,
  parsePolicyRuleComment,
  logPrefix,
} from './names.js';
export { canonicalRule, sameRule, tokenizeRule, ruleText } from './rule-text.js';
export { desiredTables, IptablesDesiredError } from './ruleset.js';
export { renderRuleset, renderChanges } from './restore.js';
export { parseIptablesSave, actualTable, IptablesParseError } from './save-parse.js';
export { observeIptables, observeIptablesAsync } from './observe.js';
export { diffIptables } from './diff.js';
export { applyIptables } from './apply.js';
export { removeAll } from './remove.js';
export { readRuleCounters } from './counters.js';

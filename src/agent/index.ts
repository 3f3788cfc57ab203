// The agent runtime's public surface: runAgent, its options, and the Reconciler contract it drives.
export { runAgent, type AgentHandle } from './run-agent.js';
export { DEFAULT_AGENT_OPTIONS, checkAgentOptions, type AgentOptions } from './options.js';
export type { Counters, DriftOutcome, ReconcileOutcome, ReconcileTrigger, Reconciler } from './reconciler.js';
export type { RetryPolicy } from './backoff.js';
export type { Ticker, TickSpec, TickerTask } from './ticker.js';
export { AgentListenError } from './http.js';

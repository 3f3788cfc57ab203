// A real `notrack agent` process for the signal tests: runAgent with its own signal handling around a scripted
// reconciler; prints, at exit, every member of the reconciler the agent touched.
import { writeSync } from 'node:fs';
import { DEFAULT_AGENT_OPTIONS } from '../../src/agent/options.js';
import { runAgent } from '../../src/agent/run-agent.js';
import type { Reconciler } from '../../src/agent/reconciler.js';
import { ScriptedReconciler, ready } from './scripted-reconciler.js';

const config = JSON.parse(process.env['NOTRACK_TEST_AGENT'] ?? '{}') as {
  signalDelayMs?: number;
  hang?: boolean;
  shutdownTimeoutMs?: number;
};

const scripted = new ScriptedReconciler({
  reconcile: [
    ready('c0ffee0000000000000000000000000000000001', 1),
    {
      ...ready('c0ffee0000000000000000000000000000000002', 2),
      delayMs: config.signalDelayMs ?? 0,
      hang: config.hang ?? false,
    },
  ],
});
const touched = new Set<string>();
const reconciler = new Proxy(scripted, {
  // Only the agent's accesses go through the proxy: methods run bound to the scripted reconciler itself.
  get(target, name) {
    touched.add(String(name));
    const value = Reflect.get(target, name, target) as unknown;
    return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
  },
}) as Reconciler;

process.on('exit', (code) => {
  writeSync(1, `${JSON.stringify({ msg: 'test: reconciler members used', members: [...touched].sort(), code })}\n`);
});

await runAgent(
  {
    ...DEFAULT_AGENT_OPTIONS,
    schedule: '0 0 1 1 *',
    driftSchedule: '0 0 1 1 *',
    jitterMs: 0,
    listen: '127.0.0.1:0',
    logLevel: 'debug',
    shutdownTimeoutMs: config.shutdownTimeoutMs ?? 10_000,
  },
  reconciler,
);

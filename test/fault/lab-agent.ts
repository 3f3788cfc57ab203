// The agent as the fault tests start it in the lab: reconcile and drift far apart unless a test asks (a test
// triggers what it needs with SIGHUP), no jitter, JSON logs, /healthz on 127.0.0.1 inside the host's namespace.
import { LabProcess } from '../../src/demo/lab-process.js';
import type { ReconcileLab } from '../support/reconcile-fixture.js';

export function startLabAgent(
  lab: ReconcileLab,
  opts: { port: number; driftSchedule?: string; driftMode?: 'enforce' | 'warn'; extra?: string[]; prefix?: string[] },
): LabProcess {
  return new LabProcess(
    lab.spawnCliWith(
      opts.prefix ?? [],
      'agent',
      ...(opts.extra ?? []),
      '--schedule',
      '30m',
      '--drift-schedule',
      opts.driftSchedule ?? '30m',
      '--drift-mode',
      opts.driftMode ?? 'enforce',
      '--jitter',
      '0',
      '--listen',
      `127.0.0.1:${opts.port}`,
      '--log-format',
      'json',
    ),
  );
}

/** How many NOTRACK- chains iptables (IPv4) holds in the host's namespace. */
export function notrackChains(lab: ReconcileLab): number {
  return lab
    .iptablesSave(4)
    .split('\n')
    .filter((l) => /^:NOTRACK-/.test(l)).length;
}

// The health rules behind /healthz (readiness) and /livez (liveness), as pure functions of the agent's state.
//
// Readiness answers "is this host's firewall under control?":
//   an expected interface lacks notrack's program      -> 503 Unprotected (observed in the kernel, checked first:
//                                                         the last applied commit alone never counts as protection)
//   no reconcile finished yet                          -> 503 NotReconciledYet
//   latest reconcile Ready                             -> 200 Ready
//   not Ready and the host never got a good state      -> 503 NoLastGoodState
//   Failed, host keeps its last good state (retrying)  -> 200 Retrying
//   Stalled, for at most stalledUnhealthyAfterMs       -> 200 Stalled
//   Stalled for longer                                 -> 503 StalledTooLong
// Liveness answers "is the agent itself still working?": 503 Hung when one reconcile or drift check has run longer
// than hungAfterMs (a restart is the only cure for a wedged call), 200 otherwise. A broken policy repository does
// not fail liveness: restarting the agent cannot fix a commit.
import { formatDuration } from './duration.js';
import { revisionText, type AgentState } from './agent-state.js';

type HealthReason =
  | 'Ready'
  | 'Retrying'
  | 'Stalled'
  | 'NotReconciledYet'
  | 'NoLastGoodState'
  | 'StalledTooLong'
  | 'Unprotected'
  | 'Suspended'
  | 'Live'
  | 'Hung';

export interface Health {
  ok: boolean;
  reason: HealthReason;
  message: string;
}

export function readiness(state: AgentState, now: number, stalledUnhealthyAfterMs: number): Health {
  const p = state.protection;
  if (p && p.unprotected.length > 0) {
    const why = p.interfaces
      .filter((i) => !i.protected)
      .map((i) => `${i.name}: ${i.problem ?? 'unprotected'}`)
      .join('; ');
    return { ok: false, reason: 'Unprotected', message: `the host is unprotected: ${why}` };
  }
  const last = state.lastReconcile;
  if (!last) {
    const running = state.running?.job === 'reconcile' ? ' (one is running)' : '';
    return { ok: false, reason: 'NotReconciledYet', message: `no reconcile has finished yet${running}` };
  }
  const o = last.outcome;
  if (o.status === 'Ready') {
    return { ok: true, reason: 'Ready', message: `converged to ${revisionText(o.revision)}` };
  }
  const applied = state.applied;
  if (!applied) {
    return {
      ok: false,
      reason: 'NoLastGoodState',
      message:
        `latest reconcile is ${o.status} (${o.reason}) and ` + `notrack has never converged this host: ${o.message}`,
    };
  }
  const keeps = `the host keeps ${revisionText(applied)} generation ${applied.generation}`;
  if (o.status === 'Failed') {
    const next = state.retry
      ? `; retry ${state.retry.attempt} in ${formatDuration(Math.max(0, state.retry.nextAt - now))}`
      : '';
    return { ok: true, reason: 'Retrying', message: `latest reconcile Failed (${o.reason}); ${keeps}${next}` };
  }
  if (o.reason === 'Suspended') return { ok: true, reason: 'Suspended', message: `${o.message}; ${keeps}` };
  const stalledFor = now - (state.statusSince ?? last.at);
  if (stalledFor > stalledUnhealthyAfterMs) {
    return {
      ok: false,
      reason: 'StalledTooLong',
      message:
        `Stalled (${o.reason}) for ${formatDuration(stalledFor)}, ` +
        `longer than ${formatDuration(stalledUnhealthyAfterMs)}; ${keeps}: ${o.message}`,
    };
  }
  return {
    ok: true,
    reason: 'Stalled',
    message: `Stalled (${o.reason}) for ${formatDuration(stalledFor)}; ${keeps}: ${o.message}`,
  };
}

export function liveness(state: AgentState, now: number, hungAfterMs: number): Health {
  const r = state.running;
  if (r && now - r.since > hungAfterMs) {
    return {
      ok: false,
      reason: 'Hung',
      message:
        `a ${r.job} has been running for ${formatDuration(now - r.since)}, ` +
        `longer than ${formatDuration(hungAfterMs)}`,
    };
  }
  return { ok: true, reason: 'Live', message: r ? `${r.job} running for ${formatDuration(now - r.since)}` : 'idle' };
}

// Commit confirmation's costs: the established-session check over many sessions (pure), and in a lab of network
// namespaces (root) an apply with and without confirmation (the apply's own time must not include the probes), and
// a lock-out commit from its switch to the end of its rollback.
import { performance } from 'node:perf_hooks';
import type { TcpSession } from '../src/dataplane/tcp-sessions.js';
import { sessionsCut } from '../src/reconcile/session-check.js';
import { PEER_ADDR4, compileFiles, dbPolicy, withLab } from '../test/support/reconcile-fixture.js';
import { lockOutPolicy, withProbes } from '../test/support/lock-out-policy.js';
import { listen } from '../test/support/lab-sockets.js';

/** A probe target on the peer: the connection a lock-out cuts (a local repository has no network path to probe). */
const PROBED = 8443;
const withProbe = (files: Record<string, string>) => withProbes(files, { tcp: [`${PEER_ADDR4}:${PROBED}`] });
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const SESSIONS = 10_000;

function sessionCheck(): Record<string, number> {
  const current = compileFiles(dbPolicy());
  const next = compileFiles(lockOutPolicy('Ingress'));
  const sessions: TcpSession[] = Array.from({ length: SESSIONS }, (_, i) => ({
    family: i % 2 ? 6 : 4,
    local: i % 2 ? 'fd00:0:0:2::10' : '10.0.2.10',
    localPort: 5432,
    peer: i % 2 ? `fd00:0:0:1::${(i % 60000).toString(16)}` : `10.0.1.${i % 250}`,
    peerPort: 10_000 + (i % 50_000),
    iface: 'eth0',
    inbound: true,
  }));
  const t0 = performance.now();
  const cut = sessionsCut(current, next, sessions);
  return { sessions: SESSIONS, cut: cut.length, checkMs: Math.round(performance.now() - t0) };
}

interface ApplyJson {
  outcome: { durationMs: number; reason: string };
  confirmation: { status: string; durationMs: number; message: string } | null;
}

async function lab(): Promise<Record<string, number | string>> {
  if (process.getuid?.() !== 0) return { lab: 'skipped (needs root)' };
  return withLab(async (lab) => {
    await listen(lab, lab.b, PEER_ADDR4, PROBED, false);
    const timed = (...args: string[]) => {
      const t0 = performance.now();
      const r = lab.cli('apply', '--format', 'json', ...args);
      return { wallMs: Math.round(performance.now() - t0), json: JSON.parse(r.stdout) as ApplyJson };
    };
    let n = 9000;
    lab.commit(withProbe(dbPolicy()), 'first');
    timed('--no-confirm');
    const plain: number[] = [];
    const confirmed: number[] = [];
    const confirm: number[] = [];
    for (let i = 0; i < 3; i++) {
      lab.commit(withProbe(dbPolicy({ denyUdpPorts: [n++] })), 'change without confirmation');
      plain.push(timed('--no-confirm').json.outcome.durationMs);
      lab.commit(withProbe(dbPolicy({ denyUdpPorts: [n++] })), 'change with confirmation');
      const c = timed('--confirm-timeout', '5s').json;
      confirmed.push(c.outcome.durationMs);
      confirm.push(c.confirmation?.durationMs ?? -1);
    }
    lab.commit(withProbe(lockOutPolicy('Ingress')), 'lock-out');
    const rolled = timed('--confirm-timeout', '5s');
    return {
      applyNoConfirmMs: median(plain),
      applyConfirmMs: median(confirmed),
      confirmMs: median(confirm),
      lockOutResult: rolled.json.outcome.reason,
      deadlineMs: 5000,
      switchToRolledBackMs: rolled.json.confirmation?.durationMs ?? -1,
      rollbackApplyMs: Number(/ in (\d+) ms; not retried/.exec(rolled.json.confirmation?.message ?? '')?.[1] ?? -1),
    };
  });
}

export async function benchConfirmation(): Promise<Record<string, number | string>> {
  return { ...sessionCheck(), ...(await lab()) };
}

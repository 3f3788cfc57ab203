// The probes that confirm a switch: the Git remote (its refs listed, as a fetch starts) and the NotrackConfiguration
// `probes` (TCP targets, local ports). Each runs once before the switch; after it, every probe that passed before
// is retried until it passes or the deadline ends. A probe already failing before never counts against the commit.
import { connect } from 'node:net';
import type { ProbeResult } from '../agent/reconciler.js';
import type { CommitProbes } from '../model/resources.js';
import { probeRemote, type SourceOptions } from '../source/index.js';

/** One probe: `run` resolves when it passes and throws saying why it did not. */
export interface Probe {
  name: string;
  run(timeoutMs: number): Promise<void>;
  /** Known to pass before the switch without running it (the Git remote: the fetch of the commit just reached it). */
  passedBefore?: boolean;
}

/** How long one attempt may take (a connect to a host that drops SYN-ACKs waits this long). */
const ATTEMPT_MS = 5_000;
/** The pause between failed attempts after the switch. */
const RETRY_MS = 500;

function tcpConnect(host: string, port: number, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    const fail = (why: string) => {
      socket.destroy();
      reject(new Error(why));
    };
    socket.setTimeout(timeoutMs, () => fail(`no connection within ${timeoutMs} ms`));
    socket.once('connect', () => {
      socket.destroy();
      resolve();
    });
    socket.once('error', (e) => fail((e as NodeJS.ErrnoException).code ?? e.message));
  });
}

/** "10.0.0.1:443", "[2001:db8::1]:443", "db.example.com:5432" (schema-checked) -> host and port. */
function target(text: string): { host: string; port: number } {
  const i = text.lastIndexOf(':');
  return { host: text.slice(0, i).replace(/^\[(.*)\]$/, '$1'), port: Number(text.slice(i + 1)) };
}

/**
 * The probes of a switch: the Git remote of `source` (none for a plain folder) and the configured ones. `fetched`:
 * the commit was just fetched from the remote, so the Git probe counts as passed before the switch (a flaky ref
 * listing at that moment must not leave the commit unguarded).
 */
export function commitProbes(source: SourceOptions, configured: CommitProbes, fetched = false): Probe[] {
  const probes: Probe[] = [];
  if (source.repo)
    probes.push({
      name: `git remote ${source.repo.replace(/\/\/[^/@]*@/, '//')}`,
      passedBefore: fetched,
      run: async (timeoutMs) => {
        await probeRemote(source, timeoutMs);
      },
    });
  for (const t of configured.tcp)
    probes.push({ name: `tcp ${t}`, run: (ms) => tcpConnect(target(t).host, target(t).port, ms) });
  for (const port of configured.localPorts)
    probes.push({ name: `local port ${port}`, run: (ms) => tcpConnect('localhost', port, ms) });
  return probes;
}

async function attempt(p: Probe, timeoutMs: number): Promise<string | null> {
  try {
    await p.run(Math.max(1, timeoutMs));
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}

/** Runs every probe once, side by side: which pass now, before the switch. */
export async function probeBefore(probes: Probe[], timeoutMs = ATTEMPT_MS): Promise<ProbeResult[]> {
  return Promise.all(
    probes.map(async (p) => {
      const error = p.passedBefore ? null : await attempt(p, timeoutMs);
      return { probe: p.name, before: error === null, after: null, error };
    }),
  );
}

/**
 * After the switch: every probe that passed before is retried until it passes or `deadlineMs` ends. Resolves with
 * every probe's result; a probe with before && after === false is one the switch broke.
 */
export async function probeAfter(probes: Probe[], before: ProbeResult[], deadlineMs: number): Promise<ProbeResult[]> {
  const end = Date.now() + deadlineMs;
  return Promise.all(
    before.map(async (b) => {
      const p = probes.find((x) => x.name === b.probe);
      if (!b.before || !p) return b;
      let error: string | null = 'not tried';
      while (Date.now() < end) {
        error = await attempt(p, Math.min(ATTEMPT_MS, end - Date.now()));
        if (error === null) return { ...b, after: true, error: null };
        const pause = Math.min(RETRY_MS, end - Date.now());
        if (pause > 0) await new Promise((r) => setTimeout(r, pause));
      }
      return { ...b, after: false, error };
    }),
  );
}

/** The probes a switch broke: passed before, failed after. */
export function brokenProbes(results: ProbeResult[]): ProbeResult[] {
  return results.filter((r) => r.before && r.after === false);
}

// kill -9 of a running `notrack apply`, at points spread across its work: the allowed traffic never stops (a
// numbered UDP stream runs throughout, postgres connects untracked after each kill), the next apply converges,
// drift is clean, and no stray generation or temporary ipset is left.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  IFNAME,
  dbPolicy,
  postgresConnection,
  RECONCILE_TOOLS,
  startFeed,
  withLab,
  type FeedResult,
  type ReconcileLab,
} from '../support/reconcile-fixture.js';
import { stopTraffic } from '../support/traffic.js';
import { kernelGate } from '../support/kernel-gate.js';

const gate = kernelGate('reconcile-crash', { tools: RECONCILE_TOOLS });
const kt = gate.test;

const RUNS = 15;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Revision i: another denied UDP port (a new generation) and, every other time, other reply nets (a new ipset). */
const revision = (i: number): Record<string, string> =>
  dbPolicy({
    denyUdpPorts: [9100 + i],
    replyNets: i % 2 ? ['10.0.1.0/24', '10.0.4.0/24'] : ['10.0.1.0/24', '10.0.3.0/24'],
  });

interface KilledApply {
  lines: string[];
  finished: boolean;
  /** Milliseconds from "applying to host" to the exit (or the kill). */
  ms: number;
  /** When the XDP switch was reported, in the same terms, if it was. */
  switchMs: number | null;
}

/** When to kill: `delayMs` after the apply says it is applying, or after it reports the XDP switch. */
interface KillPoint {
  after: 'start' | 'switch';
  delayMs: number;
}

/**
 * Starts `notrack apply`, waits for the moment `point` names, then kills it with SIGKILL; returns what it printed,
 * when, and whether it finished first.
 */
async function killApply(lab: ReconcileLab, point: KillPoint): Promise<KilledApply> {
  const child: ChildProcess = lab.spawnCli('apply');
  let out = '';
  let t0 = 0;
  let switchMs: number | null = null;
  let switched: () => void = () => {};
  const closed = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const started = new Promise<void>((resolve) =>
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (!t0 && out.includes('applying to host')) {
        t0 = Date.now();
        resolve();
      }
      if (switchMs === null && out.includes('XDP on eth0: switched')) {
        switchMs = Date.now() - t0;
        switched();
      }
    }),
  );
  await Promise.race([started, closed]);
  if (point.after === 'switch')
    await Promise.race([
      new Promise<void>((r) => {
        switched = r;
      }),
      closed,
    ]);
  await Promise.race([sleep(point.delayMs), closed]);
  const finished = child.exitCode !== null;
  if (!finished) child.kill('SIGKILL');
  const code = await closed;
  if (finished) assert.is(code, 0, `an apply that was not killed succeeds: ${out}`);
  return { lines: out.split('\n').filter((l) => l !== ''), finished, ms: Date.now() - t0, switchMs };
}

/**
 * Kill points: half spread over the work before the switch (fetch, compile, ipsets, loading the generation and
 * its policy program), half over the work after it (iptables for both families, ipset pruning, the record), each
 * measured from the reference apply.
 */
function killPoints(reference: KilledApply): KillPoint[] {
  const sw = reference.switchMs!;
  const early = Math.ceil(RUNS / 2);
  const late = RUNS - early;
  const rest = reference.ms - sw + 20;
  return [
    ...Array.from({ length: early }, (_, i): KillPoint => ({ after: 'start', delayMs: Math.round((sw * i) / early) })),
    ...Array.from({ length: late }, (_, i): KillPoint => ({
      after: 'switch',
      delayMs: Math.round((rest * i) / Math.max(1, late - 1)),
    })),
  ];
}

/** Where a killed apply got to, from the steps it printed. */
function stage(lines: string[], finished: boolean): string {
  if (finished || lines.some((l) => l.startsWith('applied '))) return 'finished';
  if (lines.some((l) => l.includes('ip6tables:'))) return 'after ip6tables';
  if (lines.some((l) => l.includes('iptables:'))) return 'after iptables';
  if (lines.some((l) => l.includes('XDP on eth0: switched'))) return 'after the XDP switch';
  return 'before the XDP switch';
}

kt(
  `kill -9 of apply at ${RUNS} points: traffic keeps flowing, the next apply converges, nothing stray is left`,
  async () => {
    await withLab(async (lab) => {
      let feedResult: FeedResult | undefined;
      try {
        lab.commit(revision(0));
        assert.is(lab.cli('apply').status, 0);

        const feed = await startFeed(lab, { everyMs: 1, burst: 2 });
        const stages: Record<string, number> = {};
        const t0 = Date.now();
        let reference: KilledApply | undefined;
        try {
          // How long an apply that switches generation and ipset takes here, under the stream, from the moment it
          // says it is applying to its exit: the kills are spread over that.
          lab.commit(revision(1));
          reference = await killApply(lab, { after: 'start', delayMs: 60_000 });
          assert.ok(reference.finished, 'the reference apply ran to the end');
          assert.ok(reference.switchMs !== null, 'the reference apply switched generation');
          const points = killPoints(reference);
          for (let i = 0; i < RUNS; i++) {
            const head = lab.commit(revision(i + 2), `revision ${i + 2}`);
            const point = points[i]!;
            const running = lab.record().interfaces[IFNAME]!.generation;
            const killed = await killApply(lab, point);
            const where = stage(killed.lines, killed.finished);
            stages[where] = (stages[where] ?? 0) + 1;
            const what = `run ${i} (killed ${point.delayMs} ms after the ${point.after}, ${where})`;

            // The dataplane runs the old generation or the new one, never none.
            const obs = lab.observe();
            assert.ok(
              obs.activeGeneration === running || obs.activeGeneration === running + 1,
              `${what}: generation ${running} or ${running + 1} is attached (found ${obs.activeGeneration})`,
            );
            assert.ok(obs.tc.mechanism !== 'none', `${what}: TC is attached`);
            const pg = await postgresConnection(lab, 4);
            assert.ok(pg.arrived, `${what}: postgres still connects`);
            assert.equal(pg.tracked, [], `${what}: postgres is still untracked`);

            const apply = lab.cli('apply');
            assert.is(apply.status, 0, `${what}: the next apply converges\n${apply.stdout}${apply.stderr}`);
            const drift = lab.cli('drift');
            assert.is(drift.status, 0, `${what}: drift is clean after it\n${drift.stdout}`);
            assert.is(lab.record().revision.commit, head, `${what}: the record names the new revision`);
            const gens = lab.pinnedGenerations();
            assert.is(gens.length, 1, `${what}: one generation pinned (${gens.join(', ')})`);
            assert.is(lab.record().interfaces[IFNAME]?.generation, gens[0], `${what}: the record names it`);
            const sets = lab.ipsets();
            assert.equal(
              sets.filter((s) => s.endsWith('-tmp')),
              [],
              `${what}: no temporary ipset`,
            );
            assert.is(sets.length, 1, `${what}: only the wanted ipset (${sets.join(', ')})`);
          }
        } finally {
          feedResult = await feed.stop();
        }
        const seconds = ((Date.now() - t0) / 1000).toFixed(1);
        console.log(
          `reconcile-crash: ${RUNS} kills over a ${reference!.ms} ms apply (switch at ${reference!.switchMs} ms) in ${seconds} s; ` +
            `where they landed: ${Object.entries(stages)
              .map(([k, v]) => `${k} ${v}`)
              .join(', ')}; ` +
            `${feedResult.sent} datagrams sent, ${feedResult.received} received`,
        );
        assert.is(feedResult.sendErrors, 0);
        assert.is(
          feedResult.receiverOverflows,
          0,
          'the receiver kept up (else a loss would prove nothing about the dataplane)',
        );
        assert.equal(feedResult.missing, [], 'no datagram of the stream was lost across the kills');
        assert.is(feedResult.received, feedResult.sent);
      } finally {
        stopTraffic();
      }
    });
  },
);

interface RecordFile {
  revision: { commit: string };
  desiredHash: string;
  interfaces: Record<string, { generation: number; generations: Record<string, string> }>;
}

kt(
  "a kill between the switch and the record's update: the next scheduled reconcile (no repair) leaves one generation and a record that names it",
  async () => {
    await withLab(async (lab) => {
      const files = {
        record: path.join(lab.stateDir, 'applied.json'),
        state: path.join(lab.stateDir, 'applied-state.json'),
      };
      lab.commit(revision(0));
      assert.is(lab.cli('apply').status, 0);
      const before = {
        record: JSON.parse(readFileSync(files.record, 'utf8')) as RecordFile,
        state: readFileSync(files.state, 'utf8'),
      };
      const head = lab.commit(revision(1));
      assert.is(lab.cli('apply').status, 0);
      const after = JSON.parse(readFileSync(files.record, 'utf8')) as RecordFile;
      assert.equal(lab.pinnedGenerations(), [2]);

      // What apply wrote before switching to generation 2, and a kill right after the switch left: generation 2
      // runs, while the record still names generation 1 (with 2's fingerprint beside it) and the old revision.
      const stale = structuredClone(before.record);
      stale.interfaces[IFNAME]!.generations = {
        ...before.record.interfaces[IFNAME]!.generations,
        ...after.interfaces[IFNAME]!.generations,
      };
      writeFileSync(files.record, JSON.stringify(stale, null, 2));
      writeFileSync(files.state, before.state);
      assert.is(lab.observe().activeGeneration, 2);

      const r = lab.reconcilerScript(
        `process.stdout.write(JSON.stringify(await new HostReconciler(opts).reconcile('schedule')));`,
      );
      assert.is(r.status, 0, r.stderr);
      const outcome = JSON.parse(r.stdout) as {
        status: string;
        message: string;
        appliedRevision: { commit: string; generation: number };
      };
      assert.is(outcome.status, 'Ready', outcome.message);
      assert.is(outcome.appliedRevision.commit, head);

      const drift = lab.cli('drift');
      assert.is(drift.status, 0, `drift is clean after the reconcile\n${drift.stdout}`);
      const gens = lab.pinnedGenerations();
      assert.is(gens.length, 1, `one generation (${gens.join(', ')})`);
      assert.is(lab.record().interfaces[IFNAME]?.generation, gens[0]);
      assert.is(lab.observe().activeGeneration, gens[0]);
    });
  },
);

test.run();

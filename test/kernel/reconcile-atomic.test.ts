// Atomic updates under load: a steady stream of numbered UDP datagrams that only the untracked path lets through
// the host's INPUT DROP crosses 100 consecutive policy updates, each a new generation switched in by applyHost;
// not one datagram may be lost, and every update must have switched generation.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { performance } from 'node:perf_hooks';
import {
  FEED,
  IFNAME,
  compileFiles,
  dbPolicy,
  RECONCILE_TOOLS,
  startFeed,
  withLab,
  type FeedResult,
} from '../support/reconcile-fixture.js';
import { conntrackFlows } from '../support/traffic.js';
import { kernelGate } from '../support/kernel-gate.js';

const gate = kernelGate('reconcile-atomic', { tools: RECONCILE_TOOLS });
const kt = gate.test;

const UPDATES = 100;

kt(
  `${UPDATES} policy updates under a steady allowed UDP flow: every one switches generation and no datagram is lost`,
  async () => {
    await withLab(async (lab) => {
      // Each update denies another unrelated UDP port: a different policy program, so a new generation each time.
      const states = Array.from({ length: UPDATES + 1 }, (_, i) =>
        compileFiles(dbPolicy({ denyUdpPorts: [9000 + i] })),
      );
      // Control: without notrack the host's INPUT DROP stops the stream, so a datagram that misses the untracked
      // path is a datagram lost.
      const control = await (await startFeed(lab, { everyMs: 1, burst: 4 })).stop();
      assert.ok(
        control.sent > 0 && control.received === 0,
        `without notrack nothing arrives (${control.received} of ${control.sent})`,
      );

      const first = lab.applyInProcess(states[0]!);
      assert.ok(
        first.changes.some((c) => c.object === `XDP on ${IFNAME}` && /^attached generation 1 /.test(c.action)),
        JSON.stringify(first.changes),
      );

      const feed = await startFeed(lab, { everyMs: 1, burst: 4 });
      await new Promise((r) => setTimeout(r, 300));
      const times: number[] = [];
      let outcome: FeedResult;
      try {
        for (let i = 1; i <= UPDATES; i++) {
          const t0 = performance.now();
          const result = lab.applyInProcess(states[i]!);
          times.push(performance.now() - t0);
          const xdp = result.changes.find((c) => c.object === `XDP on ${IFNAME}`);
          assert.is(xdp?.action, `switched from generation ${i} to ${i + 1}`, `update ${i}`);
          assert.equal(lab.pinnedGenerations(), [i + 1], `update ${i}: the old generation is removed`);
          // Let the stream run over the new generation for a moment before the next switch.
          await new Promise((r) => setTimeout(r, 20));
        }
      } finally {
        outcome = await feed.stop();
      }
      const obs = lab.observe();
      assert.is(obs.activeGeneration, UPDATES + 1);
      assert.equal(obs.findings, []);

      const sorted = [...times].sort((x, y) => x - y);
      const at = (q: number): string => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!.toFixed(0);
      console.log(
        `reconcile-atomic: ${UPDATES} updates, per update median ${at(0.5)} ms, p90 ${at(0.9)} ms, max ${at(1)} ms, ` +
          `total ${(times.reduce((x, y) => x + y, 0) / 1000).toFixed(1)} s; ${outcome.sent} datagrams sent, ${outcome.received} received`,
      );

      assert.ok(outcome.sent > 5 * UPDATES, `the stream was steady (${outcome.sent} datagrams)`);
      assert.is(outcome.sendErrors, 0, 'the sender never failed to send');
      assert.is(
        outcome.receiverOverflows,
        0,
        'the receiver kept up (else a loss would prove nothing about the dataplane)',
      );
      assert.equal(outcome.missing, [], 'no datagram was lost');
      assert.is(outcome.received, outcome.sent, 'every datagram arrived');
      assert.is(outcome.duplicates, 0);
      assert.equal(
        conntrackFlows(lab.a, 4).filter((l) => l.includes(`dport=${FEED}`)),
        [],
        'the stream stayed untracked',
      );
    });
  },
);

test.run();

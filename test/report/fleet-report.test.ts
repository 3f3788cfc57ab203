// The fleet report's judgement of each host from Prometheus samples: behind head (with the distance), missing,
// stale, stalled, unreachable; and how it renders for people and GitHub.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fleetReport } from '../../src/fleet/fleet-report.js';
import type { AgentSample } from '../../src/fleet/fleet-samples.js';
import { renderFleetGithub, renderFleetMarkdown, renderFleetText } from '../../src/report/fleet-render.js';

const HEAD = 'a'.repeat(40);
const OLD = 'b'.repeat(40);
const NOW = Date.parse('2030-01-02T03:04:05Z');

function agent(host: string, over: Partial<AgentSample> = {}): AgentSample {
  return {
    host,
    instance: `${host}:9808`,
    up: true,
    commit: HEAD,
    ref: 'main',
    generation: 4,
    condition: 'Ready',
    lastSuccess: NOW / 1000 - 30,
    driftObjects: 0,
    interfaces: [{ iface: 'eth0', protected: true }],
    version: '0.1.0',
    ...over,
  };
}

function report(samples: AgentSample[], expected: string[] | null = null) {
  return fleetReport({
    samples,
    prometheus: 'http://prometheus:9090',
    head: { commit: HEAD, ref: 'main' },
    expectedHosts: expected,
    behind: new Map([[OLD, 3]]),
    nowMs: NOW,
    staleAfterMs: 3_600_000,
  });
}

test('hosts at the head, protected, without drift, recently successful are in sync', () => {
  const r = report([agent('db-1'), agent('edge-1')], ['db-1', 'edge-1']);
  assert.ok(r.inSync);
  assert.equal(r.summary, {
    hosts: 2,
    inSync: 2,
    missing: 0,
    unreachable: 0,
    stale: 0,
    stalled: 0,
    unprotected: 0,
    drifted: 0,
    behind: 0,
  });
  assert.is(r.hosts[0]!.commitsBehind, 0);
  assert.match(renderFleetText(r), /^fleet in sync: 2 hosts at head main@aaaaaaaaaaaa/);
});

test('a host on an older commit is behind by the distance Git gives; an unknown commit is behind, distance unknown', () => {
  const r = report([agent('db-1', { commit: OLD }), agent('edge-1', { commit: 'c'.repeat(40) })]);
  assert.not.ok(r.inSync);
  assert.equal(
    r.hosts.map((h) => [h.host, h.problems, h.commitsBehind]),
    [
      ['db-1', ['behind'], 3],
      ['edge-1', ['behind'], null],
    ],
  );
  assert.match(renderFleetText(r), /db-1\s+behind\s+bbbbbbbbbbbb\s+4\s+3 behind/);
});

test('missing, unreachable, stale and stalled hosts are named, and GitHub gets one annotation per host', () => {
  const r = report(
    [
      agent('db-1', { up: false }),
      agent('cache-1', { lastSuccess: NOW / 1000 - 7200 }),
      agent('edge-1', { condition: 'Stalled' }),
    ],
    ['cache-1', 'db-1', 'edge-1', 'web-1'],
  );
  assert.equal(
    r.hosts.map((h) => [h.host, h.problems]),
    [
      ['cache-1', ['stale']],
      ['db-1', ['unreachable']],
      ['edge-1', ['stalled']],
      ['web-1', ['missing']],
    ],
  );
  const gh = renderFleetGithub(r).split('\n');
  assert.is(gh.filter((l) => l.startsWith('::')).length, 4);
  assert.ok(
    gh.includes(
      '::error title=notrack fleet web-1::web-1: missing (the policy names it, but Prometheus has no agent for it)',
    ),
  );
  const md = renderFleetMarkdown(r);
  assert.match(md, '| web-1 | missing |');
  assert.match(md, '- **stale** (1): no successful reconcile recently');
});

test('an empty fleet is not "in sync"', () => {
  assert.not.ok(report([], []).inSync);
});

test.run();

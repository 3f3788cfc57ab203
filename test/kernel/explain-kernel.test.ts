// `notrack explain --kernel` against policies-example: the reference verdict and the compiled program's verdict in
// the kernel (BPF_PROG_TEST_RUN through the whole XDP pipeline) side by side, in text and JSON, and "agree".
import { spawnSync } from 'node:child_process';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Verdict } from '../../src/compile/desired-state.js';
import {
  verdictDifferences,
  type Explanation,
  type KernelComparison,
  type KernelVerdict,
} from '../../src/compile/explain.js';
import { renderKernelText } from '../../src/report/explain.js';
import { cliInProcess } from '../support/cli-in-process.js';
import { cliCommand } from '../support/cli.js';
import { readableCopy } from '../support/readable-copy.js';
import { kernelGate } from '../support/kernel-gate.js';

const gate = kernelGate('explain-kernel');

const explain = (host: string, packet: string, ...more: string[]) =>
  cliInProcess(
    'explain',
    '--path',
    'policies-example',
    '--host',
    host,
    '--iface',
    'eth0',
    '--packet',
    packet,
    '--kernel',
    ...more,
  );

interface Case {
  name: string;
  host: string;
  packet: string;
  reference: string;
  kernel: string;
  json: Partial<KernelVerdict>;
}

const CASES: Case[] = [
  {
    name: 'HTTPS to the edge: allowed untracked, the flag set in the XDP metadata, by edge-web ingress[0]',
    host: 'edge-1',
    packet: 'tcp 198.51.100.7:40000 > 10.0.0.10:443',
    reference: 'allow by edge-web ingress[0]',
    kernel: 'allow (XDP_PASS, untracked flag set) by edge-web ingress[0]',
    json: {
      action: 2,
      actionName: 'XDP_PASS',
      untrackedFlag: true,
      outcome: 'allow',
      reason: 'rule',
      rule: { policy: 'edge-web', direction: 'ingress', index: 0 },
      logged: [],
      logCount: 0,
    },
  },
  {
    name: 'a source on the DDoS deny list: dropped at XDP by ddos-deny ingress[0]',
    host: 'edge-1',
    packet: 'tcp 203.0.113.66:4000 > 10.0.0.10:80',
    reference: 'deny by ddos-deny ingress[0]',
    kernel: 'deny (XDP_DROP) by ddos-deny ingress[0]',
    json: {
      action: 1,
      actionName: 'XDP_DROP',
      untrackedFlag: false,
      outcome: 'deny',
      reason: 'rule',
      rule: { policy: 'ddos-deny', direction: 'ingress', index: 0 },
      logged: [],
      logCount: 0,
    },
  },
  {
    name: 'reflected memcached: the Log rule the kernel recorded is the one the reference lists, before the Deny',
    host: 'edge-1',
    packet: 'udp 192.0.2.10:11211 > 10.0.0.10:40000',
    reference: 'deny by edge-reflection-deny ingress[1]; logged by edge-reflection-deny ingress[0]',
    kernel: 'deny (XDP_DROP) by edge-reflection-deny ingress[1]; logged by edge-reflection-deny ingress[0]',
    json: {
      outcome: 'deny',
      reason: 'rule',
      rule: { policy: 'edge-reflection-deny', direction: 'ingress', index: 1 },
      logCount: 1,
    },
  },
  {
    name: 'SSH from outside the management network: no rule matches, passed on without the flag',
    host: 'edge-1',
    packet: 'tcp 192.0.2.10:50000 > 10.0.0.10:22',
    reference: 'pass: no rule matched',
    kernel: 'pass (XDP_PASS, no flag): no rule matched',
    json: {
      action: 2,
      untrackedFlag: false,
      outcome: 'pass',
      reason: 'no-match',
      counter: null,
      rule: null,
      logged: [],
      logCount: 0,
    },
  },
  {
    name: 'IPv6 from the app subnet to the database: allowed by the second db-postgres rule',
    host: 'db-1',
    packet: 'tcp [fd00:0:0:1::7]:40000 > [fd00:0:0:2::10]:5432',
    reference: 'allow by db-postgres ingress[1]',
    kernel: 'allow (XDP_PASS, untracked flag set) by db-postgres ingress[1]',
    json: {
      outcome: 'allow',
      untrackedFlag: true,
      reason: 'rule',
      rule: { policy: 'db-postgres', direction: 'ingress', index: 1 },
    },
  },
  {
    name: 'SSH from the management network: the entry program passes it by its failsafe before any policy',
    host: 'edge-1',
    packet: 'tcp 10.0.255.7:50000 > 10.0.0.10:22',
    reference: 'pass: failsafe tcp 22 from 10.0.255.0/24',
    kernel: 'pass (XDP_PASS, no flag): failsafe',
    json: { action: 2, untrackedFlag: false, outcome: 'pass', reason: 'failsafe', counter: null, rule: null },
  },
];

for (const c of CASES) {
  gate.test(`${c.name} (text and json agree)`, async () => {
    const text = await explain(c.host, c.packet);
    assert.is(text.code, 0, text.err);
    assert.match(text.out, `\nreference: ${c.reference}\nkernel:    ${c.kernel}\nagree\n`);
    assert.not.match(text.out, 'DISAGREE');

    const json = await explain(c.host, c.packet, '--format', 'json');
    assert.is(json.code, 0, json.err);
    const j = JSON.parse(json.out);
    assert.is(j.formatVersion, 1);
    assert.is(j.kernel.agree, true);
    assert.equal(j.kernel.differences, []);
    for (const [key, value] of Object.entries(c.json)) assert.equal(j.kernel[key], value, `kernel.${key}`);
    // The two verdicts side by side in the JSON say the same.
    assert.is(j.kernel.outcome, j.verdict.outcome);
    assert.is(j.kernel.reason, j.verdict.reason);
    assert.is(j.kernel.counter, j.verdict.counter);
    assert.equal(j.kernel.rule, j.verdict.rule);
  });
}

gate.test("without root, explain --kernel fails with the binding's permission error and exit 1, not a crash", () => {
  // The checkout may be under a folder nobody can enter: the unprivileged run gets a copy it can read.
  const copy = readableCopy();
  let r;
  try {
    const [cmd, ...argv] = cliCommand(
      [
        'explain',
        '--path',
        'policies-example',
        '--host',
        'edge-1',
        '--iface',
        'eth0',
        '--packet',
        'tcp 203.0.113.66:4000 > 10.0.0.10:80',
        '--kernel',
      ],
      copy.root,
    );
    r = spawnSync(cmd!, argv, {
      cwd: copy.root,
      encoding: 'utf8',
      uid: 65534,
      gid: 65534,
      timeout: 60_000,
      env: { ...process.env, HOME: '/tmp', TMPDIR: '/tmp' },
    });
  } finally {
    copy.remove();
  }
  assert.is(r.status, 1, r.stderr);
  assert.match(r.stderr, /notrack explain: error\[bpf-permission\]: .*needs root or CAP_BPF/);
  assert.not.match(r.stderr, 'internal error');
  assert.is(r.stdout, '');
});

test('a disagreement is printed as DISAGREE with each difference named', () => {
  const reference: Verdict = {
    outcome: 'deny',
    reason: 'rule',
    counter: 0,
    rule: { policy: 'ddos-deny', direction: 'ingress', index: 0 },
    logged: [],
  };
  const kernel: KernelVerdict = {
    action: 2,
    actionName: 'XDP_PASS',
    untrackedFlag: false,
    outcome: 'pass',
    reason: 'no-match',
    counter: null,
    rule: null,
    logged: [],
    logCount: 0,
  };
  const differences = verdictDifferences(reference, kernel);
  assert.equal(differences, [
    'outcome: reference deny, kernel pass (XDP_PASS)',
    'reason: reference rule, kernel no-match',
    'deciding rule: reference ddos-deny ingress[0], kernel none',
  ]);
  const explanation = { verdict: reference, failsafe: null, logged: [] } as unknown as Explanation;
  const comparison: KernelComparison = { ...kernel, agree: false, differences };
  assert.is(
    renderKernelText(explanation, comparison, [reference.rule!]),
    [
      'reference: deny by ddos-deny ingress[0]',
      'kernel:    pass (XDP_PASS, no flag): no rule matched',
      'DISAGREE: the kernel and the reference evaluator differ; this is a bug in notrack, please report it:',
      '  outcome: reference deny, kernel pass (XDP_PASS)',
      '  reason: reference rule, kernel no-match',
      '  deciding rule: reference ddos-deny ingress[0], kernel none',
      '',
    ].join('\n'),
  );
});

test.run();

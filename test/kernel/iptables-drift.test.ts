// Drift in a namespace: a deleted chain, a removed or duplicated or displaced jump, a foreign or altered rule and
// a stale chain are each reported by observe+diff, and one apply repairs them all without touching host rules; a
// host whose rules an older notrack wrote (every rule commented) converges without seeing foreign rules.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { NetNs, run } from '../support/netns.js';
import {
  applyIptables,
  observeIptables,
  diffIptables,
  removeAll,
  renderRuleset,
  DEFAULT_ACCEPT_MARK,
  DEFAULT_PASS_MARK,
  type CommandRunner,
  type IptablesChange,
  type IptablesDesired,
} from '../../src/dataplane/iptables/index.js';
import { kernelGate } from '../support/kernel-gate.js';

const gate = kernelGate('iptables-drift', { tools: ['iptables-restore'] });
const kt = gate.test;

const desired: IptablesDesired = {
  marks: { accept: DEFAULT_ACCEPT_MARK, pass: DEFAULT_PASS_MARK },
  failsafe: { inbound: [], outbound: [] },
  log: { rate: 10, burst: 20 },
  egress: {
    interfaces: [
      {
        iface: 'lo',
        policies: [{ name: 'deny-smtp', rules: [{ index: 0, action: 'Deny', match: ['-p', 'tcp', '--dport', '25'] }] }],
      },
    ],
  },
};

/** One line per change, without the detail that varies (rule text), sorted. */
const summary = (changes: IptablesChange[]): string[] =>
  changes
    .map((c) => {
      const where = 'chain' in c ? c.chain : `${c.from}>${c.to}`;
      return `${c.table} ${c.kind} ${where}`;
    })
    .sort();

kt("every kind of drift is reported, and one apply repairs it all without removing the host's rule", () => {
  const ns = NetNs.create('dr');
  try {
    const runner: CommandRunner = (argv, input) => ns.exec(argv, { input, allowFail: true });
    applyIptables(runner, desired, 4);
    assert.equal(diffIptables(desired, observeIptables(runner, 4)), []);

    const ipt = (...args: string[]): void => {
      ns.exec(['iptables', ...args]);
    };
    // A deleted chain (its jump has to go first).
    ipt('-D', 'FORWARD', '-j', 'NOTRACK-FORWARD');
    ipt('-F', 'NOTRACK-FORWARD');
    ipt('-X', 'NOTRACK-FORWARD');
    // A removed jump, a duplicated one, and one pushed down by a host rule inserted above it.
    ipt('-t', 'raw', '-D', 'PREROUTING', '-j', 'NOTRACK-PREROUTING');
    ipt('-A', 'INPUT', '-j', 'NOTRACK-INPUT');
    ipt('-I', 'OUTPUT', '1', '-o', 'lo', '-j', 'ACCEPT');
    // A foreign rule inside a notrack chain, and a notrack rule altered in place (its comment kept).
    ipt('-t', 'raw', '-I', 'NOTRACK-PREROUTING', '1', '-s', '192.0.2.1', '-j', 'ACCEPT');
    ipt(
      '-t',
      'raw',
      '-R',
      'NOTRACK-PO-deny-smtp',
      '1',
      '-p',
      'tcp',
      '--dport',
      '26',
      '-m',
      'comment',
      '--comment',
      'notrack:deny-smtp:0',
      '-j',
      'DROP',
    );
    // A chain of notrack's that is no longer wanted.
    ipt('-t', 'raw', '-N', 'NOTRACK-PO-retired');

    const drift = diffIptables(desired, observeIptables(runner, 4));
    assert.equal(summary(drift), [
      'filter duplicate-jump INPUT>NOTRACK-INPUT',
      'filter misplaced-jump OUTPUT>NOTRACK-OUTPUT',
      'filter missing-chain NOTRACK-FORWARD',
      'filter missing-jump FORWARD>NOTRACK-FORWARD',
      'raw extra-chain NOTRACK-PO-retired',
      'raw foreign-rule NOTRACK-PREROUTING',
      'raw missing-jump PREROUTING>NOTRACK-PREROUTING',
      'raw rule-mismatch NOTRACK-PO-deny-smtp',
    ]);
    const foreign = drift.find((c) => c.kind === 'foreign-rule');
    assert.equal(foreign && 'rule' in foreign ? [foreign.position, foreign.rule] : [], [
      1,
      '-s 192.0.2.1/32 -j ACCEPT',
    ]);

    const fixed = applyIptables(runner, desired, 4);
    assert.equal(summary(fixed.fixed), summary(drift));
    assert.equal(diffIptables(desired, observeIptables(runner, 4)), [], 'in sync after one apply');
    const output = observeIptables(runner, 4).tables.filter.chains.find((c) => c.name === 'OUTPUT')!;
    assert.equal(
      output.rules.map((r) => r.text),
      ['-j NOTRACK-OUTPUT', '-o lo -j ACCEPT'],
      'the host rule stays, below the jump',
    );
    removeAll(runner);
  } finally {
    ns.delete();
  }
});

/**
 * The restore input an older notrack wrote for `d`: the same rules, each structural one with a `notrack:` comment
 * in front of its target (policy rules already have theirs).
 */
function commentedRuleset(d: IptablesDesired): Record<'raw' | 'filter', string> {
  const old = (text: string): string =>
    text
      .split('\n')
      .map((line, n) =>
        line.startsWith('-A NOTRACK-') && !line.includes('--comment')
          ? line.replace(/ (-[jg] \S+.*)$/, ` -m comment --comment "notrack:old-${n}" $1`)
          : line,
      )
      .join('\n');
  const now = renderRuleset(d, 4);
  return { raw: old(now.raw), filter: old(now.filter) };
}

kt('a host upgraded from commented rules converges in one apply; then foreign rules are still found', () => {
  const ns = NetNs.create('dr');
  try {
    const runner: CommandRunner = (argv, input) => ns.exec(argv, { input, allowFail: true });
    const old = commentedRuleset(desired);
    for (const t of ['filter', 'raw'] as const) ns.exec(['iptables-restore', '--noflush'], { input: old[t] });
    const before = observeIptables(runner, 4);
    assert.ok(
      before.tables.raw.chains.find((c) => c.name === 'NOTRACK-PREROUTING')!.rules.every((r) => r.comment),
      'the old rules carry comments',
    );
    const upgrade = diffIptables(desired, before);
    assert.equal(
      summary(upgrade),
      [
        'filter rule-mismatch NOTRACK-ACCEPT',
        'filter rule-mismatch NOTRACK-FORWARD',
        'filter rule-mismatch NOTRACK-INPUT',
        'filter rule-mismatch NOTRACK-OUTPUT',
        'raw rule-mismatch NOTRACK-ALLOW',
        'raw rule-mismatch NOTRACK-OUTPUT',
        'raw rule-mismatch NOTRACK-PREROUTING',
        'raw rule-mismatch NOTRACK-TH-lo',
      ],
      'changed chains, no foreign rule; the policy chain is unchanged',
    );
    const applied = applyIptables(runner, desired, 4);
    assert.equal(applied.restored, ['filter', 'raw']);
    assert.equal(diffIptables(desired, observeIptables(runner, 4)), [], 'in sync after one apply');
    const save = ns.exec(['iptables-save']).stdout;
    assert.equal(save.match(/notrack:[^"]*/g), ['notrack:deny-smtp:0'], 'only the policy rule keeps a comment');

    // Now without comments: a foreign rule appended to a filter chain of notrack's, a duplicate of notrack's own
    // raw rule, and a host rule inserted above notrack's jump in raw PREROUTING.
    ns.exec(['iptables', '-A', 'NOTRACK-INPUT', '-s', '192.0.2.9', '-j', 'DROP']);
    ns.exec([
      'iptables',
      '-t',
      'raw',
      '-A',
      'NOTRACK-PREROUTING',
      '-m',
      'mark',
      '--mark',
      '0x40000000/0x40000000',
      '-j',
      'NOTRACK',
    ]);
    ns.exec(['iptables', '-t', 'raw', '-I', 'PREROUTING', '1', '-s', '192.0.2.8', '-j', 'DROP']);
    const drift = diffIptables(desired, observeIptables(runner, 4));
    assert.equal(summary(drift), [
      'filter foreign-rule NOTRACK-INPUT',
      'raw foreign-rule NOTRACK-PREROUTING',
      'raw misplaced-jump PREROUTING>NOTRACK-PREROUTING',
    ]);
    assert.equal(
      drift.flatMap((c) => (c.kind === 'foreign-rule' ? [`${c.position} ${c.rule}`] : [])),
      ['3 -m mark --mark 0x40000000/0x40000000 -j NOTRACK', '2 -s 192.0.2.9/32 -j DROP'],
    );
    applyIptables(runner, desired, 4);
    assert.equal(diffIptables(desired, observeIptables(runner, 4)), [], 'repaired');

    removeAll(runner);
    assert.not.match(ns.exec(['iptables-save']).stdout, /NOTRACK/, 'remove leaves nothing of notrack');
  } finally {
    ns.delete();
  }
});

test.run();

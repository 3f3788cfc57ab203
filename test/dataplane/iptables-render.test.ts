// Rendering notrack's iptables ruleset: exact restore input for a small desired state, family filtering, checks.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  renderRuleset,
  DEFAULT_ACCEPT_MARK,
  DEFAULT_PASS_MARK,
  IptablesDesiredError,
  type IptablesDesired,
} from '../../src/dataplane/iptables/index.js';

const desired = (): IptablesDesired => ({
  marks: { accept: DEFAULT_ACCEPT_MARK, pass: DEFAULT_PASS_MARK },
  failsafe: { inbound: [{ protocol: 6, port: 22 }], outbound: [{ protocol: 17, port: 53, net: '10.0.0.0/8' }] },
  log: { rate: 10, burst: 20 },
  egress: {
    interfaces: [
      {
        iface: '*',
        policies: [
          {
            name: 'smtp-block',
            rules: [{ index: 0, action: 'Deny', match: ['-p', 'tcp', '-m', 'tcp', '--dport', '25'] }],
          },
        ],
      },
      {
        iface: 'eth0',
        policies: [
          {
            name: 'db-egress',
            rules: [
              {
                index: 0,
                action: 'Allow',
                match: ['-p', 'tcp', '-m', 'tcp', '--dport', '5432', '-m', 'set', '--match-set', 'notrack-db', 'dst'],
              },
              { index: 1, action: 'Log', match: ['-p', 'udp'] },
              { index: 2, action: 'Pass', match: ['-d', '10.9.0.0/16'], ipVersion: 4 },
              { index: 3, action: 'Deny', match: ['-d', 'fd00:9::/32'], ipVersion: 6 },
            ],
          },
        ],
      },
    ],
  },
});

test('the IPv4 ruleset declares every chain, fills it and inserts one jump per built-in chain at the top', () => {
  const out = renderRuleset(desired(), 4);
  assert.is(
    out.raw,
    `*raw
:NOTRACK-PREROUTING - [0:0]
:NOTRACK-OUTPUT - [0:0]
:NOTRACK-TH-eth0 - [0:0]
:NOTRACK-TH-* - [0:0]
:NOTRACK-PO-db-egress - [0:0]
:NOTRACK-PO-smtp-block - [0:0]
:NOTRACK-ALLOW - [0:0]
:NOTRACK-PASS-SET - [0:0]
:NOTRACK-PASS-END - [0:0]
-A NOTRACK-PREROUTING -m mark --mark 0x40000000/0x40000000 -j NOTRACK
-A NOTRACK-PREROUTING -m mark --mark 0x40000000/0x40000000 -j ACCEPT
-A NOTRACK-OUTPUT -j MARK --set-xmark 0x0/0x60000000
-A NOTRACK-OUTPUT -p tcp -m tcp --sport 22 -j RETURN
-A NOTRACK-OUTPUT -d 10.0.0.0/8 -p udp -m udp --dport 53 -j RETURN
-A NOTRACK-OUTPUT -o eth0 -g NOTRACK-TH-eth0
-A NOTRACK-OUTPUT -g NOTRACK-TH-*
-A NOTRACK-TH-eth0 -j NOTRACK-PO-db-egress
-A NOTRACK-TH-eth0 -m mark --mark 0x20000000/0x20000000 -g NOTRACK-PASS-END
-A NOTRACK-TH-* -j NOTRACK-PO-smtp-block
-A NOTRACK-PO-db-egress -p tcp -m tcp --dport 5432 -m set --match-set notrack-db dst -m comment --comment "notrack:db-egress:0" -j NOTRACK-ALLOW
-A NOTRACK-PO-db-egress -p udp -m comment --comment "notrack:db-egress:1" -m limit --limit 10/sec --limit-burst 20 -j LOG --log-prefix "notrack:db-egress:1 "
-A NOTRACK-PO-db-egress -d 10.9.0.0/16 -m comment --comment "notrack:db-egress:2" -g NOTRACK-PASS-SET
-A NOTRACK-PO-smtp-block -p tcp -m tcp --dport 25 -m comment --comment "notrack:smtp-block:0" -j DROP
-A NOTRACK-ALLOW -j MARK --set-xmark 0x40000000/0x40000000
-A NOTRACK-ALLOW -j NOTRACK
-A NOTRACK-ALLOW -j ACCEPT
-A NOTRACK-PASS-SET -j MARK --set-xmark 0x20000000/0x20000000
-A NOTRACK-PASS-END -j MARK --set-xmark 0x0/0x20000000
-I OUTPUT 1 -j NOTRACK-OUTPUT
-I PREROUTING 1 -j NOTRACK-PREROUTING
COMMIT
`,
  );
  assert.is(
    out.filter,
    `*filter
:NOTRACK-INPUT - [0:0]
:NOTRACK-FORWARD - [0:0]
:NOTRACK-OUTPUT - [0:0]
:NOTRACK-ACCEPT - [0:0]
-A NOTRACK-INPUT -m mark --mark 0x40000000/0x40000000 -j NOTRACK-ACCEPT
-A NOTRACK-FORWARD -m mark --mark 0x40000000/0x40000000 -j NOTRACK-ACCEPT
-A NOTRACK-OUTPUT -m mark --mark 0x40000000/0x40000000 -j NOTRACK-ACCEPT
-A NOTRACK-ACCEPT -j MARK --set-xmark 0x0/0x40000000
-A NOTRACK-ACCEPT -j ACCEPT
-I OUTPUT 1 -j NOTRACK-OUTPUT
-I FORWARD 1 -j NOTRACK-FORWARD
-I INPUT 1 -j NOTRACK-INPUT
COMMIT
`,
  );
});

test('the IPv6 ruleset keeps only rules for IPv6 (or both) and leaves out the IPv4 failsafe net', () => {
  const raw = renderRuleset(desired(), 6).raw;
  assert.ok(raw.includes('-A NOTRACK-PO-db-egress -d fd00:9::/32 -m comment --comment "notrack:db-egress:3" -j DROP'));
  assert.not.ok(raw.includes('10.9.0.0/16'), 'IPv4-only rule rendered for IPv6');
  assert.not.ok(raw.includes('failsafe-out'), 'an IPv4 failsafe net rendered for IPv6');
  assert.ok(raw.includes('--sport 22'), 'the failsafe without a net applies to both families');
  // No policy of the IPv6 ruleset has a Pass rule, so the pass chains are not created.
  assert.not.ok(raw.includes('NOTRACK-PASS-SET'));
});

test('without egress policies only the ingress chains, the mark clearing and the jumps are rendered', () => {
  const d = desired();
  d.egress.interfaces = [];
  const raw = renderRuleset(d, 4).raw;
  assert.is(
    raw
      .split('\n')
      .filter((l) => l.startsWith(':'))
      .join(' '),
    ':NOTRACK-PREROUTING - [0:0] :NOTRACK-OUTPUT - [0:0]',
  );
  assert.not.ok(raw.includes('failsafe'), 'failsafe rules are only needed with egress policies');
});

test('marks come from the desired state: a custom accept mark appears in raw and filter', () => {
  const d = desired();
  d.marks.accept = { value: 0x100, mask: 0x100 };
  const out = renderRuleset(d, 4);
  assert.ok(out.raw.includes('-m mark --mark 0x100/0x100'));
  assert.ok(out.filter.includes('-j MARK --set-xmark 0x0/0x100'));
  assert.ok(out.raw.includes('--set-xmark 0x0/0x20000100'), 'raw OUTPUT clears both accept and pass bits');
});

test('invalid desired states are refused with a message that says what to fix', () => {
  const cases: [string, (d: IptablesDesired) => void, RegExp][] = [
    [
      'overlapping marks',
      (d) => {
        d.marks.pass = { value: 0x40000000, mask: 0x40000000 };
      },
      /overlap/,
    ],
    [
      'a target inside the match',
      (d) => {
        d.egress.interfaces[0]!.policies[0]!.rules[0]!.match.push('-j', 'ACCEPT');
      },
      /may not contain -j/,
    ],
    [
      'an IPv4 address in a rule for both families',
      (d) => {
        d.egress.interfaces[0]!.policies[0]!.rules[0]!.match.push('-d', '10.1.1.1');
      },
      /set ipVersion: 4/,
    ],
    [
      'a host name instead of an address',
      (d) => {
        d.egress.interfaces[0]!.policies[0]!.rules[0]!.match.push('-d', 'db.example.com');
      },
      /is not one CIDR/,
    ],
    [
      'an interface name with a slash',
      (d) => {
        d.egress.interfaces[0]!.iface = 'a/b';
      },
      /not an interface name/,
    ],
    [
      'a value outside the mask',
      (d) => {
        d.marks.accept = { value: 0x3, mask: 0x1 };
      },
      /inside a 32-bit mask/,
    ],
  ];
  for (const [what, mutate, message] of cases) {
    const d = desired();
    mutate(d);
    assert.throws(
      () => renderRuleset(d, 4),
      (e: unknown) =>
        e instanceof IptablesDesiredError && e.code === 'iptables-invalid-desired' && message.test(e.message),
      what,
    );
  }
});

test('one policy on two interfaces gets one chain that both interface chains jump to', () => {
  const d = desired();
  const shared = d.egress.interfaces[0]!.policies[0]!;
  d.egress.interfaces[1]!.policies.push(shared);
  const raw = renderRuleset(d, 4).raw;
  assert.is(raw.split('\n').filter((l) => l === ':NOTRACK-PO-smtp-block - [0:0]').length, 1);
  assert.is(raw.split('\n').filter((l) => l.endsWith('-j NOTRACK-PO-smtp-block')).length, 2);
});

test("an endpoint without egress rules of a family returns its packets: the `*` endpoint's chain never sees them", () => {
  const d = desired();
  d.egress.interfaces.push({ iface: 'eth1', policies: [] });
  const raw = renderRuleset(d, 6).raw.split('\n');
  // IPv6: eth0 has a rule (index 3), eth1 has none, `*` has smtp-block: eth1 must not fall through to `*`.
  const dispatch = raw.filter((l) => /^-A NOTRACK-OUTPUT (-o \S+ )?-[jg] (RETURN|NOTRACK-TH-)/.test(l));
  assert.equal(dispatch, [
    '-A NOTRACK-OUTPUT -o eth0 -g NOTRACK-TH-eth0',
    '-A NOTRACK-OUTPUT -o eth1 -j RETURN',
    '-A NOTRACK-OUTPUT -g NOTRACK-TH-*',
  ]);
  // With no egress rule of the family anywhere there is nothing to dispatch.
  d.egress.interfaces = [{ iface: 'eth1', policies: [] }];
  assert.not.ok(renderRuleset(d, 4).raw.includes('-o eth1'));
});

test.run();

// The canonical rule form: a rule as notrack renders it and as iptables-save prints it back compare equal.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { sameRule, tokenizeRule, ruleText } from '../../src/dataplane/iptables/index.js';

// Pairs observed on iptables 1.8.9 (nf_tables): what was loaded, what iptables-save printed.
const SAME: [string, string][] = [
  ['-p tcp --dport 5432 -s 10.0.0.1 -j DROP', '-s 10.0.0.1/32 -p tcp -m tcp --dport 5432 -j DROP'],
  [
    '-p tcp -o o1 -i i1 -d 1.2.3.4 ! -s 5.6.7.8 -j RETURN',
    '! -s 5.6.7.8/32 -d 1.2.3.4/32 -i i1 -o o1 -p tcp -j RETURN',
  ],
  ['-p 6 ! -d 10.1.0.0/16 -j RETURN', '! -d 10.1.0.0/16 -p tcp -j RETURN'],
  ['-p UDPLITE -j RETURN', '-p udplite -j RETURN'],
  ['-p 47 -j RETURN', '-p gre -j RETURN'],
  ['-p tcp ! --dport 1000:2000 ! --sport 1 -j RETURN', '-p tcp -m tcp ! --sport 1 ! --dport 1000:2000 -j RETURN'],
  ['-p sctp --dport 5 -j RETURN', '-p sctp -m sctp --dport 5 -j RETURN'],
  ['-p icmp --icmp-type 8/0 -j RETURN', '-p icmp -m icmp --icmp-type 8/0 -j RETURN'],
  ['-p icmpv6 --icmpv6-type 128/0 -j RETURN', '-p ipv6-icmp -m icmp6 --icmpv6-type 128/0 -j RETURN'],
  ['-s 10.0.0.5/8 -j RETURN', '-s 10.0.0.0/8 -j RETURN'],
  [
    '-s ::ffff:1.2.3.4 -d 2001:DB8:0:0:1:0:0:1/128 -j RETURN',
    '-s ::ffff:1.2.3.4/128 -d 2001:db8::1:0:0:1/128 -j RETURN',
  ],
  ['-m mark --mark 0x40000000/0xffffffff -j ACCEPT', '-m mark --mark 0x40000000 -j ACCEPT'],
  ['-j MARK --set-xmark 0x40000000', '-j MARK --set-xmark 0x40000000/0xffffffff'],
  ['-m limit --limit 5/s -j RETURN', '-m limit --limit 5/sec -j RETURN'],
  ['-m limit --limit 100/minute --limit-burst 5 -j RETURN', '-m limit --limit 100/min -j RETURN'],
  [
    '-p udp -m comment --comment x -m multiport --dports 53,54:60 -j DROP',
    '-p udp -m comment --comment "x" -m multiport --dports 53,54:60 -j DROP',
  ],
  ['--protocol tcp --destination 10.0.0.0/8 --jump DROP', '-d 10.0.0.0/8 -p tcp -j DROP'],
];

test('rules iptables stores identically compare equal', () => {
  for (const [loaded, printed] of SAME)
    assert.ok(sameRule(tokenizeRule(loaded), tokenizeRule(printed)), `${loaded}  vs  ${printed}`);
});

const DIFFERENT: [string, string][] = [
  ['-p tcp --dport 5432 -j DROP', '-p tcp -m tcp --dport 5433 -j DROP'],
  ['-s 10.0.0.0/8 -j DROP', '! -s 10.0.0.0/8 -j DROP'],
  ['-m set --match-set a src -j DROP', '-m set --match-set a dst -j DROP'],
  ['-j NOTRACK-ALLOW', '-g NOTRACK-ALLOW'],
  ['-m comment --comment a -m mark --mark 0x1 -j DROP', '-m mark --mark 0x1 -m comment --comment a -j DROP'],
];

test('rules that differ to the kernel do not compare equal', () => {
  for (const [a, b] of DIFFERENT) assert.not.ok(sameRule(tokenizeRule(a), tokenizeRule(b)), `${a}  vs  ${b}`);
});

test('rendered rule text quotes comments and values with spaces, and reads back to the same tokens', () => {
  const tokens = ['-m', 'comment', '--comment', 'notrack:db:0', '-j', 'LOG', '--log-prefix', 'a "b" '];
  const text = ruleText(tokens);
  assert.is(text, '-m comment --comment "notrack:db:0" -j LOG --log-prefix "a \\"b\\" "');
  assert.equal(tokenizeRule(text), tokens);
});

test.run();

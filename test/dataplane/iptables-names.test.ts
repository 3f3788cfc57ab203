// Chain, comment, log-prefix and ipset names: within the kernel's limits, deterministic, unique when shortened.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  interfaceChainName,
  policyChainName,
  policyRuleComment,
  parsePolicyRuleComment,
  logPrefix,
  MAX_CHAIN_NAME,
} from '../../src/dataplane/iptables/index.js';
import { ipsetName, tmpSetName, isTmpSetName, MAX_SET_NAME } from '../../src/dataplane/ipset/index.js';

test('short names are kept readable as they are', () => {
  assert.is(interfaceChainName('eth0'), 'NOTRACK-TH-eth0');
  assert.is(interfaceChainName('*'), 'NOTRACK-TH-*');
  assert.is(interfaceChainName('enp129s0f1.100'), 'NOTRACK-TH-enp129s0f1.100');
  assert.is(policyChainName('allow-dns'), 'NOTRACK-PO-allow-dns');
  assert.is(policyChainName('a'.repeat(17)), `NOTRACK-PO-${'a'.repeat(17)}`);
  assert.is(ipsetName('db-clients'), 'notrack-db-clients');
  assert.is(tmpSetName('notrack-db-clients'), 'notrack-db-clients-tmp');
});

test('long policy names are shortened to 28 characters, deterministically and without collisions', () => {
  const a = policyChainName('default.allow-egress-to-postgres-primary');
  const b = policyChainName('default.allow-egress-to-postgres-replica');
  assert.is(a.length, MAX_CHAIN_NAME);
  assert.is(b.length, MAX_CHAIN_NAME);
  assert.is.not(a, b);
  assert.is(a, policyChainName('default.allow-egress-to-postgres-primary'));
  assert.ok(a.startsWith('NOTRACK-PO-default'));
  assert.match(a, /_[0-9a-f]{8}$/);
  // A name that fits can never equal a shortened one: policy names cannot contain '_'.
  assert.is(policyChainName('a'.repeat(18)).length, MAX_CHAIN_NAME);
  assert.match(policyChainName('a'.repeat(18)), /_/);
});

test("set names fit ipset's 31 characters, and so do their temporary names", () => {
  const long = ipsetName('global-network-set-of-every-customer-subnet');
  assert.is(long.length, MAX_SET_NAME);
  assert.ok(long.startsWith('notrack-'));
  assert.is.not(long, ipsetName('global-network-set-of-every-customer-subnet-v6'));
  const tmp = tmpSetName(long);
  assert.ok(tmp.length <= MAX_SET_NAME);
  assert.ok(isTmpSetName(tmp));
  assert.is.not(tmp, tmpSetName(ipsetName('global-network-set-of-every-customer-subnet-v6')));
  assert.not.ok(isTmpSetName(long));
});

test('rule comments name the policy and the rule index, and parse back', () => {
  assert.is(policyRuleComment('db-egress', 3), 'notrack:db-egress:3');
  assert.equal(parsePolicyRuleComment('notrack:db-egress:3'), { policy: 'db-egress', index: 3 });
  assert.equal(parsePolicyRuleComment('notrack:default.x:0'), { policy: 'default.x', index: 0 });
  assert.is(parsePolicyRuleComment('notrack:clear-marks'), undefined);
  assert.is(parsePolicyRuleComment('cali:abc:1'), undefined);
  const long = policyRuleComment('p'.repeat(300), 12);
  assert.ok(long.length <= 255);
  assert.is(parsePolicyRuleComment(long)?.index, 12);
});

test("log prefixes fit the kernel's 29 characters and end with a space", () => {
  assert.is(logPrefix('db', 1), 'notrack:db:1 ');
  const long = logPrefix('default.log-everything-leaving-the-host', 41);
  assert.ok(long.length <= 29);
  assert.ok(long.endsWith(':41 '));
});

test.run();

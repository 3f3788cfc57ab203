// The confirmation flags of apply and agent: the 30 s default, --no-confirm, --allow-disruption, and bad values.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { UsageError } from '../../src/errors.js';
import { confirmSettings } from '../../src/cli/confirm-options.js';

test('confirmation is on by default with a 30 s deadline; --no-confirm turns it off', () => {
  assert.equal(confirmSettings({}), { confirmTimeoutMs: 30_000 });
  assert.equal(confirmSettings({ 'confirm-timeout': '1m30s' }), { confirmTimeoutMs: 90_000 });
  assert.equal(confirmSettings({ 'no-confirm': true }), {});
  assert.equal(confirmSettings({ 'allow-disruption': true }), { confirmTimeoutMs: 30_000, allowDisruption: true });
});

test('bad values are usage errors naming the flag', () => {
  for (const [values, message] of [
    [{ 'confirm-timeout': '30' }, /--confirm-timeout takes a duration/],
    [{ 'confirm-timeout': '0' }, /--confirm-timeout must be longer than 0 \(--no-confirm/],
    [{ 'confirm-timeout': '5s', 'no-confirm': true }, /contradict/],
  ] as const)
    assert.throws(
      () => confirmSettings(values),
      (e: Error) => e instanceof UsageError && message.test(e.message),
    );
});

test.run();

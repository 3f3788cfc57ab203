// The agent's settings from the command line: schedules, durations, the listen address, retries, and the checks
// every settings object passes.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { UsageError } from '../../src/errors.js';
import { SOURCE_OPTIONS, parseCommandArgs } from '../../src/cli/args.js';
import { AGENT_ARGS, AGENT_HELP, agentHelp, agentOptionsFromArgs } from '../../src/cli/agent-flags.js';
import { DEFAULT_AGENT_OPTIONS, checkAgentOptions } from '../../src/agent/options.js';
import { parseSchedule } from '../../src/agent/schedule.js';
import { parseDuration } from '../../src/agent/duration.js';
import { parseListen } from '../../src/agent/listen.js';
import { retryDelay } from '../../src/agent/backoff.js';

function usageError(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.instance(e, UsageError);
    return (e as Error).message;
  }
  throw new Error('expected a UsageError');
}

test('intervals become cron schedules that keep a steady pace', () => {
  assert.is(parseSchedule('1s', 'schedule').expression, '* * * * * *');
  assert.is(parseSchedule('30s', 'schedule').expression, '*/30 * * * * *');
  assert.is(parseSchedule('1m', 'schedule').expression, '0 * * * * *');
  assert.is(parseSchedule('60s', 'schedule').expression, '0 * * * * *');
  assert.is(parseSchedule('5m', 'schedule').expression, '0 */5 * * * *');
  assert.is(parseSchedule('2h', 'schedule').expression, '0 0 */2 * * *');
  assert.is(parseSchedule('24h', 'schedule').expression, '0 0 0 * * *');
  assert.is(parseSchedule('5m', 'schedule').text, 'every 5m');
  assert.is(parseSchedule('5m', 'schedule').periodMs, 300_000);
});

test('an interval that cannot run evenly is refused with the ones that can', () => {
  for (const bad of ['7m', '90s', '45s', '5h', '1500ms']) {
    const msg = usageError(() => parseSchedule(bad, 'schedule'));
    assert.match(msg, `--schedule ${bad}: an interval must divide a minute, an hour or a day evenly`);
    assert.match(msg, '10s 12s 15s 20s 30s, 1m');
  }
});

test('cron expressions pass through; a bad one is refused naming the flag and the field', () => {
  assert.equal(parseSchedule('*/2 * * * *', 'schedule'), {
    expression: '*/2 * * * *',
    periodMs: null,
    text: 'cron */2 * * * *',
  });
  assert.match(
    usageError(() => parseSchedule('*/1 * * *', 'schedule')),
    /--schedule must be a cron expression .*expected 5 or 6 fields but got 4/,
  );
  assert.match(
    usageError(() => parseSchedule('61 * * * *', 'drift-schedule')),
    /--drift-schedule .*61 is a invalid expression for minute/,
  );
});

test('durations need a unit; parts add up', () => {
  assert.is(parseDuration('1m30s', 'jitter'), 90_000);
  assert.is(parseDuration('250ms', 'jitter'), 250);
  assert.is(parseDuration('1.5s', 'jitter'), 1500);
  assert.is(parseDuration('0', 'jitter'), 0);
  assert.match(
    usageError(() => parseDuration('30', 'jitter')),
    '--jitter takes a duration such as 500ms, 30s, 5m, 1h or 1m30s, not "30"',
  );
  assert.match(
    usageError(() => parseDuration('5 minutes', 'retry-max')),
    '--retry-max takes a duration',
  );
});

test('the agent flags combine with the source flags in one parse, and absent flags keep the defaults', () => {
  const { values } = parseCommandArgs(
    [
      '--repo',
      'https://git.example/policy.git',
      '--schedule',
      '30s',
      '--drift-schedule',
      '0 */10 * * * *',
      '--drift-mode',
      'warn',
      '--jitter',
      '2s',
      '--retry-initial',
      '5s',
      '--retry-max',
      '1m',
      '--retry-factor',
      '3',
      '--no-run-on-start',
      '--log-format',
      'text',
      '--shutdown-timeout',
      '45s',
    ],
    { ...SOURCE_OPTIONS, ...AGENT_ARGS },
  );
  const o = agentOptionsFromArgs(values);
  assert.is(o.schedule, '30s');
  assert.is(o.driftSchedule, '0 */10 * * * *');
  assert.is(o.driftMode, 'warn');
  assert.is(o.jitterMs, 2000);
  assert.equal(o.retry, { initialMs: 5000, maxMs: 60_000, factor: 3, jitter: DEFAULT_AGENT_OPTIONS.retry.jitter });
  assert.is(o.runOnStart, false);
  assert.is(o.logFormat, 'text');
  assert.is(o.shutdownTimeoutMs, 45_000);
  assert.is(o.listen, '127.0.0.1:9808');

  const defaults = agentOptionsFromArgs({});
  assert.equal(defaults, DEFAULT_AGENT_OPTIONS);
  assert.is(defaults.schedule, '*/1 * * * *');
  assert.is(defaults.driftSchedule, '*/5 * * * *');
  assert.is(defaults.runOnStart, true);
});

test('bad flag values name the flag and what it takes', () => {
  assert.match(
    usageError(() => agentOptionsFromArgs({ 'drift-mode': 'fix' })),
    '--drift-mode must be one of enforce, warn, not "fix"',
  );
  assert.match(
    usageError(() => agentOptionsFromArgs({ 'retry-factor': '0.5' })),
    '--retry-factor takes a number of at least 1',
  );
  assert.match(
    usageError(() => agentOptionsFromArgs({ 'retry-initial': '2m', 'retry-max': '1m' })),
    '--retry-max 1m is shorter than --retry-initial 2m',
  );
  assert.match(
    usageError(() => agentOptionsFromArgs({ schedule: '10s', jitter: '10s' })),
    '--jitter 10s is not shorter than --schedule every 10s',
  );
  assert.match(
    usageError(() => agentOptionsFromArgs({ 'log-level': 'loud' })),
    '--log-level must be one of debug, info, warn, error',
  );
});

test('metrics listen on loopback only, unless --listen-public says otherwise', () => {
  assert.equal(parseListen('127.0.0.1:9808', { allowPublic: false }), { host: '127.0.0.1', port: 9808 });
  assert.equal(parseListen('[::1]:9808', { allowPublic: false }), { host: '::1', port: 9808 });
  assert.equal(parseListen('localhost:0', { allowPublic: false }), { host: 'localhost', port: 0 });
  assert.is(parseListen('off', { allowPublic: false }), null);
  for (const pub of ['0.0.0.0:9808', ':9808', '10.1.2.3:9808', '[::]:9808', 'node1.example:9808']) {
    assert.match(
      usageError(() => parseListen(pub, { allowPublic: false })),
      /reachable from other machines.*--listen-public/,
    );
  }
  assert.equal(parseListen(':9808', { allowPublic: true }), { host: '::', port: 9808 });
  assert.match(
    usageError(() => parseListen('9808', { allowPublic: false })),
    '--listen takes HOST:PORT',
  );
  assert.match(
    usageError(() => parseListen('127.0.0.1:70000', { allowPublic: false })),
    'port 70000 is out of range',
  );
  assert.match(
    usageError(() => agentOptionsFromArgs({ listen: '0.0.0.0:9808' })),
    '--listen-public',
  );
  assert.is(agentOptionsFromArgs({ listen: '0.0.0.0:9808', 'listen-public': true }).listen, '0.0.0.0:9808');
  assert.not.throws(() => checkAgentOptions({ ...DEFAULT_AGENT_OPTIONS, listen: null }));
});

test('retry delays grow by the factor up to the cap, and jitter only shortens them', () => {
  const policy = { initialMs: 1000, maxMs: 10_000, factor: 2, jitter: 0.2 };
  assert.equal(
    [1, 2, 3, 4, 5, 6].map((n) => retryDelay(policy, n, () => 0)),
    [1000, 2000, 4000, 8000, 10_000, 10_000],
  );
  const jittered = [1, 2, 3, 4, 5].map((n) => retryDelay(policy, n, () => 0.999));
  assert.equal(jittered, [800, 1600, 3201, 6402, 8002]);
  for (let i = 1; i < jittered.length; i++)
    assert.ok(jittered[i]! > jittered[i - 1]!, `retry ${i + 1} waits longer than retry ${i}`);
});

test('the help text covers every flag the parser takes', () => {
  for (const flag of Object.keys(AGENT_ARGS)) assert.match(AGENT_HELP, `--${flag} `);
  const help = agentHelp('  --repo URL|PATH     policy repository');
  assert.match(help, 'Usage: notrack agent');
  assert.match(help, '--repo URL|PATH');
  assert.match(help, 'SIGHUP reconciles now');
});

test.run();

// The flags of commit confirmation and the session check, shared by `notrack apply` and `notrack agent`.
import { formatDuration, parseDuration } from '../agent/duration.js';
import { UsageError } from '../errors.js';
import type { OptionSpec } from './args.js';

/** 30 s: a Git server over https answers a ref listing in well under a second, and a TCP connect through a working
 *  path in milliseconds; 30 s rides out a slow server, a route that converges after the switch and a loaded host,
 *  while a host cut off by the commit is back on its previous policy within half a minute. */
export const DEFAULT_CONFIRM_TIMEOUT_MS = 30_000;

export const CONFIRM_OPTIONS = {
  'confirm-timeout': { type: 'string' },
  'no-confirm': { type: 'boolean' },
  'allow-disruption': { type: 'boolean' },
} as const satisfies OptionSpec;

export const CONFIRM_HELP = `  --confirm-timeout DURATION  after a switch to a new commit, how long the probes (the Git remote, NotrackConfiguration
                      probes) that passed before it have to pass again before the host is rolled back (default ${formatDuration(DEFAULT_CONFIRM_TIMEOUT_MS)})
  --no-confirm        switch without probing and never roll back
  --allow-disruption  apply a commit that would cut established TCP sessions on non-failsafe ports (refused by default)`;

export function confirmSettings(values: {
  'confirm-timeout'?: string | undefined;
  'no-confirm'?: boolean | undefined;
  'allow-disruption'?: boolean | undefined;
}): { confirmTimeoutMs?: number; allowDisruption?: boolean } {
  if (values['no-confirm'] && values['confirm-timeout'] !== undefined)
    throw new UsageError('--no-confirm and --confirm-timeout contradict each other: give one');
  const timeout =
    values['confirm-timeout'] !== undefined
      ? parseDuration(values['confirm-timeout'], 'confirm-timeout')
      : DEFAULT_CONFIRM_TIMEOUT_MS;
  if (timeout <= 0)
    throw new UsageError('--confirm-timeout must be longer than 0 (--no-confirm switches confirmation off)');
  return {
    ...(values['no-confirm'] ? {} : { confirmTimeoutMs: timeout }),
    ...(values['allow-disruption'] ? { allowDisruption: true } : {}),
  };
}

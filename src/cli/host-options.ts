// Options of the commands that act on this host's dataplane: which host, where its pins and its record live.
import { hostname } from 'node:os';
import type { OptionSpec } from './args.js';

export const HOST_OPTIONS = {
  host: { type: 'string' },
  bpffs: { type: 'string' },
  'state-dir': { type: 'string' },
} as const satisfies OptionSpec;

const DEFAULT_BPFFS = '/sys/fs/bpf/notrack';
const DEFAULT_STATE_DIR = '/var/lib/notrack';

const HOST_LINE = `  --host NAME         the host name HostEndpoints use as spec.node (default: this machine's, ${hostname()})`;
const PLACE_LINES = `  --bpffs DIR         notrack's folder on a bpffs mount for pins (default: ${DEFAULT_BPFFS})
  --state-dir DIR     where the record of what was applied lives (default: ${DEFAULT_STATE_DIR})`;

export const HOST_HELP = `${HOST_LINE}\n${PLACE_LINES}`;

/** For commands that only read what was applied here (status): the host comes from the record. */
export const PLACE_OPTIONS = {
  bpffs: HOST_OPTIONS.bpffs,
  'state-dir': HOST_OPTIONS['state-dir'],
} as const satisfies OptionSpec;
export const PLACE_HELP = PLACE_LINES;

interface HostSettings {
  host: string;
  bpffs: string;
  stateDir: string;
}

export function hostSettings(values: {
  host?: string | undefined;
  bpffs?: string | undefined;
  'state-dir'?: string | undefined;
}): HostSettings {
  return {
    host: values.host ?? hostname(),
    bpffs: values.bpffs ?? DEFAULT_BPFFS,
    stateDir: values['state-dir'] ?? DEFAULT_STATE_DIR,
  };
}

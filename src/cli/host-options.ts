// Options of the commands that act on this host's dataplane: which host, where its pins and its record live.
import { hostname } from 'node:os';
import type { OptionSpec } from './args.js';

export const HOST_OPTIONS = {
  host: { type: 'string' },
  bpffs: { type: 'string' },
  'state-dir': { type: 'string' },
} as const satisfies OptionSpec;

export const DEFAULT_BPFFS = '/sys/fs/bpf/notrack';
export const DEFAULT_STATE_DIR = '/var/lib/notrack';

export const HOST_HELP = `  --host NAME         the host name HostEndpoints use as spec.node (default: this machine's, ${hostname()})
  --bpffs DIR         notrack's folder on a bpffs mount for pins (default: ${DEFAULT_BPFFS})
  --state-dir DIR     where the record of what was applied lives (default: ${DEFAULT_STATE_DIR})`;

export interface HostSettings { host: string; bpffs: string; stateDir: string }

export function hostSettings(values: { host?: string | undefined; bpffs?: string | undefined; 'state-dir'?: string | undefined }): HostSettings {
  return {
    host: values.host ?? hostname(),
    bpffs: values.bpffs ?? DEFAULT_BPFFS,
    stateDir: values['state-dir'] ?? DEFAULT_STATE_DIR,
  };
}

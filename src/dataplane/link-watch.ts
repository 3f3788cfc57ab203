// Watches this namespace's links through rtnetlink (`ip -o monitor link`): an interface that appears, is re-created
// or changes state is reported at once, so notrack can attach to it without waiting for a schedule.
import { watchProgram, type WatchedProgram } from './command-runner.js';

/** What one rtnetlink link message says: which interface, and whether it was deleted. */
export interface LinkEvent {
  ifname: string;
  ifindex: number;
  deleted: boolean;
}

/**
 * Parses one line of `ip -o monitor link`: `5: eth0@if4: <BROADCAST,...> ...` or `Deleted 5: eth0@if4: ...`.
 * Null for lines that name no link.
 */
export function parseLinkLine(line: string): LinkEvent | null {
  const m = /^(Deleted\s+)?(?:\[LINK\]\s*)?(\d+):\s+([^:@\s]+)(?:@[^:\s]*)?:/.exec(line.trim());
  if (!m) return null;
  return { deleted: m[1] !== undefined, ifindex: Number(m[2]), ifname: m[3]! };
}

interface LinkWatchOptions {
  onEvent: (e: LinkEvent) => void;
  /** The monitor ended by itself (ip missing, killed): `why` says what it printed. */
  onFailure: (why: string) => void;
}

/** Starts the watch; stop() ends it. */
export function watchLinks(opts: LinkWatchOptions): WatchedProgram {
  return watchProgram(
    ['ip', '-o', 'monitor', 'link'],
    (line) => {
      const e = parseLinkLine(line);
      if (e) opts.onEvent(e);
    },
    (status, stderr) => opts.onFailure(`ip monitor link ended (status ${status}): ${stderr.trim() || 'no output'}`),
  );
}

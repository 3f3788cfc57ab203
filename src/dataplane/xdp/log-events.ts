// Reads the Log rules' events from the nt_log ring of each interface's running generation and names their rules.
import type { InterfaceState, RuleRef } from '../../compile/desired-state.js';
import type { RuleAction } from '../../model/resources.js';
import { isBpfError, RingBuffer, openPinnedMap } from '../../libbpf/index.js';
import { decodeLogEvent, type LogEvent } from '../../abi/notrack.js';
import { XdpDataplaneError } from './errors.js';
import { observeInterface } from './observe.js';
import { InterfacePins } from './pin-paths.js';

/** A rule of the applied policy, as a counter index of an interface names it. */
export interface NamedRule extends RuleRef {
  /** The rule's action; null when the index is not one of the interface's counters (a stale generation). */
  action: RuleAction | null;
  /** The counter index the event carried. */
  counter: number;
}

export interface NamedLogEvent {
  ifname: string;
  generation: number;
  /** Wall-clock time of the event (the kernel stamps CLOCK_MONOTONIC; converted with the offset at open). */
  time: Date;
  event: LogEvent;
  /** The Log rule that asked for the event. */
  rule: NamedRule;
  /** The rule that decided the packet, or null when none did (the interface's default applied). */
  decidedBy: NamedRule | null;
}

type LogEventHandler = (event: NamedLogEvent) => void;

interface OpenLogEventsOptions {
  /** notrack's folder on bpffs. */
  pinDir: string;
  /** The interfaces to read, with the applied state they run (for naming rules). */
  interfaces: ReadonlyMap<string, InterfaceState>;
}

/** An interface that could not be read, and why (e.g. nothing attached). */
interface SkippedInterface {
  ifname: string;
  reason: string;
}

/** The rule behind counter `index` of `iface`, with its action from the ingress entries that count into it. */
function nameRule(iface: InterfaceState, index: number): NamedRule {
  const ref = iface.counters[index];
  if (!ref) return { policy: '?', direction: 'ingress', index, action: null, counter: index };
  const entry = [...iface.ingress.v4, ...iface.ingress.v6].find((e) => e.counter === index);
  return { ...ref, action: entry?.action ?? null, counter: index };
}

/** Nanoseconds to add to a CLOCK_MONOTONIC stamp for wall-clock time (Node's hrtime is CLOCK_MONOTONIC). */
function monotonicToWallNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();
}

/**
 * Consumers of the `nt_log` ring of every given interface's active generation (in the calling thread's network
 * namespace). Events reach the handler from `drain()` and `poll()`, oldest first per interface. Close it.
 */
export class LogEventReader {
  readonly reading: { ifname: string; generation: number }[] = [];
  readonly skipped: SkippedInterface[] = [];
  private readonly rings: RingBuffer[] = [];

  private constructor() {}

  static open(opts: OpenLogEventsOptions, handler: LogEventHandler): LogEventReader {
    const reader = new LogEventReader();
    const offset = monotonicToWallNs();
    try {
      for (const [ifname, iface] of opts.interfaces) {
        const generation = observeInterface({ ifname, pinDir: opts.pinDir }).activeGeneration;
        if (generation === null) {
          reader.skipped.push({ ifname, reason: `notrack's XDP program is not attached to ${ifname}` });
          continue;
        }
        const path = new InterfacePins(opts.pinDir, ifname).map(generation, 'log');
        let map;
        try {
          map = openPinnedMap(path);
        } catch (e) {
          if (isBpfError(e, 'bpf-not-found')) {
            throw new XdpDataplaneError(
              'xdp-generation-missing',
              `generation ${generation} of ${ifname} has no log ring at ${path}`,
              { ifname, cause: e },
            );
          }
          throw e;
        }
        try {
          reader.rings.push(
            RingBuffer.open(map, (record) => {
              const event = decodeLogEvent(record);
              handler({
                ifname,
                generation,
                event,
                time: new Date(Number((event.tsNs + offset) / 1_000_000n)),
                rule: nameRule(iface, event.ruleId),
                decidedBy: event.decidedBy === null ? null : nameRule(iface, event.decidedBy),
              });
            }),
          );
        } finally {
          map.fd.close();
        }
        reader.reading.push({ ifname, generation });
      }
    } catch (e) {
      reader.close();
      throw e;
    }
    return reader;
  }

  /** Hands over every event already in the rings without waiting; returns how many. */
  drain(): number {
    return this.rings.reduce((n, r) => n + r.consume(), 0);
  }

  /** Waits up to `timeoutMs` for events when there is one ring (without waiting when there are several). */
  poll(timeoutMs: number): number {
    if (this.rings.length === 1) return this.rings[0]!.poll(timeoutMs);
    return this.drain();
  }

  /** Whether `poll` waits (one ring) or returns at once (several: the caller should wait between polls). */
  get pollWaits(): boolean {
    return this.rings.length === 1;
  }

  close(): void {
    for (const r of this.rings) r.close();
    this.rings.length = 0;
  }
}

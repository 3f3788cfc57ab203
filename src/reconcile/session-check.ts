// Which live TCP sessions a new policy would cut: each established session's packets, both ways, through the
// reference evaluator under the new state and the one that runs now. Only a session the new state denies and the
// current one does not counts (a session already cut is not this commit's doing); failsafe ports pass in both.
import type { DesiredState, PacketDescription, RuleRef } from '../compile/desired-state.js';
import { evaluatePacket } from '../compile/evaluate.js';
import { NotrackError } from '../errors.js';
import type { TcpSession } from '../dataplane/tcp-sessions.js';

/** A session the new state would cut, with the direction and the rule that would drop it. */
export interface CutSession {
  session: TcpSession;
  direction: 'ingress' | 'egress';
  rule: RuleRef | null;
}

/** How many cut sessions a message names before it only counts the rest. */
const LISTED = 5;

function denied(state: DesiredState | null, iface: string, p: PacketDescription, dir: 'ingress' | 'egress') {
  if (!state) return null;
  const v = evaluatePacket(state, iface, p, dir);
  return v.outcome === 'deny' ? v : null;
}

/**
 * The sessions `next` would cut that `current` (null: nothing of notrack's runs) lets through. `current` may be given
 * as a function: it is then called once, only when `next` denies a session's packet (the applied state of a 1M-prefix
 * host takes ~0.4 s to read, and most applies see no session the new state denies).
 */
export function sessionsCut(
  current: DesiredState | null | (() => DesiredState | null),
  next: DesiredState,
  sessions: TcpSession[],
): CutSession[] {
  let now: DesiredState | null | undefined = typeof current === 'function' ? undefined : current;
  const running = (): DesiredState | null =>
    now === undefined ? (now = (current as () => DesiredState | null)()) : now;
  const cut: CutSession[] = [];
  for (const s of sessions) {
    if (s.iface === null) continue;
    const inbound: PacketDescription = {
      family: s.family,
      protocol: 6,
      src: s.peer,
      dst: s.local,
      sport: s.peerPort,
      dport: s.localPort,
      // The host opened it: the peer's packets are replies (what an outbound failsafe passes).
      reply: !s.inbound,
    };
    const outbound: PacketDescription = {
      family: s.family,
      protocol: 6,
      src: s.local,
      dst: s.peer,
      sport: s.localPort,
      dport: s.peerPort,
    };
    for (const [direction, p] of [
      ['ingress', inbound],
      ['egress', outbound],
    ] as const) {
      const v = denied(next, s.iface, p, direction);
      if (v && !denied(running(), s.iface, p, direction)) {
        cut.push({ session: s, direction, rule: v.rule });
        break;
      }
    }
  }
  return cut;
}

function sessionText(c: CutSession): string {
  const s = c.session;
  const at = (a: string, port: number) => (s.family === 6 ? `[${a}]:${port}` : `${a}:${port}`);
  const [from, to] = s.inbound
    ? [at(s.peer, s.peerPort), at(s.local, s.localPort)]
    : [at(s.local, s.localPort), at(s.peer, s.peerPort)];
  const rule = c.rule ? `${c.rule.policy} ${c.rule.direction} rule ${c.rule.index}` : 'a rule';
  return `${from} -> ${to} on ${s.iface} (${c.direction === 'ingress' ? 'inbound' : 'outbound'} packets denied by ${rule})`;
}

/** The commit would cut live sessions on non-failsafe ports: names a few, counts all. */
export class SessionDisruptionError extends NotrackError {
  constructor(
    readonly cut: CutSession[],
    commit: string,
  ) {
    const shown = cut.slice(0, LISTED).map(sessionText).join('; ');
    const more = cut.length > LISTED ? `; and ${cut.length - LISTED} more` : '';
    super(
      'sessions-would-be-cut',
      `${commit} would cut ${cut.length} established TCP session${cut.length === 1 ? '' : 's'} on non-failsafe ports: ` +
        `${shown}${more}; refused, the host keeps what it runs (--allow-disruption applies it)`,
    );
  }
}

// Which packets change fate between two DesiredStates of a host: per interface, direction and family, the regions
// whose outcome or deciding rule (or failsafe) differs, merged into few boxes. Exact; no sampling.
import { createHash } from 'node:crypto';
import type { IpFamily } from '../net/cidr.js';
import type { DesiredState } from '../compile/desired-state.js';
import { egressView } from '../compile/egress-entries.js';
import { interfaceState } from '../compile/evaluate.js';
import type { Direction } from '../model/resources.js';
import { decisionList, type AddressFocus, type Decider } from './decisions.js';
import { diffPartition, type WalkStats } from './partition.js';
import { mergeBoxes } from './regions.js';
import { setDelta } from './set-delta.js';
import { domains, F, type Box } from './space.js';

/** Packets of one interface, direction and family that the two revisions decide differently, alike among them. */
export interface TrafficChange {
  interface: string;
  direction: Direction;
  family: IpFamily;
  before: Decider;
  after: Decider;
  /** Disjoint boxes; together the region. */
  boxes: Box[];
}

const DIRECTIONS: readonly Direction[] = ['ingress', 'egress'];
const FAMILIES: readonly IpFamily[] = [4, 6];

/**
 * A digest of everything that decides packets of one interface, direction and family of a state: equal digests
 * decide every packet alike, so hosts and interfaces that share them share one diff.
 */
function sourceKey(state: DesiredState | null, iface: string, direction: Direction, family: IpFamily): string {
  if (!state) return 'none';
  const h = createHash('sha256');
  if (direction === 'ingress') {
    const ifc = interfaceState(state, iface);
    if (!ifc) return 'none';
    h.update(JSON.stringify([family, ifc.ingress[family === 4 ? 'v4' : 'v6'], ifc.counters, state.failsafes]));
  } else {
    const v = egressView(state, iface, family);
    if (!v.active) return 'none';
    h.update(JSON.stringify([family, v.chain === null, v.entries, v.counters, state.failsafes]));
  }
  // Set ids are digests of their content.
  return h.digest('base64');
}

/** The diff engine's memory: results by the digests of both sides, shared by every host of a plan. */
export class TrafficDiffer {
  private readonly results = new Map<string, { before: Decider; after: Decider; boxes: Box[] }[]>();

  /** `focus: false` compares the whole space even when only set contents changed (for tests and benchmarks). */
  constructor(private readonly options: { focus?: boolean } = {}) {}
  /** `focused`: diffs that only set contents changed, partitioned only where members changed. */
  readonly stats: WalkStats & { diffs: number; focused: number; reused: number; ms: number } = {
    nodes: 0,
    cells: 0,
    diffs: 0,
    focused: 0,
    reused: 0,
    ms: 0,
  };

  /** The traffic changes of one host between two revisions (null: the host does not exist in that revision). */
  host(base: DesiredState | null, head: DesiredState | null): TrafficChange[] {
    if (base && head && base.hash === head.hash) return [];
    const started = performance.now();
    const names = new Set<string>();
    for (const s of [base, head]) {
      for (const i of s?.interfaces ?? []) names.add(i.name);
      for (const i of s?.egress.interfaces ?? []) names.add(i.name);
    }
    const out: TrafficChange[] = [];
    for (const name of [...names].sort()) {
      for (const direction of DIRECTIONS) {
        for (const family of FAMILIES) {
          for (const r of this.regions(base, head, name, direction, family)) {
            out.push({ interface: name, direction, family, ...r });
          }
        }
      }
    }
    this.stats.ms += performance.now() - started;
    return out;
  }

  private regions(
    base: DesiredState | null,
    head: DesiredState | null,
    iface: string,
    direction: Direction,
    family: IpFamily,
  ): { before: Decider; after: Decider; boxes: Box[] }[] {
    const kb = sourceKey(base, iface, direction, family);
    const kh = sourceKey(head, iface, direction, family);
    if (kb === kh) return [];
    const key = `${kb}\n${kh}`;
    const known = this.results.get(key);
    if (known) {
      this.stats.reused++;
      return known;
    }
    const byPair = new Map<string, { before: Decider; after: Decider; cells: Box[] }>();
    const changed = (box: Box, before: Decider, after: Decider): void => {
      const k = `${before.key}\n${after.key}`;
      const g = byPair.get(k);
      if (g) g.cells.push(box);
      else byPair.set(k, { before, after, cells: [box] });
    };
    const diff = (focus: AddressFocus, within?: Box[]): void => {
      const stats = diffPartition(
        decisionList(base, iface, direction, family, focus),
        decisionList(head, iface, direction, family, focus),
        changed,
        within,
      );
      this.stats.nodes += stats.nodes;
      this.stats.cells += stats.cells;
    };
    const delta = this.options.focus === false ? null : setDelta(base, head, iface, direction, family);
    if (delta) {
      // Only set contents changed: only packets with an address in the changed members can change (set-delta.ts).
      // Two disjoint parts: the source in them; else the destination in them.
      const any = domains(family).any;
      if (!delta.src.isEmpty) diff({ src: delta.src }, [any.map((s, f) => (f === F.src ? delta.src : s))]);
      if (!delta.dst.isEmpty) {
        const rest = domains(family).addresses.subtract(delta.src);
        diff({ dst: delta.dst }, [any.map((s, f) => (f === F.dst ? delta.dst : f === F.src ? rest : s))]);
      }
      this.stats.focused++;
    } else diff({});
    this.stats.diffs++;
    const result = [...byPair.values()].map((g) => ({ before: g.before, after: g.after, boxes: mergeBoxes(g.cells) }));
    this.results.set(key, result);
    return result;
  }
}

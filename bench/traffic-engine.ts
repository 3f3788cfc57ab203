// Benchmark: the packet-space engine's decision-diagram walk beside header-space box subtraction, in one run, on the
// same decision lists. Subtraction: each rule's region is its boxes minus every earlier rule's, the fallback's what is
// left; a diff is both partitions, then every pair of regions that decide differently, intersected. Lists:
// policies-example's edge (a 1,100-prefix deny list), a fleet host, and synthetic interfaces of 200 and 1,000
// overlapping rules, diffed against the same rules with the middle one moved to the front (an order change).
import { performance } from 'node:perf_hooks';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { loadResources } from '../src/model/load-resources.js';
import type { PolicyFile } from '../src/model/documents.js';
import { compileAll, compileHost } from '../src/compile/compile-host.js';
import { decisionList, type DecisionList } from '../src/traffic/decisions.js';
import { diffPartition, partition } from '../src/traffic/partition.js';
import { boxContains, FIELD_COUNT, intersectBoxes, universe, type Box } from '../src/traffic/space.js';
import { generateFleet } from './generate-repository.js';
import { mulberry32 } from '../test/support/seeded-random.js';

/** A − B as disjoint boxes: per field, the part of A outside B on that field (earlier fields inside B). */
function subtract(a: Box, b: Box): Box[] {
  if (!intersectBoxes(a, b)) return [a];
  if (boxContains(b, a)) return [];
  const out: Box[] = [];
  const rest = [...a];
  for (let f = 0; f < FIELD_COUNT; f++) {
    const outside = rest[f]!.subtract(b[f]!);
    if (!outside.isEmpty) {
      const piece = [...rest];
      piece[f] = outside;
      out.push(piece);
    }
    rest[f] = rest[f]!.intersect(b[f]!);
  }
  return out;
}

/** Header-space partition with deciders; null when it runs past the deadline. */
function subtractionPartition(list: DecisionList, deadline: number): { box: Box; decider: string }[] | null {
  const out: { box: Box; decider: string }[] = [];
  const earlier: Box[] = [];
  const regionOf = (start: Box[]): Box[] | null => {
    let region = start;
    for (const e of earlier) {
      region = region.flatMap((r) => subtract(r, e));
      if (performance.now() > deadline) return null;
    }
    return region;
  };
  for (const item of list.items) {
    const start = universe(list.family).flatMap((u) =>
      item.boxes.map((b) => intersectBoxes(u.box, b)).filter((b): b is Box => b !== null),
    );
    const region = regionOf(start);
    if (!region) return null;
    for (const box of region) out.push({ box, decider: item.decider.key });
    earlier.push(...item.boxes);
  }
  const rest = regionOf(universe(list.family).map((u) => u.box));
  if (!rest) return null;
  for (const box of rest) out.push({ box, decider: list.fallback.key });
  return out;
}

/** A header-space diff: both partitions, then every pair of regions that decide differently, intersected. */
function subtractionDiff(before: DecisionList, after: DecisionList, deadline: number): number | null {
  const b = subtractionPartition(before, deadline);
  const a = subtractionPartition(after, deadline);
  if (!b || !a) return null;
  let cells = 0;
  for (const x of b) {
    for (const y of a) if (x.decider !== y.decider && intersectBoxes(x.box, y.box)) cells++;
    if (performance.now() > deadline) return null;
  }
  return cells;
}

function exampleFiles(): PolicyFile[] {
  const root = path.resolve('policies-example');
  const out: PolicyFile[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const full = path.join(dir, name);
      if (statSync(full).isDirectory()) {
        if (name !== 'tests') walk(full);
      } else if (name.endsWith('.yaml')) {
        const content = new Uint8Array(readFileSync(full));
        out.push({ path: path.relative(root, full), content, size: content.length });
      }
    }
  };
  walk(root);
  return out;
}

const ms = (t: number) => Math.round(t * 10) / 10;
const LIMIT_MS = 20_000;

/** One list partitioned both ways; and, when `changed` is given, the diff of the two lists both ways. */
function compare(name: string, list: DecisionList, changed?: DecisionList): Record<string, number | string> {
  const t0 = performance.now();
  let cells = 0;
  partition(list, () => cells++);
  const t1 = performance.now();
  const hsa = subtractionPartition(list, performance.now() + LIMIT_MS);
  const t2 = performance.now();
  const out: Record<string, number | string> = {
    [`${name}_rules`]: list.items.length,
    [`${name}_partition_walk_ms`]: ms(t1 - t0),
    [`${name}_partition_walk_cells`]: cells,
    [`${name}_partition_subtraction_ms`]: hsa ? ms(t2 - t1) : `> ${LIMIT_MS} (stopped)`,
    [`${name}_partition_subtraction_boxes`]: hsa ? hsa.length : '-',
  };
  if (changed) {
    const t3 = performance.now();
    let diffCells = 0;
    diffPartition(list, changed, () => diffCells++);
    const t4 = performance.now();
    const hsaDiff = subtractionDiff(list, changed, performance.now() + LIMIT_MS);
    const t5 = performance.now();
    out[`${name}_diff_walk_ms`] = ms(t4 - t3);
    out[`${name}_diff_walk_cells`] = diffCells;
    out[`${name}_diff_subtraction_ms`] = hsaDiff === null ? `> ${LIMIT_MS} (stopped)` : ms(t5 - t4);
    out[`${name}_diff_subtraction_cells`] = hsaDiff ?? '-';
  }
  return out;
}

/**
 * `n` overlapping rules on one interface, each on three fields: protocol, a destination port range, a source prefix;
 * with `moved`, the same rules with the one in the middle moved to the front (an order change).
 */
function syntheticList(n: number, moved = false): DecisionList {
  const r = mulberry32(42);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const rules = Array.from({ length: n }, () => {
    const from = Math.floor(r() * 60000);
    return {
      action: pick(['Allow', 'Deny', 'Pass']),
      protocol: pick(['TCP', 'UDP']),
      destination: { ports: [`${from}:${from + Math.floor(r() * 3000)}`] },
      source: { nets: [`10.${Math.floor(r() * 4)}.${Math.floor(r() * 256)}.0/${pick([16, 20, 24])}`] },
    };
  });
  if (moved) rules.unshift(...rules.splice(Math.floor(n / 2), 1));
  const docs = [
    {
      apiVersion: 'projectcalico.org/v3',
      kind: 'HostEndpoint',
      metadata: { name: 'h-eth0' },
      spec: { node: 'h', interfaceName: 'eth0' },
    },
    {
      apiVersion: 'projectcalico.org/v3',
      kind: 'GlobalNetworkPolicy',
      metadata: { name: 'many' },
      spec: { selector: 'all()', doNotTrack: true, applyOnForward: true, types: ['Ingress'], ingress: rules },
    },
  ];
  const content = new TextEncoder().encode(docs.map((d) => JSON.stringify(d)).join('\n---\n'));
  const resources = loadResources([{ path: 'many.yaml', content, size: content.length }]).resources;
  return decisionList(compileHost(resources, 'h'), 'eth0', 'ingress', 4);
}

export async function benchTrafficEngine(): Promise<Record<string, number | string>> {
  const example = loadResources(exampleFiles()).resources;
  const edge = compileHost(example, 'edge-1');
  const fleet = loadResources(generateFleet({ hosts: 40, sets: 50, policies: 400, denyList: 1100 })).resources;
  const host = [...compileAll(fleet).values()].sort(
    (a, b) => b.interfaces[0]!.counters.length - a.interfaces[0]!.counters.length,
  )[0]!;
  return {
    ...compare('edge_v4', decisionList(edge, 'eth0', 'ingress', 4)),
    ...compare('edge_v6', decisionList(edge, 'eth0', 'ingress', 6)),
    ...compare('fleet_v4', decisionList(host, 'eth0', 'ingress', 4)),
    ...compare('rules200', syntheticList(200), syntheticList(200, true)),
    ...compare('rules1000', syntheticList(1000), syntheticList(1000, true)),
  };
}

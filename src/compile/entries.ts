// One policy rule lowered for the dataplane: its families, its pieces (named-ports.ts) and their address sets per family.
import type { IpFamily } from '../net/cidr.js';
import type { EntityMatch, PolicyRule } from '../model/resources.js';
import type { IngressEntry, RuleRef } from './desired-state.js';
import { ruleFamilies } from './families.js';
import { rulePieces, type NamedPorts, type RulePiece, type SidePorts } from './named-ports.js';
import { packCidrs } from './packed-prefixes.js';
import type { SelectorAddresses, SetTable } from './sets.js';

/** The sets one side's address must be in (every one) and must not be in (any one). */
export interface SideSets {
  inSets: string[];
  notInSets: string[];
}

/** A piece of a rule with the address sets of each side, per family it exists in. */
export interface LoweredPiece extends RulePiece {
  sets: Partial<Record<IpFamily, { source: SideSets; destination: SideSets }>>;
}

export interface LoweredRule {
  ref: RuleRef;
  rule: PolicyRule;
  families: IpFamily[];
  pieces: LoweredPiece[];
}

/** What lowering needs besides the rule: the host's set table and the resolvers shared by every host. */
interface LoweringContext {
  sets: SetTable;
  selectors: SelectorAddresses;
  namedPorts: NamedPorts;
}

function unique(ids: string[]): string[] {
  return [...new Set(ids)];
}

function sideSets(side: EntityMatch, family: IpFamily, where: string, ctx: LoweringContext): SideSets {
  const inSets: string[] = [];
  const notInSets: string[] = [];
  if (side.nets.length) inSets.push(ctx.sets.add(packCidrs(side.nets, family), `nets of ${where}`));
  if (side.selector) {
    inSets.push(ctx.sets.add(ctx.selectors.of(side.selector)[family], `selector ${side.selector.toString()}`));
  }
  if (side.notNets.length) notInSets.push(ctx.sets.add(packCidrs(side.notNets, family), `notNets of ${where}`));
  if (side.notSelector) {
    notInSets.push(
      ctx.sets.add(ctx.selectors.of(side.notSelector)[family], `notSelector ${side.notSelector.toString()}`),
    );
  }
  return { inSets: unique(inSets), notInSets: unique(notInSets) };
}

/**
 * A side's sets for one piece: the rule's own, plus the addresses of the named ports the piece stands for. Null when
 * a named port's endpoints have no address of the family: the piece matches nothing there.
 */
function pieceSide(rule: SideSets, piece: SidePorts, family: IpFamily, ctx: LoweringContext): SideSets | null {
  const inSets = [...rule.inSets];
  const notInSets = [...rule.notInSets];
  for (const [list, out] of [
    [piece.inAddresses, inSets],
    [piece.notInAddresses, notInSets],
  ] as const) {
    for (const a of list) {
      const prefixes = packCidrs(a.addresses, family);
      if (prefixes.count === 0 && out === inSets) return null;
      if (prefixes.count === 0) continue;
      out.push(ctx.sets.add(prefixes, `named port ${a.name}`));
    }
  }
  return { inSets: unique(inSets), notInSets: unique(notInSets) };
}

export function lowerRule(ref: RuleRef, rule: PolicyRule, ctx: LoweringContext): LoweredRule {
  const families = ruleFamilies(rule);
  const pieces: LoweredPiece[] = [];
  const split = families.length ? rulePieces(rule, ctx.namedPorts) : [];
  if (split.length) {
    const where = `${ref.policy} ${ref.direction}[${ref.index}]`;
    const ruleSets = new Map(
      families.map((f) => [
        f,
        {
          source: sideSets(rule.source, f, `${where} source`, ctx),
          destination: sideSets(rule.destination, f, `${where} destination`, ctx),
        },
      ]),
    );
    for (const piece of split) {
      const sets: LoweredPiece['sets'] = {};
      for (const f of families) {
        const r = ruleSets.get(f)!;
        const source = pieceSide(r.source, piece.source, f, ctx);
        const destination = pieceSide(r.destination, piece.destination, f, ctx);
        if (source && destination) sets[f] = { source, destination };
      }
      pieces.push({ ...piece, sets });
    }
  }
  return { ref, rule, families, pieces };
}

/**
 * The entries of a lowered rule for one family without their counter. The parts are frozen and shared by every host
 * that uses the rule (nothing changes an entry once built).
 */
export function ingressTemplates(lowered: LoweredRule, family: IpFamily): Omit<IngressEntry, 'counter'>[] {
  const { rule } = lowered;
  return lowered.pieces.flatMap((piece) => {
    const sets = piece.sets[family];
    if (!sets) return [];
    const side = (s: SideSets, p: SidePorts) =>
      Object.freeze({ inSets: s.inSets, notInSets: s.notInSets, ports: p.ports, notPorts: p.notPorts });
    return [
      {
        action: rule.action,
        protocol: piece.protocol,
        notProtocol: piece.notProtocol,
        icmp: rule.icmp ? Object.freeze({ ...rule.icmp }) : null,
        notICMP: rule.notICMP ? Object.freeze({ ...rule.notICMP }) : null,
        source: side(sets.source, piece.source),
        destination: side(sets.destination, piece.destination),
      },
    ];
  });
}

/** An entry of a template: its fields in the order every entry has (interface fingerprints stringify them). */
export function ingressEntry(counter: number, t: Omit<IngressEntry, 'counter'>): IngressEntry {
  return {
    counter,
    action: t.action,
    protocol: t.protocol,
    notProtocol: t.notProtocol,
    icmp: t.icmp,
    notICMP: t.notICMP,
    source: t.source,
    destination: t.destination,
  };
}

/** The classifier entries of a lowered rule for one family, all counting into `counter`. */
export function ingressEntries(lowered: LoweredRule, family: IpFamily, counter: number): IngressEntry[] {
  return ingressTemplates(lowered, family).map((t) => ingressEntry(counter, t));
}

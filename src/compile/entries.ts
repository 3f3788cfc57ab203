// One policy rule lowered for the dataplane: its families, its protocol pieces and its address sets per family.
import type { IpFamily } from '../net/cidr.js';
import type { EntityMatch, PolicyRule } from '../model/resources.js';
import type { IngressEntry, RuleRef } from './desired-state.js';
import { ruleFamilies } from './families.js';
import { rulePieces, type NamedPorts, type RulePiece } from './named-ports.js';
import { canonicalPrefixes } from './prefixes.js';
import type { SelectorAddresses, SetTable } from './sets.js';

/** The sets one side's address must be in (every one) and must not be in (any one). */
export interface SideSets {
  inSets: string[];
  notInSets: string[];
}

export interface LoweredRule {
  ref: RuleRef;
  rule: PolicyRule;
  families: IpFamily[];
  pieces: RulePiece[];
  sets: Partial<Record<IpFamily, { source: SideSets; destination: SideSets }>>;
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
  if (side.nets.length) inSets.push(ctx.sets.add(family, canonicalPrefixes(side.nets, family), `nets of ${where}`));
  if (side.selector) {
    inSets.push(ctx.sets.add(family, ctx.selectors.of(side.selector)[family], `selector ${side.selector.toString()}`));
  }
  if (side.notNets.length)
    notInSets.push(ctx.sets.add(family, canonicalPrefixes(side.notNets, family), `notNets of ${where}`));
  if (side.notSelector) {
    notInSets.push(
      ctx.sets.add(family, ctx.selectors.of(side.notSelector)[family], `notSelector ${side.notSelector.toString()}`),
    );
  }
  return { inSets: unique(inSets), notInSets: unique(notInSets) };
}

export function lowerRule(ref: RuleRef, rule: PolicyRule, ctx: LoweringContext): LoweredRule {
  const families = ruleFamilies(rule);
  const pieces = families.length ? rulePieces(rule, ctx.namedPorts) : [];
  const sets: LoweredRule['sets'] = {};
  if (pieces.length) {
    const where = `${ref.policy} ${ref.direction}[${ref.index}]`;
    for (const f of families) {
      sets[f] = {
        source: sideSets(rule.source, f, `${where} source`, ctx),
        destination: sideSets(rule.destination, f, `${where} destination`, ctx),
      };
    }
  }
  return { ref, rule, families, pieces, sets };
}

/** The classifier entries of a lowered rule for one family, all counting into `counter`. */
export function ingressEntries(lowered: LoweredRule, family: IpFamily, counter: number): IngressEntry[] {
  const sets = lowered.sets[family];
  if (!sets) return [];
  const { rule } = lowered;
  return lowered.pieces.map((piece) => ({
    counter,
    action: rule.action,
    protocol: piece.protocol,
    notProtocol: piece.notProtocol,
    icmp: rule.icmp ? { ...rule.icmp } : null,
    notICMP: rule.notICMP ? { ...rule.notICMP } : null,
    source: { ...sets.source, ports: piece.source.ports, notPorts: piece.source.notPorts },
    destination: { ...sets.destination, ports: piece.destination.ports, notPorts: piece.destination.notPorts },
  }));
}

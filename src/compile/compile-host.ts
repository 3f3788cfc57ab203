// The compile stage's entry: validated resources + a host name -> that host's DesiredState. Pure and deterministic.
//
// Interfaces: one InterfaceState per HostEndpoint of the host that names an interface, sorted by name. The name
// `*` is kept as written: the dataplane applies that state to every interface of the host that has no endpoint of
// its own. Endpoints with only expectedIPs get no interface; their addresses still feed rule selectors.
import type { IpFamily } from '../net/cidr.js';
import { resolveConfiguration } from '../model/configuration.js';
import { selectEndpoints } from '../model/lint.js';
import type { Direction, HostEndpoint, Policy, ResourceSet } from '../model/resources.js';
import { CompileError } from './compile-error.js';
import {
  DESIRED_STATE_VERSION,
  type DesiredState,
  type EgressRule,
  type EgressState,
  type IngressEntry,
  type InterfaceState,
  type IpsetState,
  type PrefixSet,
  type RuleRef,
} from './desired-state.js';
import { egressRules } from './egress.js';
import { ingressEntry, ingressTemplates, lowerRule, type LoweredRule } from './entries.js';
import { failsafesOf } from './failsafes.js';
import { desiredStateHash } from './hash.js';
import { checkInterfaceLimits } from './limits.js';
import { NamedPorts } from './named-ports.js';
import { orderPolicies } from './order.js';
import { SelectorAddresses, SetTable } from './sets.js';

const FAMILIES: readonly IpFamily[] = [4, 6];

/** A rule lowered once for the fleet, with the sets it made and its entries per family (made on first use). */
interface Lowering {
  lowered: LoweredRule;
  sets: PrefixSet[];
  templates: Record<IpFamily, Omit<IngressEntry, 'counter'>[]> | null;
}

/** What every host's compilation shares: the policies in order and the resolvers, cached across hosts. */
class FleetCompiler {
  private readonly policies: Policy[];
  private readonly selectors: SelectorAddresses;
  private readonly namedPorts: NamedPorts;

  constructor(private readonly resources: ResourceSet) {
    this.policies = orderPolicies(resources.policies);
    this.selectors = new SelectorAddresses(resources);
    this.namedPorts = new NamedPorts(resources.hostEndpoints);
  }

  hosts(): string[] {
    return [...new Set(this.resources.hostEndpoints.map((h) => h.node))].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  /**
   * A rule lowered once for the whole fleet, with the sets it made: lowering depends on the resources only (sets are
   * named by their content), never on the host.
   */
  private lowerings = new Map<Policy, Record<Direction, (Lowering | undefined)[]>>();

  private lowerOnce(policy: Policy, direction: Direction, index: number): Lowering {
    let byPolicy = this.lowerings.get(policy);
    if (!byPolicy) this.lowerings.set(policy, (byPolicy = { ingress: [], egress: [] }));
    let l = byPolicy[direction][index];
    if (!l) {
      const scratch = new SetTable();
      const ctx = { sets: scratch, selectors: this.selectors, namedPorts: this.namedPorts };
      const lowered = lowerRule({ policy: policy.name, direction, index }, policy[direction][index]!, ctx);
      l = { lowered, sets: scratch.inOrder(), templates: null };
      byPolicy[direction][index] = l;
    }
    return l;
  }

  host(host: string): DesiredState {
    const config = resolveConfiguration(this.resources, host);
    const endpoints = this.endpointsOf(host);
    const selection = selectEndpoints({ policies: this.policies, hostEndpoints: endpoints });
    const sets = new SetTable();
    // A rule lowers the same way on every interface of the host: its sets join the host's table in evaluation order
    // of first use, so each set is described by its first user on this host.
    const adopted = new Set<Lowering>();
    const lowering = (policy: Policy, direction: Direction, index: number): Lowering => {
      const l = this.lowerOnce(policy, direction, index);
      if (!adopted.has(l)) {
        for (const s of l.sets) sets.adopt(s);
        adopted.add(l);
      }
      return l;
    };
    const lower = (policy: Policy, direction: Direction, index: number): LoweredRule =>
      lowering(policy, direction, index).lowered;
    const ipsets = new Map<string, IpsetState>();
    const interfaces: InterfaceState[] = [];
    const egress: EgressState = { interfaces: [], ipsets: [] };

    for (const ep of endpoints) {
      const group = selection.groups.findIndex((g) => g.endpoints.includes(ep.name));
      const applying = this.policies.filter((p) => selection.byPolicy.get(p.name)!.includes(group));
      const counters: RuleRef[] = [];
      const ingress: Record<IpFamily, IngressEntry[]> = { 4: [], 6: [] };
      for (const p of applying) {
        if (!p.types.includes('ingress')) continue;
        for (let i = 0; i < p.ingress.length; i++) {
          const l = lowering(p, 'ingress', i);
          // Made once per rule and shared by every interface and host that uses it.
          l.templates ??= { 4: ingressTemplates(l.lowered, 4), 6: ingressTemplates(l.lowered, 6) };
          const counter = counters.push({ ...l.lowered.ref }) - 1;
          for (const f of FAMILIES) for (const t of l.templates[f]) ingress[f].push(ingressEntry(counter, t));
        }
      }
      const egressSets = new Set<string>();
      const egressPolicies = applying
        .filter((p) => p.types.includes('egress'))
        .map((p) => {
          const rules: EgressRule[] = [];
          p.egress.forEach((_, i) => {
            const l = lower(p, 'egress', i);
            for (const f of FAMILIES) {
              rules.push(...egressRules(l, f, sets, ipsets));
              for (const piece of l.pieces) {
                const s = piece.sets[f];
                if (s)
                  for (const side of [s.source, s.destination])
                    for (const id of [...side.inSets, ...side.notInSets]) egressSets.add(id);
              }
            }
          });
          return { policy: p.name, rules };
        });
      const iface: InterfaceState = {
        name: ep.interfaceName!,
        endpoint: ep.name,
        ingress: { v4: ingress[4], v6: ingress[6] },
        counters,
      };
      checkInterfaceLimits(host, iface, egressSets, sets, config.limits);
      interfaces.push(iface);
      egress.interfaces.push({ name: iface.name, policies: egressPolicies });
    }
    egress.ipsets = [...ipsets.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

    const state: DesiredState = {
      formatVersion: DESIRED_STATE_VERSION,
      host,
      hash: '',
      config: {
        acceptMark: config.acceptMark,
        passMark: config.passMark,
        xdpMode: config.xdpMode,
        logRate: config.logRate,
        logBurst: config.logBurst,
      },
      failsafes: failsafesOf(config),
      sets: sets.record(),
      interfaces,
      egress,
    };
    state.hash = desiredStateHash(state);
    return state;
  }

  /** The host's endpoints that name an interface, by interface name; two on one interface is a conflict. */
  private endpointsOf(host: string): HostEndpoint[] {
    const list = this.resources.hostEndpoints
      .filter((h) => h.node === host && h.interfaceName !== null)
      .sort((a, b) => (a.interfaceName! < b.interfaceName! ? -1 : a.interfaceName! > b.interfaceName! ? 1 : 0));
    for (let i = 1; i < list.length; i++) {
      if (list[i]!.interfaceName === list[i - 1]!.interfaceName) {
        throw new CompileError(
          'compile-conflict',
          `HostEndpoints ${list[i - 1]!.name} and ${list[i]!.name} both claim interface ${list[i]!.interfaceName} of host ${host}; ` +
            'an interface has one endpoint',
        );
      }
    }
    return list;
  }
}

/** The DesiredState of one host. A host with no endpoint gets a state with no interfaces. */
export function compileHost(resources: ResourceSet, host: string): DesiredState {
  return new FleetCompiler(resources).host(host);
}

/** The DesiredStates of the named hosts, sharing the fleet's resolvers. */
export function compileHosts(resources: ResourceSet, hosts: readonly string[]): Map<string, DesiredState> {
  const fleet = new FleetCompiler(resources);
  return new Map(hosts.map((h) => [h, fleet.host(h)]));
}

/** The DesiredState of every host a HostEndpoint names, by host name (sorted). */
export function compileAll(resources: ResourceSet): Map<string, DesiredState> {
  const fleet = new FleetCompiler(resources);
  return new Map(fleet.hosts().map((h) => [h, fleet.host(h)]));
}

// The typed, normalised resources that validation hands to the compile stage: parsed selectors, CIDRs and ports.
import type { Cidr, IpFamily, NetList } from '../net/cidr.js';
import type { PortSpec } from './ports.js';
import type { Selector } from './selector/index.js';
import type { GlobalNetworkPolicy, GlobalNetworkSet, NotrackConfiguration } from './schema-types.gen.js';

export type { GlobalNetworkPolicy, GlobalNetworkSet, NotrackConfiguration };

/** Where a resource was written: the file and the index of its YAML document among the file's non-empty ones. */
export interface SourceRef {
  file: string;
  document: number;
}

export type RuleAction = 'Allow' | 'Deny' | 'Log' | 'Pass';
export type Direction = 'ingress' | 'egress';

/** IANA protocol numbers of the names Calico accepts. */
const PROTOCOL_NUMBERS = { TCP: 6, UDP: 17, ICMP: 1, ICMPv6: 58, SCTP: 132, UDPLite: 136 } as const;
type ProtocolName = keyof typeof PROTOCOL_NUMBERS;

export function protocolNumber(p: ProtocolName | number): number {
  return typeof p === 'number' ? p : PROTOCOL_NUMBERS[p];
}

export interface IcmpMatch {
  type?: number;
  code?: number;
}

/** One side (source or destination) of a rule. Empty lists mean "no constraint". */
export interface EntityMatch {
  nets: Cidr[];
  notNets: Cidr[];
  selector: Selector | null;
  notSelector: Selector | null;
  ports: PortSpec[];
  notPorts: PortSpec[];
}

export interface PolicyRule {
  /** Index of the rule in its policy's ingress or egress list. */
  index: number;
  action: RuleAction;
  ipVersion: IpFamily | null;
  protocol: number | null;
  notProtocol: number | null;
  icmp: IcmpMatch | null;
  notICMP: IcmpMatch | null;
  source: EntityMatch;
  destination: EntityMatch;
}

export interface Policy {
  name: string;
  /** null = no order: applies after every ordered policy. */
  order: number | null;
  selector: Selector;
  types: Direction[];
  ingress: PolicyRule[];
  egress: PolicyRule[];
  doNotTrack: boolean;
  source: SourceRef;
}

interface NamedPort {
  name: string;
  protocol: number;
  port: number;
}

export interface HostEndpoint {
  name: string;
  node: string;
  /** null when only expectedIPs identify it; '*' for every interface of the node. */
  interfaceName: string | null;
  expectedIPs: Cidr[];
  ports: NamedPort[];
  labels: Record<string, string>;
  source: SourceRef;
}

export interface NetworkSet {
  name: string;
  labels: Record<string, string>;
  /** For a set read by the set-file scanner, made from `packedNets` on first read. */
  nets: Cidr[];
  /** The same nets packed, when the set-file scanner read them (not enumerable): what the compiler reads. */
  readonly packedNets?: NetList;
  source: SourceRef;
}

export interface FailsafePort {
  protocol: number;
  port: number;
  net: Cidr | null;
}

export type XdpMode = 'native' | 'generic' | 'auto';

/** notrack settings for one host: the `default` configuration, overridden by `node.<host>`. */
/** What a switch must keep reachable, besides the Git remote (NotrackConfiguration `probes`). */
export interface CommitProbes {
  /** host:port targets this host connects to. */
  tcp: string[];
  /** TCP ports of this host that accept connections. */
  localPorts: number[];
}

export interface Configuration {
  failsafeInbound: FailsafePort[];
  failsafeOutbound: FailsafePort[];
  acceptMark: number;
  passMark: number;
  xdpMode: XdpMode;
  logRate: number;
  logBurst: number;
  limits: { maxRulesPerInterface: number; maxSetPrefixes: number };
  /** Keep the dataplane and stop reconciling (NotrackConfiguration `suspend: true`). */
  suspend: boolean;
  /** Remove the host's dataplane when its HostEndpoints leave the repository (`prune: true`). */
  prune: boolean;
  /** Checked before and after every switch (NotrackConfiguration `probes`): TCP targets and local ports. */
  probes: CommitProbes;
}

/** A configuration resource as written: only the fields it sets. */
export interface ConfigurationOverride {
  name: string;
  settings: Partial<Configuration>;
  source: SourceRef;
  /** Absent for NotrackConfiguration; a FelixConfiguration lends only its failsafe ports and yields to it. */
  kind?: 'FelixConfiguration';
}

/** Everything validation produced from one revision of the policy repository. */
export interface ResourceSet {
  /** doNotTrack policies: the ones notrack enforces. */
  policies: Policy[];
  /** Names of valid policies without doNotTrack: reported, not enforced. */
  ignoredPolicies: string[];
  hostEndpoints: HostEndpoint[];
  networkSets: NetworkSet[];
  configurations: ConfigurationOverride[];
}

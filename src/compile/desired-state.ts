// The compile stage's output: what one host's dataplane must be, canonical and content-hashed. Pure data.
import type { IpFamily } from '../net/cidr.js';
import type { Direction, RuleAction, XdpMode } from '../model/resources.js';
import type { PackedPrefixes } from './packed-prefixes.js';

export const DESIRED_STATE_VERSION = 1;

/** Which policy rule something came from. `index` is the rule's position in the policy's ingress or egress list. */
export interface RuleRef {
  policy: string;
  direction: Direction;
  index: number;
}

/**
 * A set of prefixes of one family, shared by id (a hash of its content) between every rule and interface that
 * uses it. Prefixes are canonical CIDR strings ("10.0.0.0/8", "2001:db8::/32"), sorted and de-duplicated, with no
 * prefix contained in another.
 */
export interface PrefixSet {
  id: string;
  family: IpFamily;
  prefixes: string[];
  /**
   * The same members packed (typed arrays, same order): present on every set a compile makes or a state file gives
   * back (PackedPrefixSet, which makes `prefixes` only when it is read). packedMembers() gives it for any set.
   */
  readonly packed?: PackedPrefixes;
  /** Where the set came from, for people: `nets of db-allow ingress[0] source`, `selector role == 'app'`. */
  origin: string;
}

/** An inclusive port range, already resolved (named ports become ranges of their protocol). */
export interface PortRange {
  from: number;
  to: number;
}

/** One side (source or destination address and port) of an entry. Empty lists mean "no constraint". */
export interface SideMatch {
  /** The address must be in EVERY listed set (nets, selector: each is one set). */
  inSets: string[];
  /** The address must be in NONE of the listed sets (notNets, notSelector). */
  notInSets: string[];
  /** The port must be in one of these ranges (the packet must have ports). */
  ports: PortRange[];
  /** The port must be in none of these ranges (the packet must have ports). */
  notPorts: PortRange[];
}

/**
 * One classifier entry of an interface's ingress for one address family: a policy rule, or one piece of a rule
 * that had to be split (e.g. by the protocols of its named ports). Pieces of one rule are adjacent and share
 * `counter`, so first-match order over entries equals Calico's order over rules.
 */
export interface IngressEntry {
  /** Index into the interface's `counters`: the rule counter this entry counts into. */
  counter: number;
  action: RuleAction;
  protocol: number | null;
  notProtocol: number | null;
  icmp: { type?: number; code?: number } | null;
  notICMP: { type?: number; code?: number } | null;
  source: SideMatch;
  destination: SideMatch;
}

/** A failsafe as the entry program checks it: protocol, port and an optional peer CIDR. */
export interface Failsafe {
  direction: 'inbound' | 'outbound';
  protocol: number;
  port: number;
  /** Canonical CIDR, or null for anywhere (both families). */
  net: string | null;
}

/** One XDP/TC attachment point: a host endpoint's interface. */
export interface InterfaceState {
  /** Interface name, as on the host. */
  name: string;
  /** The HostEndpoint this interface belongs to. */
  endpoint: string;
  /** Entries in evaluation order, per family. A rule without a family constraint appears in both lists. */
  ingress: { v4: IngressEntry[]; v6: IngressEntry[] };
  /** Rule counters: counter i belongs to rule counters[i]. Same order as evaluation. */
  counters: RuleRef[];
}

/** An egress rule lowered to iptables match arguments (argv tokens), for the raw OUTPUT chains. */
export interface EgressRule {
  rule: RuleRef;
  action: RuleAction;
  family: IpFamily;
  /** iptables match tokens, e.g. ['-p', 'tcp', '--dport', '5432', '-m', 'set', '--match-set', 'notrack-…', 'dst']. */
  match: string[];
}

/** An ipset that egress rules reference. */
export interface IpsetState {
  name: string;
  family: IpFamily;
  /** The prefix set it holds. */
  set: string;
}

export interface EgressState {
  /** Per interface: the policies that apply to it, in order, each with its rules. */
  interfaces: { name: string; policies: { policy: string; rules: EgressRule[] }[] }[];
  ipsets: IpsetState[];
}

export interface DesiredState {
  formatVersion: typeof DESIRED_STATE_VERSION;
  host: string;
  /** sha256 of the canonical JSON of everything else: equal hashes mean equal dataplanes. */
  hash: string;
  config: { acceptMark: number; passMark: number; xdpMode: XdpMode; logRate: number; logBurst: number };
  failsafes: Failsafe[];
  sets: Record<string, PrefixSet>;
  interfaces: InterfaceState[];
  egress: EgressState;
}

/** The reference verdict for one packet: what the policy says, independent of the kernel. */
export interface Verdict {
  /** What happens to the packet: accepted untracked, dropped, or passed on to tracked processing. */
  outcome: 'allow' | 'deny' | 'pass';
  /** Why: a rule decided, no rule matched, a failsafe port, or it is not a packet policy applies to. */
  reason: 'rule' | 'no-match' | 'failsafe' | 'non-ip' | 'no-policy';
  /** The deciding rule's counter index and origin, when a rule decided. */
  counter: number | null;
  rule: RuleRef | null;
  /** Log rules that matched before the decision, in order (counter indexes). */
  logged: number[];
}

/** A packet as `explain` and the evaluators take it. Ports absent for non-first fragments or portless protocols. */
export interface PacketDescription {
  family: IpFamily;
  protocol: number;
  src: string;
  dst: string;
  sport?: number;
  dport?: number;
  icmpType?: number;
  icmpCode?: number;
  /** A fragment with a non-zero offset: no ports and no ICMP header. */
  laterFragment?: boolean;
  /** The packet answers a connection this host opened (conntrack has it): what an outbound failsafe needs. */
  reply?: boolean;
}

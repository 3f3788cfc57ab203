// The lab's layout, planned from a policy repository's HostEndpoints before anything is created: namespaces,
// interfaces, addresses and routes. Pure: the lab (lab.ts) carries the plan out.
//
// Every namespace hangs off one Linux bridge in the "lan" namespace, so the whole lab is one L2 segment:
//   - each host interface gets its HostEndpoint's expectedIPs on their own subnet (/24, /64), and the host gets
//     on-link routes for the whole lab (10.0.0.0/16, fd00::/48) through its last interface and a default
//     route out of its first one, where "the Internet" (visitor and attacker addresses) lives;
//   - the client holds an app-subnet address with the lab-wide prefix, plus /32s for a public visitor and for
//     the attacker address of the example deny list, so one namespace can play every sender;
//   - the git namespace holds the Git server's address.
// Hosts with two interfaces on one segment answer ARP only on the interface that owns the address
// (arp_ignore=1, arp_announce=2), so a packet for eth0's address really arrives on eth0.
import { cidrContains, formatIp, parseCidr } from '../net/cidr.js';
import type { HostEndpoint } from '../model/resources.js';
import { LabError } from './lab-error.js';

/** The lab's IPv4 range: every host, client and server address lies in it. */
const LAB_NET4 = '10.0.0.0/16';
/** The lab's IPv6 range. */
const LAB_NET6 = 'fd00::/48';
/** The client's address in the example's app subnet (allowed to reach postgres and memcached). */
export const CLIENT_APP_ADDRESS = '10.0.1.50';
const CLIENT_APP_ADDRESS6 = 'fd00:0:0:1::50';
/** A public address outside every deny list (TEST-NET-1), to show what an ordinary visitor gets. */
export const VISITOR_ADDRESS = '192.0.2.80';
/** An address the example's DDoS deny list always holds. */
export const ATTACKER_ADDRESS = '203.0.113.66';
/** Where the Git server listens, inside the git namespace. */
export const GIT_ADDRESS = '10.0.9.1';
export const BRIDGE = 'br0';

export interface PlannedInterface {
  /** The name inside the namespace (the HostEndpoint's interfaceName for hosts). */
  name: string;
  /** The bridge port in the lan namespace that the veth's other end becomes. */
  bridgePort: string;
  /** Addresses with their prefix length, as `ip addr add` takes them. */
  addresses: string[];
}

export interface PlannedRoute {
  /** A destination prefix or 'default'. */
  to: string;
  dev: string;
  family: 4 | 6;
  /** The preferred source address, when the interface holds several. */
  src?: string;
}

export interface PlannedNamespace {
  /** What the namespace stands for: a host's node name, 'client' or 'git'. */
  role: string;
  /** The namespace's name: the lab's prefix and the role. */
  namespace: string;
  interfaces: PlannedInterface[];
  routes: PlannedRoute[];
  /** True for hosts with several interfaces on the segment, which need ARP answered per interface. */
  strictArp: boolean;
}

export interface PlannedHost extends PlannedNamespace {
  /** The HostEndpoint node name, passed to notrack as --host. */
  node: string;
  /** The HostEndpoint resource names per interface, for messages. */
  endpoints: Record<string, string>;
}

export interface Topology {
  prefix: string;
  /** The namespace holding the bridge. */
  lan: string;
  hosts: PlannedHost[];
  client: PlannedNamespace;
  git: PlannedNamespace;
}

const IFNAME = /^[A-Za-z0-9_.-]{1,15}$/;

const LAB4 = parseCidr(LAB_NET4)!;
const LAB6 = parseCidr(LAB_NET6)!;

/** A bridge-port name for one host interface: readable when it fits in 15 characters. */
function bridgePortName(node: string, ifname: string, hostIndex: number): string {
  const readable = `${node}-${ifname}`;
  if (IFNAME.test(readable)) return readable;
  return `h${hostIndex}-${ifname}`.slice(0, 15);
}

/**
 * Lays out one namespace per node of `endpoints`, with one interface per HostEndpoint, plus the client and git
 * namespaces. Throws LabError('lab-topology') for endpoints the lab cannot build (a wildcard or missing interface
 * name, no IPv4 address, an address outside the lab's ranges).
 */
export function planTopology(prefix: string, endpoints: readonly HostEndpoint[]): Topology {
  const byNode = new Map<string, HostEndpoint[]>();
  for (const ep of endpoints) {
    if (ep.interfaceName === null || ep.interfaceName === '*' || !IFNAME.test(ep.interfaceName)) {
      throw new LabError(
        'lab-topology',
        `HostEndpoint ${ep.name} has interfaceName ${JSON.stringify(ep.interfaceName)}: the lab needs a concrete interface name to create`,
      );
    }
    const list = byNode.get(ep.node) ?? [];
    if (list.some((o) => o.interfaceName === ep.interfaceName)) {
      throw new LabError('lab-topology', `node ${ep.node} has two HostEndpoints for interface ${ep.interfaceName}`);
    }
    list.push(ep);
    byNode.set(ep.node, list);
  }
  if (byNode.size === 0)
    throw new LabError('lab-topology', 'the policy folder has no HostEndpoints, so the lab would have no hosts');

  const hosts: PlannedHost[] = [];
  [...byNode.keys()].sort().forEach((node, hostIndex) => {
    if (node === 'client' || node === 'git' || node === 'lan') {
      throw new LabError(
        'lab-topology',
        `node name "${node}" is the name of one of the lab's own namespaces; rename the host`,
      );
    }
    const eps = byNode
      .get(node)!
      .slice()
      .sort((a, b) => a.interfaceName!.localeCompare(b.interfaceName!));
    const interfaces: PlannedInterface[] = [];
    const endpointsByIf: Record<string, string> = {};
    let first4: string | undefined;
    let last4: string | undefined;
    let last6: string | undefined;
    for (const ep of eps) {
      const ifname = ep.interfaceName!;
      const addresses: string[] = [];
      let own4: string | undefined;
      let own6: string | undefined;
      for (const ip of ep.expectedIPs) {
        const addr = formatIp(ip.family, ip.addr);
        if (ip.family === 6) {
          if (!cidrContains(LAB6, ip))
            throw new LabError('lab-topology', `${ep.name}: ${addr} is outside the lab's IPv6 range ${LAB_NET6}`);
          addresses.push(`${addr}/64`);
          own6 ??= addr;
        } else {
          if (!cidrContains(LAB4, ip))
            throw new LabError('lab-topology', `${ep.name}: ${addr} is outside the lab's IPv4 range ${LAB_NET4}`);
          addresses.push(`${addr}/24`);
          own4 ??= addr;
        }
      }
      if (own4 === undefined)
        throw new LabError(
          'lab-topology',
          `${ep.name} has no IPv4 address in expectedIPs; the lab needs one per interface`,
        );
      first4 ??= own4;
      last4 = own4;
      last6 = own6 ?? last6;
      interfaces.push({ name: ifname, bridgePort: bridgePortName(node, ifname, hostIndex), addresses });
      endpointsByIf[ifname] = ep.name;
    }
    const outside = interfaces[0]!.name;
    const inside = interfaces[interfaces.length - 1]!.name;
    const routes: PlannedRoute[] = [
      { to: LAB_NET4, dev: inside, family: 4, src: last4! },
      { to: 'default', dev: outside, family: 4, src: first4! },
    ];
    if (last6 !== undefined) routes.push({ to: LAB_NET6, dev: inside, family: 6, src: last6 });
    hosts.push({
      role: node,
      node,
      namespace: `${prefix}-${node}`,
      interfaces,
      routes,
      strictArp: interfaces.length > 1,
      endpoints: endpointsByIf,
    });
  });

  const ports = new Set<string>();
  for (const h of hosts) {
    for (const i of h.interfaces) {
      if (ports.has(i.bridgePort)) i.bridgePort = `h${hosts.indexOf(h)}-${i.name}`.slice(0, 15);
      ports.add(i.bridgePort);
    }
  }

  const client: PlannedNamespace = {
    role: 'client',
    namespace: `${prefix}-client`,
    interfaces: [
      {
        name: 'eth0',
        bridgePort: 'client',
        addresses: [
          `${CLIENT_APP_ADDRESS}/16`,
          `${CLIENT_APP_ADDRESS6}/48`,
          `${VISITOR_ADDRESS}/32`,
          `${ATTACKER_ADDRESS}/32`,
        ],
      },
    ],
    // The /16 and /48 are on-link from their addresses; the client never needs a route to its own /32s.
    routes: [],
    strictArp: false,
  };
  const git: PlannedNamespace = {
    role: 'git',
    namespace: `${prefix}-git`,
    interfaces: [{ name: 'eth0', bridgePort: 'git', addresses: [`${GIT_ADDRESS}/16`] }],
    routes: [],
    strictArp: false,
  };
  return { prefix, lan: `${prefix}-lan`, hosts, client, git };
}

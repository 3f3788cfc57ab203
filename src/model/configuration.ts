// notrack's settings: Calico-compatible defaults, overridden by NotrackConfiguration `default`, then `node.<host>`.
import { parseCidr } from '../net/cidr.js';
import type { Configuration, ConfigurationOverride, FailsafePort, ResourceSet } from './resources.js';
import type { NotrackConfiguration } from './schema-types.gen.js';

const tcp = (port: number): FailsafePort => ({ protocol: 6, port, net: null });
const udp = (port: number): FailsafePort => ({ protocol: 17, port, net: null });
const CONTROL_PLANE = [179, 2379, 2380, 5473, 6443, 6666, 6667];

/** Calico's failsafe defaults (FailsafeInboundHostPorts / FailsafeOutboundHostPorts). */
export const DEFAULT_CONFIGURATION: Configuration = {
  failsafeInbound: [tcp(22), udp(68), ...CONTROL_PLANE.map(tcp)],
  failsafeOutbound: [udp(53), udp(67), ...CONTROL_PLANE.map(tcp)],
  acceptMark: 0x40000000,
  passMark: 0x20000000,
  xdpMode: 'auto',
  logRate: 100,
  logBurst: 200,
  limits: { maxRulesPerInterface: 65536, maxSetPrefixes: 2_097_152 },
  suspend: false,
  prune: false,
  probes: { tcp: [], localPorts: [] },
};

/** The settings a configuration resource sets (schema-valid input). */
export function configurationSettings(spec: NotrackConfiguration['spec']): Partial<Configuration> {
  const out: Partial<Configuration> = {};
  const ports = (list: NonNullable<typeof spec.failsafeInboundHostPorts>): FailsafePort[] =>
    list.map((p) => ({ protocol: p.protocol === 'TCP' ? 6 : 17, port: p.port, net: p.net ? parseCidr(p.net) : null }));
  if (spec.failsafeInboundHostPorts) out.failsafeInbound = ports(spec.failsafeInboundHostPorts);
  if (spec.failsafeOutboundHostPorts) out.failsafeOutbound = ports(spec.failsafeOutboundHostPorts);
  if (spec.acceptMark !== undefined) out.acceptMark = markValue(spec.acceptMark);
  if (spec.passMark !== undefined) out.passMark = markValue(spec.passMark);
  if (spec.xdpMode) out.xdpMode = spec.xdpMode;
  if (spec.logRate !== undefined) out.logRate = spec.logRate;
  if (spec.logBurst !== undefined) out.logBurst = spec.logBurst;
  if (spec.suspend !== undefined) out.suspend = spec.suspend;
  if (spec.prune !== undefined) out.prune = spec.prune;
  if (spec.probes) out.probes = { tcp: [...(spec.probes.tcp ?? [])], localPorts: [...(spec.probes.localPorts ?? [])] };
  if (spec.limits) {
    out.limits = { ...DEFAULT_CONFIGURATION.limits };
    if (spec.limits.maxRulesPerInterface !== undefined)
      out.limits.maxRulesPerInterface = spec.limits.maxRulesPerInterface;
    if (spec.limits.maxSetPrefixes !== undefined) out.limits.maxSetPrefixes = spec.limits.maxSetPrefixes;
  }
  return out;
}

/**
 * The configuration in force on `host`, field by field: NotrackConfiguration `node.<host>`, then its `default`, then
 * FelixConfiguration `node.<host>` and `default` (failsafe ports only), then Calico's defaults.
 */
export function resolveConfiguration(resources: Pick<ResourceSet, 'configurations'>, host: string): Configuration {
  const felix = resources.configurations.filter((c) => c.kind === 'FelixConfiguration');
  const notrack = resources.configurations.filter((c) => c.kind !== 'FelixConfiguration');
  const named = (list: ConfigurationOverride[], name: string) => list.find((c) => c.name === name)?.settings ?? {};
  return {
    ...DEFAULT_CONFIGURATION,
    ...named(felix, 'default'),
    ...named(felix, `node.${host}`),
    ...named(notrack, 'default'),
    ...named(notrack, `node.${host}`),
  };
}

/** A mark written as an integer or a "0x…" string. */
export function markValue(mark: number | string): number {
  return typeof mark === 'number' ? mark : parseInt(mark.slice(2), 16);
}

// How a DesiredState maps onto this host's dataplane parts: XDP interfaces, iptables input, ipsets, XDP config.
import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import type { DesiredState, InterfaceState } from '../compile/desired-state.js';
import type { IptablesDesired } from '../dataplane/iptables/index.js';
import type { IpsetDesired } from '../dataplane/ipset/index.js';
import type { DataplaneConfig } from '../abi/notrack.js';
import { updateText } from './text-digest.js';

/** Interfaces of this network namespace, from sysfs (loopback excluded: notrack never attaches there). */
export function hostInterfaces(): string[] {
  try {
    return readdirSync('/sys/class/net')
      .filter((n) => n !== 'lo')
      .sort();
  } catch {
    return [];
  }
}

/**
 * The XDP interfaces the state asks for on this host: each endpoint interface that exists, and for a `*` endpoint
 * every other interface. Interfaces the state names but the host lacks are returned apart, to be reported.
 */
export function plannedInterfaces(
  state: DesiredState,
  present: readonly string[],
): { apply: Map<string, InterfaceState>; missing: string[] } {
  const { apply: names, missing } = plannedInterfaceNames(
    state.interfaces.map((i) => i.name),
    present,
  );
  const byName = new Map(state.interfaces.map((i) => [i.name, i]));
  const wildcard = byName.get('*');
  const apply = new Map<string, InterfaceState>();
  for (const name of names) apply.set(name, byName.get(name) ?? { ...wildcard!, name });
  return { apply, missing };
}

/** plannedInterfaces by name alone: each named interface that exists, then for `*` every other one. */
export function plannedInterfaceNames(
  names: readonly string[],
  present: readonly string[],
): { apply: string[]; missing: string[] } {
  const apply: string[] = [];
  const missing: string[] = [];
  for (const name of names) {
    if (name === '*') continue;
    if (present.includes(name)) apply.push(name);
    else missing.push(name);
  }
  if (names.includes('*')) for (const name of present) if (!apply.includes(name)) apply.push(name);
  return { apply, missing };
}

/** What the static programs are loaded with. The accept mark bits double as the mask notrack owns. */
export function dataplaneConfig(state: DesiredState): DataplaneConfig {
  return {
    acceptMark: state.config.acceptMark,
    acceptMask: state.config.acceptMark,
    logRate: state.config.logRate,
    logBurst: state.config.logBurst,
  };
}

/**
 * A fingerprint of everything one interface's XDP generation is built from: its entries and counters, the sets
 * they use, the failsafes and the program configuration. Equal fingerprints need no new generation.
 */
export function interfaceFingerprint(state: DesiredState, iface: InterfaceState): string {
  // Asked for by the apply and again by the view it records (10,000 rules: one JSON.stringify of every entry each
  // time). A state is not changed after its compile; a `*` endpoint's copies share its entries.
  const known = fingerprints.get(iface.ingress);
  if (known?.state === state && known.counters === iface.counters) return known.fingerprint;
  const fingerprint = computeFingerprint(state, iface);
  fingerprints.set(iface.ingress, { state, counters: iface.counters, fingerprint });
  return fingerprint;
}

const fingerprints = new WeakMap<
  InterfaceState['ingress'],
  { state: DesiredState; counters: InterfaceState['counters']; fingerprint: string }
>();

/**
 * The JSON text of an interface's entries, made once per entries object (a `*` endpoint's copies share it): the
 * fingerprint hashes it and the pending state file holds it (10,000 rules: 3 MB of text, ~20 ms to make).
 */
export function ingressJson(iface: InterfaceState): string {
  let text = ingressTexts.get(iface.ingress);
  if (text === undefined) {
    text = JSON.stringify(iface.ingress);
    ingressTexts.set(iface.ingress, text);
  }
  return text;
}
const ingressTexts = new WeakMap<InterfaceState['ingress'], string>();

function computeFingerprint(state: DesiredState, iface: InterfaceState): string {
  // The bytes of JSON.stringify({ ingress, counters, failsafes, config }) then the set ids sorted, as ever
  // (fingerprints are recorded on hosts), fed in pieces: the entries' text is ingressJson's, made once.
  const setIds = new Set<string>();
  const add = (ids: readonly string[]): void => {
    for (let k = 0; k < ids.length; k++) setIds.add(ids[k]!);
  };
  for (const entries of [iface.ingress.v4, iface.ingress.v6]) {
    for (let i = 0; i < entries.length; i++) {
      const { source, destination } = entries[i]!;
      if (source.inSets.length) add(source.inSets);
      if (source.notInSets.length) add(source.notInSets);
      if (destination.inSets.length) add(destination.inSets);
      if (destination.notInSets.length) add(destination.notInSets);
    }
  }
  const h = createHash('sha256').update('{"ingress":');
  updateText(h, ingressJson(iface));
  updateText(h, `,"counters":${JSON.stringify(iface.counters)}`);
  h.update(`,"failsafes":${JSON.stringify(state.failsafes)},"config":${JSON.stringify(dataplaneConfig(state))}}`);
  // Set ids are content hashes already.
  h.update([...setIds].sort().join(','));
  return h.digest('hex');
}

export function iptablesDesired(state: DesiredState): IptablesDesired {
  const marks = {
    accept: { value: state.config.acceptMark, mask: state.config.acceptMark },
    pass: { value: state.config.passMark, mask: state.config.passMark },
  };
  const ports = (dir: 'inbound' | 'outbound') =>
    state.failsafes.filter((f) => f.direction === dir).map((f) => ({ protocol: f.protocol, port: f.port, net: f.net }));
  return {
    marks,
    failsafe: { inbound: ports('inbound'), outbound: ports('outbound') },
    log: { rate: state.config.logRate, burst: state.config.logBurst },
    egress: {
      interfaces: state.egress.interfaces.map((i) => ({
        iface: i.name,
        policies: i.policies.map((p) => ({
          name: p.policy,
          rules: p.rules.map((r) => ({ index: r.rule.index, action: r.action, match: r.match, ipVersion: r.family })),
        })),
      })),
    },
  };
}

export function ipsetsDesired(state: DesiredState): IpsetDesired[] {
  return state.egress.ipsets.map((s) => ({
    name: s.name,
    family: s.family,
    members: state.sets[s.set]?.prefixes ?? [],
  }));
}

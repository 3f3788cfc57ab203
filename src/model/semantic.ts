// Semantic checks of one schema-valid document, and its conversion into a typed, normalised resource.
import { isCatchAll, parseCidr, parseIp, formatCidr, type Cidr, type IpFamily } from '../net/cidr.js';
import { diagnosticAt, type SourceDocument } from './documents.js';
import type { Diagnostic, PathSegment } from './diagnostics.js';
import { parsePort, type PortSpec } from './ports.js';
import { configurationSettings, markValue } from './configuration.js';
import { parseSelector, SelectorSyntaxError, type Selector, type SelectorNode } from './selector/index.js';
import {
  protocolNumber,
  type ConfigurationOverride,
  type Direction,
  type EntityMatch,
  type HostEndpoint,
  type NetworkSet,
  type Policy,
  type PolicyRule,
  type SourceRef,
} from './resources.js';
import type {
  EntityRule,
  GlobalNetworkPolicy,
  GlobalNetworkSet,
  HostEndpoint as HostEndpointYaml,
  NotrackConfiguration,
  Rule,
} from './schema-types.gen.js';

const PORT_PROTOCOLS = new Set([6, 17, 132]);
const ICMP4 = 1,
  ICMP6 = 58;
/** Linux interface names are at most 15 characters (IFNAMSIZ - 1). */
const MAX_INTERFACE_NAME = 15;

/** Collects diagnostics for one document. */
class Findings {
  readonly list: Diagnostic[] = [];
  constructor(readonly doc: SourceDocument) {}
  error(path: PathSegment[], code: string, message: string, key = false): void {
    this.list.push(diagnosticAt(this.doc, path, 'error', code, message, { key }));
  }
  warning(path: PathSegment[], code: string, message: string): void {
    this.list.push(diagnosticAt(this.doc, path, 'warning', code, message));
  }
  notice(path: PathSegment[], code: string, message: string): void {
    this.list.push(diagnosticAt(this.doc, path, 'notice', code, message));
  }
  get hasErrors(): boolean {
    return this.list.some((d) => d.severity === 'error');
  }
}

function sourceRef(doc: SourceDocument): SourceRef {
  return { file: doc.file, document: doc.index };
}

/** Parses a selector; a syntax error points at the exact column inside the YAML scalar. */
function selectorAt(f: Findings, path: PathSegment[], text: string | undefined): Selector | null {
  if (text === undefined) return null;
  try {
    const selector = parseSelector(text);
    if (usesGlobal(selector.ast)) {
      // Calico allows global() only in a namespaceSelector, which host endpoint policy has no use for.
      f.error(
        path,
        'selector-global',
        'global() is only allowed in a namespaceSelector, which host endpoint policy does not have; remove it (all() selects everything)',
      );
      return null;
    }
    return selector;
  } catch (e) {
    if (!(e instanceof SelectorSyntaxError)) throw e;
    const pos = f.doc.locate(path);
    const d = diagnosticAt(f.doc, path, 'error', 'selector-syntax', `invalid selector: ${e.message}`);
    // Single-line scalars map offsets onto columns, once quotes and escapes are accounted for.
    if (pos.line === pos.endLine || pos.endCol === 1) d.col = pos.col + sourceOffset(pos.raw, pos.quoted, e.offset);
    f.list.push(d);
    return null;
  }
}

function usesGlobal(node: SelectorNode): boolean {
  switch (node.kind) {
    case 'global':
      return true;
    case 'not':
      return usesGlobal(node.operand);
    case 'and':
    case 'or':
      return node.operands.some(usesGlobal);
    default:
      return false;
  }
}

/** Where the `offset`-th character of a scalar's value is in its source text: after the opening quote, and an
 * escape such as \" or '' takes more source characters than the one character it stands for. */
function sourceOffset(raw: string, quoted: boolean, offset: number): number {
  if (!quoted) return offset;
  const quote = raw[0];
  let i = 1;
  for (let n = 0; n < offset && i < raw.length; n++) {
    if (quote === "'" && raw[i] === "'") i += 2;
    else if (quote === '"' && raw[i] === '\\') {
      const c = raw[i + 1];
      i += c === 'x' ? 4 : c === 'u' ? 6 : c === 'U' ? 10 : 2;
    } else i++;
  }
  return i;
}

function cidrs(f: Findings, path: PathSegment[], list: string[] | undefined): Cidr[] {
  const out: Cidr[] = [];
  (list ?? []).forEach((text, i) => {
    const c = parseCidr(text);
    if (!c) return; // the schema's format check already reported it
    if (c.hostBitsSet) hostBitsWarning(f, [...path, i], text, c);
    out.push(c);
  });
  return out;
}

function hostBitsWarning(f: Findings, path: PathSegment[], text: string, c: Cidr): void {
  f.warning(path, 'cidr-host-bits', `${text} has host bits set; it means ${formatCidr(c)}`);
}

function ports(f: Findings, path: PathSegment[], list: (number | string)[] | undefined): PortSpec[] {
  const out: PortSpec[] = [];
  (list ?? []).forEach((value, i) => {
    const r = parsePort(value);
    if (r.ok) out.push(r.port);
    else f.error([...path, i], 'invalid-port', r.message);
  });
  return out;
}

function entity(f: Findings, path: PathSegment[], e: EntityRule | undefined): EntityMatch {
  const nets = cidrs(f, [...path, 'nets'], e?.nets);
  const notNets = cidrs(f, [...path, 'notNets'], e?.notNets);
  notNets.forEach((c, i) => {
    if (isCatchAll(c)) {
      f.error(
        [...path, 'notNets', i],
        'catch-all-notnets',
        `notNets ${formatCidr(c)} excludes every IPv${c.family} address, so the rule can never match IPv${c.family}; remove it or use a narrower CIDR`,
      );
    }
  });
  return {
    nets,
    notNets,
    selector: selectorAt(f, [...path, 'selector'], e?.selector),
    notSelector: selectorAt(f, [...path, 'notSelector'], e?.notSelector),
    ports: ports(f, [...path, 'ports'], e?.ports),
    notPorts: ports(f, [...path, 'notPorts'], e?.notPorts),
  };
}

function checkRule(f: Findings, path: PathSegment[], rule: Rule, index: number): PolicyRule {
  const source = entity(f, [...path, 'source'], rule.source);
  const destination = entity(f, [...path, 'destination'], rule.destination);
  const protocol = rule.protocol === undefined ? null : protocolNumber(rule.protocol);
  const notProtocol = rule.notProtocol === undefined ? null : protocolNumber(rule.notProtocol);
  const ipVersion = (rule.ipVersion ?? null) as IpFamily | null;

  // One rule, one address family: CIDRs of both families together can never all match one packet.
  const families = new Map<IpFamily, PathSegment[]>();
  for (const [side, m] of [
    ['source', source],
    ['destination', destination],
  ] as const) {
    for (const field of ['nets', 'notNets'] as const) {
      m[field].forEach((c, i) => {
        if (!families.has(c.family)) families.set(c.family, [...path, side, field, i]);
      });
    }
  }
  if (families.size > 1) {
    f.error(
      families.get(6)!,
      'mixed-ip-families',
      'this rule mixes IPv4 and IPv6 CIDRs; split it into one rule per address family',
    );
  } else if (ipVersion !== null && families.size === 1 && !families.has(ipVersion)) {
    const [fam, at] = [...families][0]!;
    f.error(at, 'ip-version-mismatch', `ipVersion is ${ipVersion} but this CIDR is IPv${fam}`);
  }

  // Numeric ports need a protocol with ports; named ports carry their own protocol.
  const numeric = [
    ...['source', 'destination'].flatMap((side) =>
      (['ports', 'notPorts'] as const).flatMap((field) => {
        const m = side === 'source' ? source : destination;
        return m[field].some((p) => p.kind === 'range') ? [[...path, side, field] as PathSegment[]] : [];
      }),
    ),
  ];
  if (numeric.length > 0 && (protocol === null || !PORT_PROTOCOLS.has(protocol))) {
    const what = protocol === null ? 'no protocol' : `protocol ${String(rule.protocol)}`;
    f.error(
      numeric[0]!,
      'ports-need-protocol',
      `port numbers need protocol TCP, UDP or SCTP, but this rule has ${what}; add e.g. "protocol: TCP"`,
    );
  }

  for (const field of ['icmp', 'notICMP'] as const) {
    const icmp = rule[field];
    if (!icmp) continue;
    if (protocol !== ICMP4 && protocol !== ICMP6) {
      f.error(
        [...path, field],
        'icmp-needs-protocol',
        `${field} needs protocol ICMP or ICMPv6${protocol === null ? '' : `, not ${String(rule.protocol)}`}`,
        true,
      );
    }
    if (icmp.code !== undefined && icmp.type === undefined) {
      f.error([...path, field, 'code'], 'icmp-code-without-type', `${field}.code needs ${field}.type`, true);
    }
  }
  if (ipVersion === 4 && protocol === ICMP6)
    f.error([...path, 'protocol'], 'ip-version-mismatch', 'ICMPv6 needs ipVersion 6 (or no ipVersion)');
  if (ipVersion === 6 && protocol === ICMP4)
    f.error([...path, 'protocol'], 'ip-version-mismatch', 'ICMP is IPv4 only; use ICMPv6 with ipVersion 6');
  if (protocol !== null && notProtocol !== null && protocol === notProtocol) {
    f.error(
      [...path, 'notProtocol'],
      'contradiction',
      'protocol and notProtocol are the same, so the rule can never match',
    );
  }

  return {
    index,
    action: rule.action,
    ipVersion,
    protocol,
    notProtocol,
    icmp: rule.icmp ?? null,
    notICMP: rule.notICMP ?? null,
    source,
    destination,
  };
}

/** Calico's default for `types` when it is not given. */
function defaultTypes(spec: GlobalNetworkPolicy['spec']): Direction[] {
  const hasIn = (spec.ingress?.length ?? 0) > 0,
    hasOut = (spec.egress?.length ?? 0) > 0;
  if (hasOut && !hasIn) return ['egress'];
  if (hasOut && hasIn) return ['ingress', 'egress'];
  return ['ingress'];
}

export function checkPolicy(
  doc: SourceDocument,
  res: GlobalNetworkPolicy,
): { policy: Policy | null; diagnostics: Diagnostic[] } {
  const f = new Findings(doc);
  const spec = res.spec;
  const name = res.metadata.name;
  const doNotTrack = spec.doNotTrack === true;
  if (doNotTrack && spec.preDNAT) {
    f.error(['spec', 'preDNAT'], 'dnt-with-prednat', 'doNotTrack and preDNAT cannot both be true', true);
  }
  if (doNotTrack && spec.applyOnForward !== true) {
    f.error(
      spec.applyOnForward === undefined ? ['spec', 'doNotTrack'] : ['spec', 'applyOnForward'],
      'dnt-needs-apply-on-forward',
      'doNotTrack policies must also set applyOnForward: true (Calico requires it: untracked rules see forwarded traffic too)',
      spec.applyOnForward === undefined,
    );
  }
  const selector = selectorAt(f, ['spec', 'selector'], spec.selector ?? 'all()');
  const types: Direction[] = spec.types
    ? spec.types.map((t) => (t === 'Ingress' ? 'ingress' : 'egress'))
    : defaultTypes(spec);
  for (const dir of ['ingress', 'egress'] as const) {
    if ((spec[dir]?.length ?? 0) > 0 && !types.includes(dir)) {
      f.warning(
        ['spec', dir],
        'rules-ignored-by-types',
        `${dir} rules are ignored because types does not include ${dir === 'ingress' ? 'Ingress' : 'Egress'}`,
      );
    }
  }
  const ingress = (spec.ingress ?? []).map((r, i) => checkRule(f, ['spec', 'ingress', i], r, i));
  const egress = (spec.egress ?? []).map((r, i) => checkRule(f, ['spec', 'egress', i], r, i));
  if (!doNotTrack) {
    f.notice(
      ['metadata', 'name'],
      'not-enforced',
      `policy "${name}" has no doNotTrack: true, so notrack does not enforce it (it is tracked policy, Calico's job)`,
    );
  }
  if (f.hasErrors || !selector) return { policy: null, diagnostics: f.list };
  return {
    policy: { name, order: spec.order ?? null, selector, types, ingress, egress, doNotTrack, source: sourceRef(doc) },
    diagnostics: f.list,
  };
}

export function checkHostEndpoint(
  doc: SourceDocument,
  res: HostEndpointYaml,
): { endpoint: HostEndpoint | null; diagnostics: Diagnostic[] } {
  const f = new Findings(doc);
  const spec = res.spec;
  const iface = spec.interfaceName ?? null;
  if (iface !== null && iface !== '*') {
    if (iface.length > MAX_INTERFACE_NAME) {
      f.error(
        ['spec', 'interfaceName'],
        'interface-name-too-long',
        `interface name "${iface}" is ${iface.length} characters; Linux allows at most ${MAX_INTERFACE_NAME}`,
      );
    } else if (!/^[^\s/:]+$/.test(iface) || iface === '.' || iface === '..') {
      f.error(
        ['spec', 'interfaceName'],
        'invalid-interface-name',
        `interface name "${iface}" is not a valid Linux interface name (no spaces, "/" or ":")`,
      );
    }
  }
  if (iface === null && (spec.expectedIPs?.length ?? 0) === 0) {
    f.error(['spec'], 'endpoint-needs-interface', 'a HostEndpoint needs interfaceName, expectedIPs or both');
  }
  const expectedIPs: Cidr[] = [];
  for (const ip of spec.expectedIPs ?? []) {
    const p = parseIp(ip);
    if (p) expectedIPs.push({ family: p.family, addr: p.addr, prefix: p.family === 4 ? 32 : 128, hostBitsSet: false });
  }
  const seen = new Map<string, number>();
  (spec.ports ?? []).forEach((p, i) => {
    if (seen.has(p.name)) {
      f.error(
        ['spec', 'ports', i, 'name'],
        'duplicate-port-name',
        `port name "${p.name}" is already defined at ports[${seen.get(p.name)}]`,
      );
    }
    seen.set(p.name, i);
  });
  if (f.hasErrors) return { endpoint: null, diagnostics: f.list };
  return {
    endpoint: {
      name: res.metadata.name,
      node: spec.node,
      interfaceName: iface,
      expectedIPs,
      ports: (spec.ports ?? []).map((p) => ({ name: p.name, protocol: protocolNumber(p.protocol), port: p.port })),
      labels: cleanLabels(res.metadata.labels),
      source: sourceRef(doc),
    },
    diagnostics: f.list,
  };
}

export function checkNetworkSet(
  doc: SourceDocument,
  res: GlobalNetworkSet,
): { set: NetworkSet | null; diagnostics: Diagnostic[] } {
  const f = new Findings(doc);
  const scanned = doc.scannedNets?.list;
  if (doc.scannedNets) {
    // Read by the set-file scanner: every net parsed already; only the host-bits warnings are left to give.
    for (const h of doc.scannedNets.hostBits)
      hostBitsWarning(f, ['spec', 'nets', h.index], h.text, doc.scannedNets.list.at(h.index));
  }
  const nets = scanned ? null : cidrs(f, ['spec', 'nets'], res.spec.nets);
  if (f.hasErrors) return { set: null, diagnostics: f.list };
  const set = {
    name: res.metadata.name,
    labels: cleanLabels(res.metadata.labels),
    nets: nets!,
    source: sourceRef(doc),
  };
  if (scanned) {
    // A million Cidr objects are 60-270 MB of heap and a long walk for every collection: the compiler reads the
    // packed list, and `nets` is made from it only for a reader that asks (a plan's resource diff).
    let made: Cidr[] | null = null;
    Object.defineProperty(set, 'nets', { enumerable: true, get: () => (made ??= scanned.toCidrs()) });
    Object.defineProperty(set, 'packedNets', { enumerable: false, value: scanned });
  }
  return { set, diagnostics: f.list };
}

export function checkConfiguration(
  doc: SourceDocument,
  res: NotrackConfiguration,
): { config: ConfigurationOverride | null; diagnostics: Diagnostic[] } {
  const f = new Findings(doc);
  const name = res.metadata.name;
  if (name !== 'default' && !name.startsWith('node.')) {
    f.error(
      ['metadata', 'name'],
      'config-name',
      `NotrackConfiguration must be named "default" (every host) or "node.<host name>" (one host), not "${name}"`,
    );
  }
  const accept = res.spec.acceptMark === undefined ? undefined : markValue(res.spec.acceptMark);
  const pass = res.spec.passMark === undefined ? undefined : markValue(res.spec.passMark);
  if (accept === 0) f.error(['spec', 'acceptMark'], 'invalid-mark', 'acceptMark must have at least one bit set');
  if (pass === 0) f.error(['spec', 'passMark'], 'invalid-mark', 'passMark must have at least one bit set');
  if (accept !== undefined && pass !== undefined && (accept & pass) !== 0) {
    f.error(
      ['spec', 'passMark'],
      'invalid-mark',
      `passMark 0x${pass.toString(16)} overlaps acceptMark 0x${accept.toString(16)}; use separate bits`,
    );
  }
  for (const field of ['failsafeInboundHostPorts', 'failsafeOutboundHostPorts'] as const) {
    (res.spec[field] ?? []).forEach((p, i) => {
      const c = p.net ? parseCidr(p.net) : null;
      if (c?.hostBitsSet)
        f.warning(['spec', field, i, 'net'], 'cidr-host-bits', `${p.net} has host bits set; it means ${formatCidr(c)}`);
    });
  }
  if (f.hasErrors) return { config: null, diagnostics: f.list };
  return { config: { name, settings: configurationSettings(res.spec), source: sourceRef(doc) }, diagnostics: f.list };
}

function cleanLabels(labels: Record<string, string | undefined> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(labels ?? {})) if (v !== undefined) out[k] = v;
  return out;
}

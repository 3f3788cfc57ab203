// The chains and rules notrack wants in the raw and filter tables of one family: pure, from IptablesDesired.
//
// Ingress (the TC hook has already marked packets XDP allowed):
//   raw PREROUTING -> NOTRACK-PREROUTING: marked -> NOTRACK, then ACCEPT. The ACCEPT ends the raw table for the
//     packet: the allow decision was made by policy, so the host's later raw rules (a DROP, a CT zone or helper)
//     must not undo it, the same guarantee the filter table gives; it also spares every accepted packet of a flood
//     the rest of raw. The mark stays on so the filter table can recognise the packet.
//   filter INPUT/FORWARD/OUTPUT -> NOTRACK-<hook>: marked -> NOTRACK-ACCEPT (clear the mark, ACCEPT), so a host
//     policy such as `-P INPUT DROP` with only an ESTABLISHED rule cannot drop an allowed untracked flow, and the
//     mark never leaves the host's netfilter.
// Egress (packets the host sends; XDP has no egress hook):
//   raw OUTPUT -> NOTRACK-OUTPUT: clear notrack's mark bits (only notrack's rules may set them), RETURN failsafe
//     traffic (stays tracked), then `-o <iface> -g NOTRACK-TH-<iface>` per host endpoint (`*` last, no -o); an
//     endpoint without rules of the family gets `-o <iface> -j RETURN`, so `*` never decides another endpoint's packets.
//   NOTRACK-TH-<iface>: `-j NOTRACK-PO-<policy>` per policy in order; after a policy with Pass rules,
//     `pass bit -> -g NOTRACK-PASS-END`, which clears the bit and, being reached by goto, returns straight to
//     raw OUTPUT: Pass ends evaluation for the interface. Falling off the end (no match) also returns there.
//   NOTRACK-PO-<policy>: Allow -> NOTRACK-ALLOW (mark, NOTRACK, ACCEPT; filter OUTPUT then accepts and clears);
//     Deny -> DROP; Pass -> -g NOTRACK-PASS-SET (sets the bit, returns to the interface chain); Log -> LOG, go on.
// Only egress policy rules carry a comment, `notrack:<policy>:<index>`, so counters and logs name the rule. The
// structural rules carry none: iptables-nft runs each `-m comment` as an xtables match on every packet (five of
// them cost an allowed packet about 150 ns), and a rule in a NOTRACK- chain is notrack's by the chain it is in, so
// the drift check compares each chain's whole rule list with this one instead (diff.ts).
import { NotrackError } from '../../errors.js';
import {
  chains,
  CHAIN_PREFIX,
  MAX_CHAIN_NAME,
  hex,
  interfaceChainName,
  logPrefix,
  policyChainName,
  policyRuleComment,
} from './names.js';
import { canonicalCidr } from '../ipset/members.js';
import type {
  DesiredChain,
  DesiredTable,
  EgressPolicy,
  EgressRule,
  Family,
  IptablesDesired,
  MarkBits,
  TableName,
} from './types.js';

/** The desired state handed to the iptables renderer cannot be rendered as it is. */
export class IptablesDesiredError extends NotrackError {
  constructor(message: string) {
    super('iptables-invalid-desired', message);
  }
}

const markMatch = (m: MarkBits): string[] => [
  '-m',
  'mark',
  '--mark',
  m.mask === 0xffffffff ? hex(m.value) : `${hex(m.value)}/${hex(m.mask)}`,
];
const setMark = (value: number, mask: number): string[] => ['-j', 'MARK', '--set-xmark', `${hex(value)}/${hex(mask)}`];

function checkMark(name: string, m: MarkBits): void {
  const ok =
    Number.isInteger(m.value) &&
    Number.isInteger(m.mask) &&
    m.value >= 0 &&
    m.mask > 0 &&
    m.value <= 0xffffffff &&
    m.mask <= 0xffffffff &&
    (m.value & ~m.mask) >>> 0 === 0 &&
    m.value !== 0;
  if (!ok)
    throw new IptablesDesiredError(
      `${name} mark ${hex(m.value)}/${hex(m.mask)} must be a non-zero value inside a 32-bit mask`,
    );
}

const FORBIDDEN_IN_MATCH = new Set([
  '-j',
  '--jump',
  '-g',
  '--goto',
  '-A',
  '-I',
  '-D',
  '-R',
  '-N',
  '-X',
  '-F',
  '-P',
  '--comment',
]);

function checkRule(policy: string, rule: EgressRule): void {
  const where = `policy ${policy} rule ${rule.index}`;
  if (!Number.isInteger(rule.index) || rule.index < 0) {
    throw new IptablesDesiredError(`policy ${policy}: rule index ${rule.index} must be a non-negative integer`);
  }
  if (rule.ipVersion !== undefined && rule.ipVersion !== 4 && rule.ipVersion !== 6) {
    throw new IptablesDesiredError(`${where}: ipVersion ${String(rule.ipVersion)} is not 4 or 6`);
  }
  rule.match.forEach((t, i) => {
    // Addresses must be literal CIDRs of the rule's one family: iptables would look a name up in DNS, and
    // ip6tables cannot load an IPv4 address.
    if (!['-s', '-d', '--source', '--destination', '--src', '--dst'].includes(rule.match[i - 1] ?? '')) return;
    const c = canonicalCidr(t);
    if (!c || t.includes(',')) throw new IptablesDesiredError(`${where}: "${t}" is not one CIDR`);
    if (c.family !== rule.ipVersion)
      throw new IptablesDesiredError(
        `${where}: ${t} is an IPv${c.family} address; set ipVersion: ${c.family} on the rule`,
      );
  });
  for (const t of rule.match) {
    if (FORBIDDEN_IN_MATCH.has(t)) {
      throw new IptablesDesiredError(
        `${where}: match arguments may not contain ${t} (notrack adds the comment and target)`,
      );
    }
    if (t.includes('\n')) throw new IptablesDesiredError(`${where}: a match argument contains a newline`);
  }
}

const VALID_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

function checkDesired(d: IptablesDesired): void {
  checkMark('accept', d.marks.accept);
  checkMark('pass', d.marks.pass);
  if ((d.marks.accept.mask & d.marks.pass.mask) !== 0) {
    throw new IptablesDesiredError(
      `the accept mask ${hex(d.marks.accept.mask)} and pass mask ${hex(d.marks.pass.mask)} overlap`,
    );
  }
  if (!(d.log.rate > 0 && Number.isInteger(d.log.rate) && d.log.burst > 0 && Number.isInteger(d.log.burst))) {
    throw new IptablesDesiredError(`log rate ${d.log.rate}/s and burst ${d.log.burst} must be positive integers`);
  }
  const seen = new Set<string>();
  for (const i of d.egress.interfaces) {
    if (i.iface !== '*' && !/^[^\s/:]{1,15}$/.test(i.iface))
      throw new IptablesDesiredError(`"${i.iface}" is not an interface name`);
    if (seen.has(i.iface)) throw new IptablesDesiredError(`interface ${i.iface} is listed twice`);
    seen.add(i.iface);
    for (const p of i.policies) {
      if (!VALID_NAME.test(p.name))
        throw new IptablesDesiredError(`"${p.name}" is not a policy name notrack can use in a chain name`);
      for (const r of p.rules) checkRule(p.name, r);
    }
  }
  for (const f of [...d.failsafe.inbound, ...d.failsafe.outbound]) {
    if (f.protocol !== 6 && f.protocol !== 17)
      throw new IptablesDesiredError(`failsafe protocol ${f.protocol} is not tcp (6) or udp (17)`);
    if (!(Number.isInteger(f.port) && f.port > 0 && f.port < 65536))
      throw new IptablesDesiredError(`failsafe port ${f.port} is out of range`);
    if (f.net && !canonicalCidr(f.net)) throw new IptablesDesiredError(`failsafe net ${f.net} is not a CIDR`);
  }
}

function policyRules(p: EgressPolicy, family: Family): EgressRule[] {
  return p.rules.filter((r) => r.ipVersion === undefined || r.ipVersion === family);
}

function renderPolicyRule(policy: string, r: EgressRule, d: IptablesDesired): string[] {
  const head = [...r.match, '-m', 'comment', '--comment', policyRuleComment(policy, r.index)];
  switch (r.action) {
    case 'Allow':
      return [...head, '-j', chains.allow];
    case 'Deny':
      return [...head, '-j', 'DROP'];
    case 'Pass':
      return [...head, '-g', chains.passSet];
    case 'Log':
      return [
        ...head,
        '-m',
        'limit',
        '--limit',
        `${d.log.rate}/sec`,
        '--limit-burst',
        String(d.log.burst),
        '-j',
        'LOG',
        '--log-prefix',
        logPrefix(policy, r.index),
      ];
  }
}

function failsafeRules(d: IptablesDesired, family: Family): string[][] {
  const rules: string[][] = [];
  const add = (f: { protocol: number; port: number; net?: string | null }, portOpt: '--sport' | '--dport'): void => {
    const net = f.net ? canonicalCidr(f.net) : null;
    if (net && net.family !== family) return;
    const proto = f.protocol === 6 ? 'tcp' : 'udp';
    rules.push([...(net ? ['-d', net.text] : []), '-p', proto, '-m', proto, portOpt, String(f.port), '-j', 'RETURN']);
  };
  // Replies to inbound failsafe connections leave from the failsafe port; outbound ones go to it.
  for (const f of d.failsafe.inbound) add(f, '--sport');
  for (const f of d.failsafe.outbound) add(f, '--dport');
  return rules;
}

/** The raw and filter tables notrack wants for one family. */
export function desiredTables(d: IptablesDesired, family: Family): Record<TableName, DesiredTable> {
  checkDesired(d);
  const { accept, pass } = d.marks;

  // Egress: only interfaces and policies with rules for this family get chains. An endpoint interface without such
  // rules still gets its dispatch rule (a RETURN) once there are chains: its own endpoint decides its packets, as on
  // ingress, so the host's `*` endpoint must not catch them.
  const endpoints = d.egress.interfaces
    .map((i) => ({ iface: i.iface, policies: i.policies.filter((p) => policyRules(p, family).length > 0) }))
    .sort((a, b) => Number(a.iface === '*') - Number(b.iface === '*'));
  const ifaces = endpoints.filter((i) => i.policies.length > 0);
  const policyChains = new Map<string, DesiredChain & { policy: string }>();
  let anyPass = false;
  for (const i of ifaces) {
    for (const p of i.policies) {
      const name = policyChainName(p.name);
      const rules = policyRules(p, family).map((r) => renderPolicyRule(p.name, r, d));
      if (policyRules(p, family).some((r) => r.action === 'Pass')) anyPass = true;
      const prior = policyChains.get(name);
      if (!prior) {
        policyChains.set(name, { name, policy: p.name, rules });
      } else if (prior.policy !== p.name || JSON.stringify(prior.rules) !== JSON.stringify(rules)) {
        throw new IptablesDesiredError(
          prior.policy !== p.name
            ? `policies ${prior.policy} and ${p.name} both map to chain ${name}`
            : `policy ${p.name} has different egress rules on different interfaces`,
        );
      }
    }
  }

  const rawOutputRules: string[][] = [setMark(0, (accept.mask | pass.mask) >>> 0)];
  if (ifaces.length > 0) rawOutputRules.push(...failsafeRules(d, family));
  const ifaceChains: DesiredChain[] = [];
  for (const i of ifaces.length > 0 ? endpoints : []) {
    const out = i.iface === '*' ? [] : ['-o', i.iface];
    if (i.policies.length === 0) {
      rawOutputRules.push([...out, '-j', 'RETURN']);
      continue;
    }
    const chain = interfaceChainName(i.iface);
    rawOutputRules.push([...out, '-g', chain]);
    const rules: string[][] = [];
    for (const p of i.policies) {
      rules.push(['-j', policyChainName(p.name)]);
      if (policyRules(p, family).some((r) => r.action === 'Pass')) {
        rules.push([...markMatch(pass), '-g', chains.passEnd]);
      }
    }
    ifaceChains.push({ name: chain, rules });
  }

  const raw: DesiredTable = {
    chains: [
      {
        name: chains.prerouting,
        rules: [
          [...markMatch(accept), '-j', 'NOTRACK'],
          [...markMatch(accept), '-j', 'ACCEPT'],
        ],
      },
      { name: chains.rawOutput, rules: rawOutputRules },
      ...ifaceChains,
      ...[...policyChains.values()].map(({ name, rules }) => ({ name, rules })),
    ],
    jumps: [
      { from: 'PREROUTING', to: chains.prerouting },
      { from: 'OUTPUT', to: chains.rawOutput },
    ],
  };
  if (ifaces.length > 0) {
    raw.chains.push({
      name: chains.allow,
      rules: [setMark(accept.value, accept.mask), ['-j', 'NOTRACK'], ['-j', 'ACCEPT']],
    });
  }
  if (anyPass) {
    raw.chains.push(
      { name: chains.passSet, rules: [setMark(pass.value, pass.mask)] },
      { name: chains.passEnd, rules: [setMark(0, pass.mask)] },
    );
  }

  const acceptMarked = [[...markMatch(accept), '-j', chains.accept]];
  const filter: DesiredTable = {
    chains: [
      { name: chains.input, rules: acceptMarked },
      { name: chains.forward, rules: acceptMarked },
      { name: chains.filterOutput, rules: acceptMarked },
      {
        name: chains.accept,
        rules: [setMark(0, accept.mask), ['-j', 'ACCEPT']],
      },
    ],
    jumps: [
      { from: 'INPUT', to: chains.input },
      { from: 'FORWARD', to: chains.forward },
      { from: 'OUTPUT', to: chains.filterOutput },
    ],
  };

  for (const t of [raw, filter]) {
    for (const c of t.chains) {
      if (!c.name.startsWith(CHAIN_PREFIX) || c.name.length > MAX_CHAIN_NAME)
        throw new Error(`bad chain name ${c.name}`);
    }
  }
  return { raw, filter };
}

// Rule text: splitting iptables-save lines into argv tokens, quoting tokens for iptables-restore, and the canonical
// form both desired and read-back rules are reduced to before they are compared.
import { canonicalCidr } from '../ipset/members.js';

/** Splits a rule the way iptables-restore does: whitespace separates, double quotes group, `\"` escapes a quote. */
export function tokenizeRule(text: string): string[] {
  const out: string[] = [];
  let cur = '';
  let inToken = false;
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '\\' && (text[i + 1] === '"' || text[i + 1] === '\\')) {
        cur += text[i + 1];
        i++;
        continue;
      }
      if (ch === '"') {
        quoted = false;
        continue;
      }
      cur += ch;
      continue;
    }
    if (ch === '"') {
      quoted = true;
      inToken = true;
      continue;
    }
    if (ch === ' ' || ch === '\t') {
      if (inToken) {
        out.push(cur);
        cur = '';
        inToken = false;
      }
      continue;
    }
    cur += ch;
    inToken = true;
  }
  if (quoted) throw new Error(`unterminated quote in rule: ${text}`);
  if (inToken) out.push(cur);
  return out;
}

/** Options whose value iptables-save always prints in quotes; quoting them too keeps rendered text familiar. */
const QUOTED_VALUES = new Set(['--comment', '--log-prefix']);

/** Joins argv tokens into one restore line, quoting what needs it. */
export function ruleText(tokens: readonly string[]): string {
  return tokens
    .map((t, i) => {
      const needs = t === '' || /[\s"\\']/.test(t) || QUOTED_VALUES.has(tokens[i - 1] ?? '');
      return needs ? `"${t.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"` : t;
    })
    .join(' ');
}

const LONG: Record<string, string> = {
  '--source': '-s',
  '--src': '-s',
  '--destination': '-d',
  '--dst': '-d',
  '--in-interface': '-i',
  '--out-interface': '-o',
  '--protocol': '-p',
  '--fragment': '-f',
  '--match': '-m',
  '--jump': '-j',
  '--goto': '-g',
};
const BASIC = ['-s', '-d', '-i', '-o', '-p', '-f'] as const;
type Basic = (typeof BASIC)[number];

/** Protocol names iptables prints, by number; the canonical form compares numbers. */
const PROTOCOLS: Record<string, number> = {
  all: 0,
  icmp: 1,
  igmp: 2,
  tcp: 6,
  udp: 17,
  gre: 47,
  esp: 50,
  ah: 51,
  icmpv6: 58,
  'ipv6-icmp': 58,
  sctp: 132,
  udplite: 136,
  'ipv6-mh': 135,
  mh: 135,
};
/** The match module iptables loads implicitly for options after `-p <proto>`. */
const IMPLICIT_MATCH: Record<number, string> = { 1: 'icmp', 6: 'tcp', 17: 'udp', 58: 'icmp6', 132: 'sctp' };

function protocolNumber(p: string): string {
  const lower = p.toLowerCase();
  if (/^[0-9]+$/.test(lower)) return String(Number(lower));
  const n = PROTOCOLS[lower];
  return n === undefined ? lower : String(n);
}

interface Match {
  name: string;
  args: string[];
}

/** Port options of tcp/udp/sctp: iptables-save prints source before destination whatever order they came in. */
const PORT_ALIASES: Record<string, string> = {
  '--source-port': '--sport',
  '--destination-port': '--dport',
  '--sport': '--sport',
  '--dport': '--dport',
};

/** A mark or mark/mask as iptables prints it: lower-case hex without leading zeros. */
function hexMark(text: string, keepFullMask: boolean): string {
  const [v, m] = text.split('/');
  const num = (x: string): number | undefined => (/^(0x[0-9a-f]+|[0-9]+)$/i.test(x) ? Number(x) >>> 0 : undefined);
  const value = num(v ?? '');
  const mask = m === undefined ? 0xffffffff : num(m);
  if (value === undefined || mask === undefined) return text;
  const h = (n: number): string => `0x${n.toString(16)}`;
  return mask === 0xffffffff && !keepFullMask ? h(value) : `${h(value)}/${h(mask)}`;
}

function normaliseMatch(m: Match): Match {
  if (m.name === 'tcp' || m.name === 'udp' || m.name === 'sctp') {
    // Option groups (an optional "!", the option, its values), ports first: iptables prints sport, then dport.
    const groups: string[][] = [];
    for (const t of m.args) {
      const last = groups[groups.length - 1];
      if (t === '!') groups.push(['!']);
      else if (t.startsWith('--')) {
        const opt = PORT_ALIASES[t] ?? t;
        if (last && last.length === 1 && last[0] === '!') last.push(opt);
        else groups.push([opt]);
      } else if (last) last.push(t);
      else groups.push([t]);
    }
    const rank = (g: string[]): number => {
      const opt = g[0] === '!' ? g[1] : g[0];
      return opt === '--sport' ? 0 : opt === '--dport' ? 1 : 2;
    };
    groups.sort((a, b) => rank(a) - rank(b));
    return { name: m.name, args: groups.flat() };
  }
  if (m.name === 'limit') {
    const args: string[] = [];
    for (let i = 0; i < m.args.length; i++) {
      const t = m.args[i]!;
      if (t === '--limit' && m.args[i + 1]) {
        const [n, unit] = m.args[i + 1]!.split('/');
        const u = (unit ?? 'hour').toLowerCase();
        const canon = u.startsWith('s') ? 'sec' : u.startsWith('m') ? 'min' : u.startsWith('h') ? 'hour' : 'day';
        args.push(t, `${n}/${canon}`);
        i++;
      } else if (t === '--limit-burst' && m.args[i + 1] === '5') {
        i++; // the default, which iptables-save leaves out
      } else {
        args.push(t);
      }
    }
    return { name: m.name, args };
  }
  if (m.name === 'mark') {
    return { name: m.name, args: m.args.map((t, i) => (m.args[i - 1] === '--mark' ? hexMark(t, false) : t)) };
  }
  return m;
}

function normaliseTarget(target: string[]): string[] {
  if (target[1] !== 'MARK') return target;
  return target.map((t, i) => (target[i - 1] === '--set-xmark' ? hexMark(t, true) : t));
}

/**
 * The canonical token list of a rule: the address, interface and protocol options first (in iptables-save's
 * order), addresses as CIDRs, protocols by number, implicit protocol matches made explicit, then the matches in
 * their given order, then the target. Two rules the kernel holds identically reduce to the same list.
 */
export function canonicalRule(tokens: readonly string[]): string[] {
  const basics = new Map<Basic, { neg: boolean; value: string | undefined }>();
  const matches: Match[] = [];
  let target: string[] = [];
  let current: Match | undefined;
  let inTarget = false;
  for (let i = 0; i < tokens.length; i++) {
    let t = LONG[tokens[i]!] ?? tokens[i]!;
    let neg = false;
    if (t === '!' && (BASIC as readonly string[]).includes(LONG[tokens[i + 1] ?? ''] ?? tokens[i + 1] ?? '')) {
      neg = true;
      i++;
      t = LONG[tokens[i]!] ?? tokens[i]!;
    }
    if ((BASIC as readonly string[]).includes(t)) {
      const b = t as Basic;
      let value: string | undefined;
      if (b !== '-f') {
        value = tokens[i + 1];
        i++;
      }
      if (value !== undefined && (b === '-s' || b === '-d')) value = canonicalCidr(value)?.text ?? value;
      if (value !== undefined && b === '-p') value = protocolNumber(value);
      basics.set(b, { neg, value });
      continue;
    }
    if (t === '-m') {
      current = { name: tokens[i + 1] ?? '', args: [] };
      matches.push(current);
      inTarget = false;
      i++;
      continue;
    }
    if (t === '-j' || t === '-g') {
      target = [t, tokens[i + 1] ?? ''];
      inTarget = true;
      i++;
      continue;
    }
    if (inTarget) {
      target.push(t);
      continue;
    }
    if (!current) {
      // An option before any -m belongs to the protocol's match, which iptables loads without being asked.
      const proto = Number(basics.get('-p')?.value);
      current = { name: IMPLICIT_MATCH[proto] ?? `proto-${proto}`, args: [] };
      matches.push(current);
    }
    current.args.push(t);
  }
  const out: string[] = [];
  for (const b of BASIC) {
    const v = basics.get(b);
    if (!v) continue;
    if (v.neg) out.push('!');
    out.push(b);
    if (v.value !== undefined) out.push(v.value);
  }
  for (const m of matches.map(normaliseMatch)) out.push('-m', m.name, ...m.args);
  out.push(...normaliseTarget(target));
  return out;
}

/** True when two rules are the same rule to the kernel. */
export function sameRule(a: readonly string[], b: readonly string[]): boolean {
  const ca = canonicalRule(a);
  const cb = canonicalRule(b);
  return ca.length === cb.length && ca.every((t, i) => t === cb[i]);
}

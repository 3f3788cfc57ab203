// Canonical JSON of a DesiredState (sorted keys, no spacing) and the content hash that names it.
import { createHash } from 'node:crypto';
import type { DesiredState, IngressEntry, PortRange, RuleRef, SideMatch } from './desired-state.js';
import { PackedPrefixSet } from './prefix-set.js';

/**
 * JSON with object keys sorted by code unit at every level and undefined fields left out: equal values give equal
 * text on every machine, whatever order the fields were built in.
 */
function canonicalJson(value: unknown, setsByDigest: boolean): string {
  const parts: string[] = [];
  write(value, parts, setsByDigest);
  return parts.join('');
}

/** Where the text goes: an array to join, or the hash. */
interface Sink {
  push(text: string): void;
}

/**
 * Feeds the text to a sha256 in chunks of ~64 KiB as it is written: no array of hundreds of thousands of pieces to
 * join, and no copy of the whole text (10,000 rules' entries are a few MB of it).
 */
class HashSink implements Sink {
  readonly #hash = createHash('sha256');
  #pending = '';
  push(text: string): void {
    this.#pending += text;
    if (this.#pending.length >= 65536) {
      this.#hash.update(this.#pending);
      this.#pending = '';
    }
  }
  digest(): string {
    return this.#hash.update(this.#pending).digest('hex');
  }
}

/** The JSON text of frozen string arrays already written, by identity. */
const stringLists = new WeakMap<readonly unknown[], string>();
/** The canonical JSON text of frozen objects already written, by identity (per form: sets by digest or in full). */
const frozenObjects = { digest: new WeakMap<object, string>(), full: new WeakMap<object, string>() };

/** `"key":` by key: a state has a few dozen distinct keys. */
const keyTexts = new Map<string, string>();

function sortedKeys(keys: readonly string[]): boolean {
  for (let i = 1; i < keys.length; i++) if (keys[i - 1]! > keys[i]!) return false;
  return true;
}

/**
 * Texts the caller made already for some objects of the value (by identity): compileHost writes each interface's
 * entries and counters from per-rule texts as it builds them, so the hash does not walk 10,000 entries again.
 */
type KnownTexts = ReadonlyMap<object, string> | null;

function write(value: unknown, out: Sink, setsByDigest: boolean, known: KnownTexts = null): void {
  if (value === null || typeof value !== 'object') {
    out.push(JSON.stringify(value) ?? 'null');
    return;
  }
  if (known !== null) {
    const text = known.get(value);
    if (text !== undefined) {
      out.push(text);
      return;
    }
  }
  if (Array.isArray(value)) {
    // Lists of strings (a set's prefixes) are the bulk of a state: one stringify each is much faster, and a set's
    // (frozen) list is one array shared by every host of a fleet compilation, so its text is made once.
    let text = stringLists.get(value);
    if (text === undefined && value.every((v) => typeof v === 'string')) {
      text = JSON.stringify(value);
      if (Object.isFrozen(value)) stringLists.set(value, text);
    }
    if (text !== undefined) {
      out.push(text);
      return;
    }
    out.push('[');
    value.forEach((v, i) => {
      if (i) out.push(',');
      write(v === undefined ? null : v, out, setsByDigest, known);
    });
    out.push(']');
    return;
  }
  // In the hash, a packed set stands by the sha256 of its members (made from the packed form, no text per prefix)
  // beside its id, family and origin; in the serialisation, as a plain set with its prefixes.
  if (value instanceof PackedPrefixSet) {
    if (!setsByDigest) {
      const { id, family, origin, prefixes } = value;
      write({ id, family, origin, prefixes }, out, false);
      return;
    }
    out.push(setDigestText(value));
    return;
  }
  // Frozen objects (prefix sets, entry sides) are shared by every host of a fleet compilation: written once.
  const obj = value as Record<string, unknown>;
  if (!Object.isFrozen(value)) {
    writeObject(obj, out, setsByDigest, known);
    return;
  }
  const cache = frozenObjects[setsByDigest ? 'digest' : 'full'];
  let cached = cache.get(value);
  if (cached === undefined) {
    const parts: string[] = [];
    writeObject(obj, parts, setsByDigest);
    cached = parts.join('');
    cache.set(value, cached);
  }
  out.push(cached);
}

function writeObject(obj: Record<string, unknown>, out: Sink, setsByDigest: boolean, known: KnownTexts = null): void {
  // Hundreds of thousands of small objects (10,000 rules' entries): keys sorted only when they are not already, and
  // each key's text made once.
  const keys = Object.keys(obj);
  if (!sortedKeys(keys)) keys.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  out.push('{');
  let first = true;
  for (const k of keys) {
    const v = obj[k];
    if (v === undefined) continue;
    if (!first) out.push(',');
    first = false;
    let text = keyTexts.get(k);
    if (text === undefined) {
      text = `${JSON.stringify(k)}:`;
      keyTexts.set(k, text);
    }
    out.push(text);
    write(v, out, setsByDigest, known);
  }
  out.push('}');
}

/** A compiled set in the hash: its members by their sha256, beside its id, family and origin. */
export function setDigestText(set: PackedPrefixSet): string {
  return `{"digest":"${set.digest}","family":${set.family},"id":${JSON.stringify(set.id)},"origin":${JSON.stringify(set.origin)}}`;
}

/** The canonical JSON of a value (sets by digest, as in the hash): the pieces a caller hands desiredStateHash. */
export function canonicalText(value: unknown): string {
  return canonicalJson(value, true);
}

/** A side of an entry, when it has exactly the fields of a SideMatch; null for anything else. */
function sideText(side: SideMatch): string | null {
  if (Object.keys(side).length !== 4) return null;
  const { inSets, notInSets, ports, notPorts } = side;
  if (!isStrings(inSets) || !isStrings(notInSets) || !Array.isArray(ports) || !Array.isArray(notPorts)) return null;
  const range = (list: PortRange[]): string => (list.length === 0 ? '[]' : canonicalText(list));
  return `{"inSets":${JSON.stringify(inSets)},"notInSets":${JSON.stringify(notInSets)},"notPorts":${range(notPorts)},"ports":${range(ports)}}`;
}

function isStrings(list: unknown): list is string[] {
  if (!Array.isArray(list)) return false;
  for (const x of list) if (typeof x !== 'string') return false;
  return true;
}

const nullOrNumber = (v: unknown): boolean => v === null || typeof v === 'number';

/**
 * The canonical JSON of an ingress entry without its counter, as the texts before and after the counter: the same
 * text canonicalTextAround gives, written field by field for an entry of exactly IngressEntry's fields (10,000 rules'
 * entries are most of a state), and by canonicalTextAround for anything else.
 */
export function entryTextAround(entry: Omit<IngressEntry, 'counter'>): [before: string, after: string] {
  const { action, protocol, notProtocol, icmp, notICMP, source, destination } = entry;
  const sides =
    Object.keys(entry).length === 7 &&
    typeof action === 'string' &&
    nullOrNumber(protocol) &&
    nullOrNumber(notProtocol) &&
    icmp !== undefined &&
    notICMP !== undefined &&
    typeof source === 'object' &&
    typeof destination === 'object' &&
    source !== null &&
    destination !== null
      ? [sideText(source), sideText(destination)]
      : [null, null];
  if (sides[0] === null || sides[1] === null) return canonicalTextAround(entry, 'counter');
  const icmpText = (v: object | null): string => (v === null ? 'null' : canonicalText(v));
  return [
    `{"action":${JSON.stringify(action)},"counter":`,
    `,"destination":${sides[1]},"icmp":${icmpText(icmp)},"notICMP":${icmpText(notICMP)},` +
      `"notProtocol":${JSON.stringify(notProtocol)},"protocol":${JSON.stringify(protocol)},"source":${sides[0]}}`,
  ];
}

/** The canonical JSON of a rule reference (a counter). */
export function ruleRefText(ref: RuleRef): string {
  const { policy, direction, index } = ref;
  if (
    Object.keys(ref).length !== 3 ||
    typeof policy !== 'string' ||
    typeof direction !== 'string' ||
    typeof index !== 'number'
  )
    return canonicalText(ref);
  return `{"direction":${JSON.stringify(direction)},"index":${index},"policy":${JSON.stringify(policy)}}`;
}

/**
 * The canonical JSON of `obj` with one more number field `key`, as the two texts around that number: an entry's
 * text made once per rule, with each interface's counter written between them.
 */
export function canonicalTextAround(obj: object, key: string): [before: string, after: string] {
  const before: Record<string, unknown> = {};
  const after: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) if (k !== key) (k < key ? before : after)[k] = v;
  const inner = (o: Record<string, unknown>): string => canonicalText(o).slice(1, -1);
  const b = inner(before);
  const a = inner(after);
  return [`{${b}${b ? ',' : ''}${JSON.stringify(key)}:`, `${a ? ',' : ''}${a}}`];
}

/**
 * sha256 (hex) of the canonical JSON of everything in the state but `hash`, where each compiled set's prefixes are
 * replaced by their sha256 (`digest`): the same content gives the same hash, without the text of a million prefixes.
 * `known` gives the canonical text of some of the state's objects and arrays, by identity (see KnownTexts).
 */
export function desiredStateHash(
  state: Omit<DesiredState, 'hash'> | DesiredState,
  known: ReadonlyMap<object, string> | null = null,
): string {
  const { hash: _ignored, ...rest } = state as DesiredState;
  const sink = new HashSink();
  write(rest, sink, true, known);
  return sink.digest();
}

/** The canonical text of a state, hash included, every set with its prefixes: to compare and print byte for byte. */
export function serializeDesiredState(state: DesiredState): string {
  return canonicalJson(state, false);
}

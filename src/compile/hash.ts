// Canonical JSON of a DesiredState (sorted keys, no spacing) and the content hash that names it.
import { createHash } from 'node:crypto';
import type { DesiredState, IngressEntry, InterfaceState, PortRange, RuleRef, SideMatch } from './desired-state.js';
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

/** `"key":` by key: a state has a few dozen distinct field names; set ids (keys of `sets`) would grow it in a
 *  long-running agent, one per set ever compiled, so it stops taking new keys at KEY_TEXTS_MAX. */
const keyTexts = new Map<string, string>();
const KEY_TEXTS_MAX = 512;

function sortedKeys(keys: readonly string[]): boolean {
  for (let i = 1; i < keys.length; i++) if (keys[i - 1]! > keys[i]!) return false;
  return true;
}

function write(value: unknown, out: Sink, setsByDigest: boolean): void {
  if (value === null || typeof value !== 'object') {
    out.push(JSON.stringify(value) ?? 'null');
    return;
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
      write(v === undefined ? null : v, out, setsByDigest);
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
    writeObject(obj, out, setsByDigest);
    return;
  }
  const cache = frozenObjects[setsByDigest ? 'digest' : 'full'];
  let known = cache.get(value);
  if (known === undefined) {
    const parts: string[] = [];
    writeObject(obj, parts, setsByDigest);
    known = parts.join('');
    cache.set(value, known);
  }
  out.push(known);
}

function writeObject(obj: Record<string, unknown>, out: Sink, setsByDigest: boolean): void {
  writeFields(obj, out, (_, v) => write(v, out, setsByDigest));
}

/** `"key":`, made once per key: a state has a few dozen distinct keys besides its set ids. */
function keyText(k: string): string {
  let text = keyTexts.get(k);
  if (text === undefined) {
    text = `${JSON.stringify(k)}:`;
    if (keyTexts.size < KEY_TEXTS_MAX) keyTexts.set(k, text);
  }
  return text;
}

/**
 * An object's defined fields in key order, each value written by `value`. Hundreds of thousands of small objects
 * (10,000 rules' entries) come here when they are not of a shape the writers below know: keys are sorted only when
 * they are not already.
 */
function writeFields(
  obj: Record<string, unknown>,
  out: Sink,
  value: (key: string, v: unknown) => void,
  keyOf: (key: string) => string = keyText,
): void {
  const keys = Object.keys(obj);
  if (!sortedKeys(keys)) keys.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  out.push('{');
  let first = true;
  for (const k of keys) {
    const v = obj[k];
    if (v === undefined) continue;
    if (!first) out.push(',');
    first = false;
    out.push(keyOf(k));
    value(k, v);
  }
  out.push('}');
}

/** A compiled set in the hash: its members by their sha256, beside its id, family and origin. */
function setDigestText(set: PackedPrefixSet): string {
  return `{"digest":"${set.digest}","family":${set.family},"id":${JSON.stringify(set.id)},"origin":${JSON.stringify(set.origin)}}`;
}

// The bulk of a state is its entries (10,000 rules: 10,000 entries of two sides each), its counters and its sets:
// the writers below give each of them its canonical text in one template, field by field, when it has exactly the
// fields of its type, and return null for anything else, which the generic writer then takes. Their texts are the
// generic writer's, byte for byte (test/compile/compile-identity.test.ts, test/compile/state-hash.test.ts).

const isStrings = (list: unknown): list is string[] => Array.isArray(list) && list.every((x) => typeof x === 'string');
const nullOrNumber = (v: unknown): boolean => v === null || typeof v === 'number';

function rangesText(list: readonly PortRange[]): string {
  return list.length === 0 ? '[]' : canonicalJson(list, true);
}

function sideText(side: SideMatch): string | null {
  if (typeof side !== 'object' || side === null || Object.keys(side).length !== 4) return null;
  const { inSets, notInSets, ports, notPorts } = side;
  if (!isStrings(inSets) || !isStrings(notInSets) || !Array.isArray(ports) || !Array.isArray(notPorts)) return null;
  return (
    `{"inSets":${JSON.stringify(inSets)},"notInSets":${JSON.stringify(notInSets)},` +
    `"notPorts":${rangesText(notPorts)},"ports":${rangesText(ports)}}`
  );
}

function entryText(entry: IngressEntry): string | null {
  if (typeof entry !== 'object' || entry === null || Object.keys(entry).length !== 8) return null;
  const { counter, action, protocol, notProtocol, icmp, notICMP, source, destination } = entry;
  if (!Number.isSafeInteger(counter) || typeof action !== 'string') return null;
  if (!nullOrNumber(protocol) || !nullOrNumber(notProtocol) || icmp === undefined || notICMP === undefined) return null;
  const src = sideText(source);
  const dst = sideText(destination);
  if (src === null || dst === null) return null;
  const icmpText = (v: object | null): string => (v === null ? 'null' : canonicalJson(v, true));
  return (
    `{"action":${JSON.stringify(action)},"counter":${counter},"destination":${dst},"icmp":${icmpText(icmp)},` +
    `"notICMP":${icmpText(notICMP)},"notProtocol":${JSON.stringify(notProtocol)},` +
    `"protocol":${JSON.stringify(protocol)},"source":${src}}`
  );
}

function ruleRefText(ref: RuleRef): string | null {
  if (typeof ref !== 'object' || ref === null || Object.keys(ref).length !== 3) return null;
  const { policy, direction, index } = ref;
  if (typeof policy !== 'string' || typeof direction !== 'string' || !Number.isSafeInteger(index)) return null;
  return `{"direction":${JSON.stringify(direction)},"index":${index},"policy":${JSON.stringify(policy)}}`;
}

/** A list whose items one of the writers above takes (any it does not, the generic writer does). */
function writeList<T>(list: readonly T[], itemText: (item: T) => string | null, out: Sink): void {
  out.push('[');
  for (let i = 0; i < list.length; i++) {
    if (i) out.push(',');
    const item = list[i];
    const text = item === undefined ? 'null' : itemText(item);
    if (text === null) write(item, out, true);
    else out.push(text);
  }
  out.push(']');
}

function writeInterface(iface: InterfaceState, out: Sink): void {
  const { name, endpoint, ingress, counters } = iface ?? {};
  if (
    typeof iface !== 'object' ||
    iface === null ||
    Object.keys(iface).length !== 4 ||
    typeof name !== 'string' ||
    typeof endpoint !== 'string' ||
    !Array.isArray(counters) ||
    typeof ingress !== 'object' ||
    ingress === null ||
    Object.keys(ingress).length !== 2 ||
    !Array.isArray(ingress.v4) ||
    !Array.isArray(ingress.v6)
  ) {
    write(iface, out, true);
    return;
  }
  out.push('{"counters":');
  writeList(counters, ruleRefText, out);
  out.push(`,"endpoint":${JSON.stringify(endpoint)},"ingress":{"v4":`);
  writeList(ingress.v4, entryText, out);
  out.push(',"v6":');
  writeList(ingress.v6, entryText, out);
  out.push(`},"name":${JSON.stringify(name)}}`);
}

/** The state's set record: ids in order, each compiled set by its digest text (ids are not kept as key texts). */
function writeSets(sets: Record<string, unknown>, out: Sink): void {
  writeFields(
    sets,
    out,
    (_, set) => (set instanceof PackedPrefixSet ? out.push(setDigestText(set)) : write(set, out, true)),
    (id) => `${JSON.stringify(id)}:`,
  );
}

/**
 * sha256 (hex) of the canonical JSON of everything in the state but `hash`, where each compiled set's prefixes are
 * replaced by their sha256 (`digest`): the same content gives the same hash, without the text of a million prefixes.
 */
export function desiredStateHash(state: Omit<DesiredState, 'hash'> | DesiredState): string {
  const { hash: _ignored, ...rest } = state as DesiredState;
  const sink = new HashSink();
  writeFields(rest as unknown as Record<string, unknown>, sink, (k, v) => {
    if (k === 'interfaces' && Array.isArray(v)) {
      sink.push('[');
      (v as (InterfaceState | undefined)[]).forEach((iface, i) => {
        if (i) sink.push(',');
        if (iface === undefined) sink.push('null');
        else writeInterface(iface, sink);
      });
      sink.push(']');
    } else if (k === 'sets' && typeof v === 'object' && v !== null && !Array.isArray(v)) {
      writeSets(v as Record<string, unknown>, sink);
    } else write(v, sink, true);
  });
  return sink.digest();
}

/** The canonical JSON of a value with compiled sets by digest, by the generic writer alone: what the hash covers. */
export function canonicalHashText(value: unknown): string {
  return canonicalJson(value, true);
}

/** The canonical text of a state, hash included, every set with its prefixes: to compare and print byte for byte. */
export function serializeDesiredState(state: DesiredState): string {
  return canonicalJson(state, false);
}

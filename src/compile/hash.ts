// Canonical JSON of a DesiredState (sorted keys, no spacing) and the content hash that names it.
import { createHash } from 'node:crypto';
import type { DesiredState } from './desired-state.js';
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
    out.push(
      `{"digest":"${value.digest}","family":${value.family},"id":${JSON.stringify(value.id)},"origin":${JSON.stringify(value.origin)}}`,
    );
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
    write(v, out, setsByDigest);
  }
  out.push('}');
}

/**
 * sha256 (hex) of the canonical JSON of everything in the state but `hash`, where each compiled set's prefixes are
 * replaced by their sha256 (`digest`): the same content gives the same hash, without the text of a million prefixes.
 */
export function desiredStateHash(state: Omit<DesiredState, 'hash'> | DesiredState): string {
  const { hash: _ignored, ...rest } = state as DesiredState;
  const sink = new HashSink();
  write(rest, sink, true);
  return sink.digest();
}

/** The canonical text of a state, hash included, every set with its prefixes: to compare and print byte for byte. */
export function serializeDesiredState(state: DesiredState): string {
  return canonicalJson(state, false);
}

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

/** The JSON text of frozen string arrays already written, by identity. */
const stringLists = new WeakMap<readonly unknown[], string>();
/** The canonical JSON text of frozen objects already written, by identity (per form: sets by digest or in full). */
const frozenObjects = { digest: new WeakMap<object, string>(), full: new WeakMap<object, string>() };

function write(value: unknown, out: string[], setsByDigest: boolean): void {
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
  const frozen = Object.isFrozen(value);
  if (frozen) {
    const known = frozenObjects[setsByDigest ? 'digest' : 'full'].get(value);
    if (known !== undefined) {
      out.push(known);
      return;
    }
  }
  const obj = value as Record<string, unknown>;
  const start = out.length;
  const keys = Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  out.push('{');
  keys.forEach((k, i) => {
    if (i) out.push(',');
    out.push(JSON.stringify(k), ':');
    write(obj[k], out, setsByDigest);
  });
  out.push('}');
  if (frozen) frozenObjects[setsByDigest ? 'digest' : 'full'].set(value, out.slice(start).join(''));
}

/**
 * sha256 (hex) of the canonical JSON of everything in the state but `hash`, where each compiled set's prefixes are
 * replaced by their sha256 (`digest`): the same content gives the same hash, without the text of a million prefixes.
 */
export function desiredStateHash(state: Omit<DesiredState, 'hash'> | DesiredState): string {
  return createHash('sha256').update(hashedText(state)).digest('hex');
}

/** The canonical text of a state, hash included, every set with its prefixes: to compare and print byte for byte. */
export function serializeDesiredState(state: DesiredState): string {
  return canonicalJson(state, false);
}

/** The canonical text the hash is taken over (sets by digest). */
export function hashedText(state: Omit<DesiredState, 'hash'> | DesiredState): string {
  const { hash: _ignored, ...rest } = state as DesiredState;
  return canonicalJson(rest, true);
}

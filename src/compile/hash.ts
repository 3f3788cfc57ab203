// Canonical JSON of a DesiredState (sorted keys, no spacing) and the content hash that names it.
import { createHash } from 'node:crypto';
import type { DesiredState } from './desired-state.js';

/**
 * JSON with object keys sorted by code unit at every level and undefined fields left out: equal values give equal
 * text on every machine, whatever order the fields were built in.
 */
function canonicalJson(value: unknown): string {
  const parts: string[] = [];
  write(value, parts);
  return parts.join('');
}

/** The JSON text of frozen string arrays already written, by identity. */
const stringLists = new WeakMap<readonly unknown[], string>();
/** The canonical JSON text of frozen objects already written, by identity. */
const frozenObjects = new WeakMap<object, string>();

function write(value: unknown, out: string[]): void {
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
      write(v === undefined ? null : v, out);
    });
    out.push(']');
    return;
  }
  // Frozen objects (prefix sets, entry sides) are shared by every host of a fleet compilation: written once.
  const frozen = Object.isFrozen(value);
  if (frozen) {
    const known = frozenObjects.get(value);
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
    write(obj[k], out);
  });
  out.push('}');
  if (frozen) frozenObjects.set(value, out.slice(start).join(''));
}

/** sha256 (hex) of the canonical JSON of everything in the state but `hash`. */
export function desiredStateHash(state: Omit<DesiredState, 'hash'> | DesiredState): string {
  const { hash: _ignored, ...rest } = state as DesiredState;
  return createHash('sha256').update(canonicalJson(rest)).digest('hex');
}

/** The canonical text of a state, hash included: what is stored, compared and printed byte for byte. */
export function serializeDesiredState(state: DesiredState): string {
  return canonicalJson(state);
}

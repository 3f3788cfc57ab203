// Names of notrack's ipsets and of the temporary sets they are filled under, within ipset's 31-character limit.
import { createHash } from 'node:crypto';

/** ipset names hold at most 31 characters. */
export const MAX_SET_NAME = 31;
export const SET_PREFIX = 'notrack-';
/** Temporary sets end with this; desired names may not. */
export const TMP_SUFFIX = '-tmp';

const hash8 = (text: string): string => createHash('sha256').update(text).digest('hex').slice(0, 8);

/**
 * The set name for `label`: `notrack-<label>`, or, when that is too long, as much of the label as fits and
 * `_<hash of the label>` (names stay unique and stable across runs).
 */
export function ipsetName(label: string): string {
  const whole = SET_PREFIX + label;
  if (whole.length <= MAX_SET_NAME) return whole;
  return `${SET_PREFIX}${label.slice(0, MAX_SET_NAME - SET_PREFIX.length - 9)}_${hash8(label)}`;
}

/** The temporary set a new generation of `name` is filled under before the swap. */
export function tmpSetName(name: string): string {
  if (name.length + TMP_SUFFIX.length <= MAX_SET_NAME) return name + TMP_SUFFIX;
  return `${name.slice(0, MAX_SET_NAME - TMP_SUFFIX.length - 9)}_${hash8(name)}${TMP_SUFFIX}`;
}

/** True for a temporary set of notrack's. */
export function isTmpSetName(name: string): boolean {
  return name.startsWith(SET_PREFIX) && name.endsWith(TMP_SUFFIX);
}

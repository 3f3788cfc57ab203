// The PrefixSet a compile makes: members packed (packed-prefixes.ts), canonical text made only for readers that ask.
import type { IpFamily } from '../net/cidr.js';
import { NotrackError } from '../errors.js';
import type { PrefixSet } from './desired-state.js';
import {
  decodePacked,
  encodePacked,
  packedDigest,
  packedTexts,
  packedTextFits,
  packTexts,
  type PackedPrefixes,
} from './packed-prefixes.js';

/** Sets of at most this many prefixes keep them as text in the state file (readable); larger ones are packed. */
export const TEXT_MEMBERS_MAX = 64;

/** A stored set's members do not decode (a state file written by hand or a bug): the state is not used. */
export class StoredSetError extends NotrackError {
  constructor(id: string, reason: string) {
    super('stored-set-unreadable', `the stored prefix set ${id} cannot be read: ${reason}`);
  }
}

/**
 * A set of prefixes, packed. `prefixes` (canonical text, what the PrefixSet interface promised every reader) is made
 * on its first read and kept; the address tables, the state hash and the state file read `packed` instead.
 */
export class PackedPrefixSet implements PrefixSet {
  readonly id: string;
  readonly family: IpFamily;
  readonly origin: string;
  #packed: PackedPrefixes | null;
  #decode: (() => PackedPrefixes) | null;
  #digest: string | null;
  #texts: string[] | null;

  private constructor(
    id: string,
    family: IpFamily,
    origin: string,
    packed: PackedPrefixes | null,
    decode: (() => PackedPrefixes) | null,
    digest: string | null,
    texts: string[] | null,
  ) {
    this.id = id;
    this.family = family;
    this.origin = origin;
    this.#packed = packed;
    this.#decode = decode;
    this.#digest = digest;
    this.#texts = texts;
    // Shared by every host that uses the set: never changed after this (the private caches are not properties).
    Object.freeze(this);
  }

  /** A compiled set: its id is the first 16 hex digits of its digest (the sha256 of its canonical text). */
  static of(packed: PackedPrefixes, origin: string): PackedPrefixSet {
    const digest = packedDigest(packed);
    return new PackedPrefixSet(digest.slice(0, 16), packed.family, origin, packed, null, digest, null);
  }

  /** The same members, described by another first user (the digest is not computed again). */
  describedAs(origin: string): PackedPrefixSet {
    return new PackedPrefixSet(this.id, this.family, origin, this.#packed, this.#decode, this.#digest, this.#texts);
  }

  /**
   * A set read back from a state file: packed members (base64) are decoded on first use, text members (small sets,
   * state files of older versions) are packed on first use.
   */
  static stored(raw: Record<string, unknown>): PackedPrefixSet | null {
    const { id, family, origin, prefixes, packed, count } = raw;
    if (typeof id !== 'string' || (family !== 4 && family !== 6) || typeof origin !== 'string') return null;
    const unreadable = (read: () => PackedPrefixes) => (): PackedPrefixes => {
      try {
        return read();
      } catch (e) {
        throw new StoredSetError(id, (e as Error).message);
      }
    };
    if (typeof packed === 'string') {
      // Torn or padded records, or a count that does not match, make the whole state unusable at once.
      if (typeof count !== 'number' || !packedTextFits(family, packed, count)) return null;
      const decode = unreadable(() => decodePacked(family, packed));
      return new PackedPrefixSet(id, family, origin, null, decode, null, null);
    }
    if (!Array.isArray(prefixes) || !prefixes.every((p) => typeof p === 'string')) return null;
    const texts = Object.freeze(prefixes) as string[];
    return new PackedPrefixSet(
      id,
      family,
      origin,
      null,
      unreadable(() => packTexts(family, texts)),
      null,
      texts,
    );
  }

  get packed(): PackedPrefixes {
    if (!this.#packed) {
      this.#packed = this.#decode!();
      this.#decode = null;
    }
    return this.#packed;
  }

  /** How many prefixes (without decoding a stored set's text). */
  get size(): number {
    return this.#texts ? this.#texts.length : this.packed.count;
  }

  /** The canonical text, made once on first read (a frozen array, as the sets of older versions were). */
  get prefixes(): string[] {
    if (!this.#texts) this.#texts = Object.freeze(packedTexts(this.packed)) as string[];
    return this.#texts;
  }

  /** sha256 (hex) of the canonical text: what the state hash covers for this set. */
  get digest(): string {
    if (!this.#digest) this.#digest = packedDigest(this.packed);
    return this.#digest;
  }

  /** The state file's form: text for small sets, base64 of the packed records for large ones. */
  toJSON(): Record<string, unknown> {
    const base = { id: this.id, family: this.family, origin: this.origin };
    if (this.size <= TEXT_MEMBERS_MAX) return { ...base, prefixes: this.prefixes };
    return { ...base, count: this.size, packed: encodePacked(this.packed) };
  }
}

/** The packed members of any PrefixSet (a plain one, as tests and older code build, is packed once and cached). */
const packedOfPlain = new WeakMap<PrefixSet, PackedPrefixes>();
export function packedMembers(set: PrefixSet): PackedPrefixes {
  if (set instanceof PackedPrefixSet) return set.packed;
  let p = packedOfPlain.get(set);
  if (!p) {
    p = packTexts(set.family, set.prefixes);
    packedOfPlain.set(set, p);
  }
  return p;
}

/** How many prefixes a set holds, without making its text. */
export function memberCount(set: PrefixSet): number {
  return set instanceof PackedPrefixSet ? set.size : set.prefixes.length;
}

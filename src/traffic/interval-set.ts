// Exact sets of integers as sorted, disjoint, non-adjacent inclusive ranges: the value of one packet field in a box.
//
// Values are bigints so that one type covers protocols, ports and 128-bit IPv6 addresses alike. A set is immutable
// and canonical (ranges sorted, merged when they touch), so two sets are equal exactly when their `key`s are.

/** An immutable set of integers: `bounds` holds lo0, hi0, lo1, hi1 … with hi(i) + 1 < lo(i + 1). */
export class IntervalSet {
  private static readonly emptySet = new IntervalSet([]);
  private cachedKey: string | undefined;

  /**
   * `big`: the bounds as bigints; or null while only `nums` holds them (a set built from doubles, made bigints on
   * first read: a deny list's sweep makes sets of a million ranges that most walks never read value by value).
   */
  private constructor(
    private big: readonly bigint[] | null,
    private readonly nums: ArrayLike<number> | null = null,
  ) {}

  /** lo0, hi0, lo1, hi1 …: see the class. */
  get bounds(): readonly bigint[] {
    if (this.big === null) {
      const n = this.nums!;
      const out = new Array<bigint>(n.length);
      for (let i = 0; i < n.length; i++) out[i] = BigInt(n[i]!);
      this.big = out;
    }
    return this.big;
  }

  /** The bounds as doubles when the set was built from them (see fromSortedNumbers), else null. */
  numbers(): ArrayLike<number> | null {
    return this.nums;
  }

  private get boundCount(): number {
    return (this.big ?? this.nums!).length;
  }

  private bound(i: number): bigint {
    return this.big !== null ? this.big[i]! : BigInt(this.nums![i]!);
  }

  static empty(): IntervalSet {
    return IntervalSet.emptySet;
  }

  /** The range [lo, hi]; empty when hi < lo. */
  static range(lo: bigint, hi: bigint): IntervalSet {
    return hi < lo ? IntervalSet.emptySet : new IntervalSet([lo, hi]);
  }

  static single(v: bigint): IntervalSet {
    return new IntervalSet([v, v]);
  }

  /** Any list of ranges: sorted and merged here. */
  static of(ranges: Iterable<readonly [bigint, bigint]>): IntervalSet {
    const list = [...ranges].filter(([lo, hi]) => lo <= hi).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    const out: bigint[] = [];
    for (const [lo, hi] of list) {
      const n = out.length;
      if (n > 0 && lo <= out[n - 1]! + 1n) {
        if (hi > out[n - 1]!) out[n - 1] = hi;
      } else out.push(lo, hi);
    }
    return out.length ? new IntervalSet(out) : IntervalSet.emptySet;
  }

  /** Builds from bounds already sorted, disjoint and non-adjacent (the sweeps below produce them so). */
  static fromSortedBounds(bounds: bigint[]): IntervalSet {
    return bounds.length ? new IntervalSet(bounds) : IntervalSet.emptySet;
  }

  /** As fromSortedBounds, from doubles that are all safe integers (IPv4 addresses, ports): exact. */
  static fromSortedNumbers(bounds: ArrayLike<number>): IntervalSet {
    return bounds.length ? new IntervalSet(null, bounds) : IntervalSet.emptySet;
  }

  get isEmpty(): boolean {
    return this.boundCount === 0;
  }

  /** How many ranges. */
  get rangeCount(): number {
    return this.boundCount / 2;
  }

  get min(): bigint {
    if (this.isEmpty) throw new RangeError('an empty set has no least value');
    return this.bound(0);
  }

  get max(): bigint {
    if (this.isEmpty) throw new RangeError('an empty set has no greatest value');
    return this.bound(this.boundCount - 1);
  }

  /** The ranges as [lo, hi] pairs. */
  ranges(): [bigint, bigint][] {
    const out: [bigint, bigint][] = [];
    for (let i = 0; i < this.bounds.length; i += 2) out.push([this.bounds[i]!, this.bounds[i + 1]!]);
    return out;
  }

  /** The number of values. */
  size(): bigint {
    let n = 0n;
    for (let i = 0; i < this.bounds.length; i += 2) n += this.bounds[i + 1]! - this.bounds[i]! + 1n;
    return n;
  }

  has(v: bigint): boolean {
    const b = this.bounds;
    let lo = 0,
      hi = b.length / 2 - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (v < b[2 * mid]!) hi = mid - 1;
      else if (v > b[2 * mid + 1]!) lo = mid + 1;
      else return true;
    }
    return false;
  }

  /** A stable text naming the set's content (for grouping and hashing). */
  get key(): string {
    if (this.cachedKey === undefined) this.cachedKey = this.bounds.join(',');
    return this.cachedKey;
  }

  equals(other: IntervalSet): boolean {
    if (this === other) return true;
    if (this.boundCount !== other.boundCount) return false;
    const a = this.bounds,
      b = other.bounds;
    if (a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }

  intersect(other: IntervalSet): IntervalSet {
    if (this.isEmpty || other.isEmpty) return IntervalSet.emptySet;
    // One range holding all of the other set (a field's whole domain, most often): no walk over a million ranges.
    if (other.rangeCount === 1 && other.min <= this.min && this.max <= other.max) return this;
    if (this.rangeCount === 1 && this.min <= other.min && other.max <= this.max) return other;
    const a = this.bounds,
      b = other.bounds;
    const out: bigint[] = [];
    let i = 0,
      j = 0;
    while (i < a.length && j < b.length) {
      const lo = a[i]! > b[j]! ? a[i]! : b[j]!;
      const hi = a[i + 1]! < b[j + 1]! ? a[i + 1]! : b[j + 1]!;
      if (lo <= hi) out.push(lo, hi);
      if (a[i + 1]! < b[j + 1]!) i += 2;
      else j += 2;
    }
    // The same content keeps the same object (and its cached key): most intersections change nothing.
    const r = IntervalSet.fromSortedBounds(out);
    if (out.length === a.length && this.equals(r)) return this;
    if (out.length === b.length && other.equals(r)) return other;
    return r;
  }

  union(other: IntervalSet): IntervalSet {
    if (other.isEmpty) return this;
    if (this.isEmpty) return other;
    return IntervalSet.of([...this.ranges(), ...other.ranges()]);
  }

  /** The values of this set that are not in `other`. */
  subtract(other: IntervalSet): IntervalSet {
    const a = this.bounds,
      b = other.bounds;
    if (a.length === 0 || b.length === 0) return this;
    const out: bigint[] = [];
    let j = 0;
    for (let i = 0; i < a.length; i += 2) {
      let lo = a[i]!;
      const hi = a[i + 1]!;
      while (j < b.length && b[j + 1]! < lo) j += 2;
      let k = j;
      while (k < b.length && b[k]! <= hi) {
        if (b[k]! > lo) out.push(lo, b[k]! - 1n);
        if (b[k + 1]! >= hi) {
          lo = hi + 1n;
          break;
        }
        lo = b[k + 1]! + 1n;
        k += 2;
      }
      if (lo <= hi) out.push(lo, hi);
    }
    return IntervalSet.fromSortedBounds(out);
  }

  /** True when every value of `other` is in this set. */
  contains(other: IntervalSet): boolean {
    const a = this.bounds,
      b = other.bounds;
    let i = 0;
    for (let j = 0; j < b.length; j += 2) {
      while (i < a.length && a[i + 1]! < b[j]!) i += 2;
      if (i >= a.length || a[i]! > b[j]! || a[i + 1]! < b[j + 1]!) return false;
    }
    return true;
  }

  /** True when the two sets share a value. */
  meets(other: IntervalSet): boolean {
    return boundsMeet(this.bounds, other.bounds);
  }
}

/** Whether two sorted, disjoint bound lists (lo0, hi0, lo1, hi1 …) share a value. */
export function boundsMeet<T extends number | bigint>(a: ArrayLike<T>, b: ArrayLike<T>): boolean {
  let i = 0,
    j = 0;
  while (i < a.length && j < b.length) {
    if (a[i + 1]! < b[j]!) i += 2;
    else if (b[j + 1]! < a[i]!) j += 2;
    else return true;
  }
  return false;
}

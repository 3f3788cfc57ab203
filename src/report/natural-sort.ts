// Natural order for names people read: ns-2 before ns-10, as a person counts, not as text sorts.

/** Compares names chunk by chunk: runs of digits by their value, everything else by code unit. */
export function naturalCompare(a: string, b: string): number {
  const ca = a.match(/\d+|\D+/g) ?? [];
  const cb = b.match(/\d+|\D+/g) ?? [];
  for (let i = 0; i < Math.min(ca.length, cb.length); i++) {
    const x = ca[i]!,
      y = cb[i]!;
    if (x === y) continue;
    const nx = /^\d/.test(x),
      ny = /^\d/.test(y);
    if (nx && ny) {
      const d = BigInt(x) - BigInt(y);
      if (d !== 0n) return d < 0n ? -1 : 1;
      // Equal values written differently (7, 007): the shorter first, so the order stays total.
      return x.length - y.length;
    }
    return x < y ? -1 : 1;
  }
  return ca.length - cb.length;
}

// The order policies apply in, as Calico sorts them: by `order` ascending, no order last, ties by name.
import type { Policy } from '../model/resources.js';

/** Compares by code unit, so the order is the same in every locale. */
function byName(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function comparePolicies(a: Pick<Policy, 'name' | 'order'>, b: Pick<Policy, 'name' | 'order'>): number {
  if (a.order !== b.order) {
    if (a.order === null) return 1;
    if (b.order === null) return -1;
    return a.order - b.order;
  }
  return byName(a.name, b.name);
}

/** A sorted copy. */
export function orderPolicies<P extends Pick<Policy, 'name' | 'order'>>(policies: readonly P[]): P[] {
  return [...policies].sort(comparePolicies);
}

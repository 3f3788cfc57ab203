// Interface names and indexes in the calling thread's network namespace (if_nametoindex / if_indextoname).
import { bpfFailure, ENODEV } from './errors.js';
import { native, stableBytes } from './ffi.js';

/** The ifindex of `name`; throws bpf-not-found when the interface does not exist here. */
export function interfaceIndex(name: string): number {
  const idx = native.if_nametoindex(name);
  if (idx === 0) {
    throw bpfFailure('if_nametoindex', ENODEV, { subject: name, code: 'bpf-not-found', ifname: name });
  }
  return idx;
}

/** The name of interface `ifindex`, or undefined when there is none in this namespace. */
export function interfaceName(ifindex: number): string | undefined {
  const buf = stableBytes(16); // IF_NAMESIZE
  const p = native.if_indextoname(ifindex, buf);
  if (p === null || p === 0n) return undefined;
  const end = buf.indexOf(0);
  return buf.subarray(0, end < 0 ? buf.length : end).toString('utf8');
}

/** A label for messages: the name when known, else `ifindex <n>`. */
export function interfaceLabel(ifindex: number): string {
  return interfaceName(ifindex) ?? `ifindex ${ifindex}`;
}

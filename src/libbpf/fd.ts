// BpfFd: one file descriptor of a BPF object, with explicit ownership and an idempotent close().
import { readlinkSync } from 'node:fs';
import { invalidArgument } from './errors.js';
import { dupCloexec, native } from './ffi.js';

export type BpfObjectKind = 'prog' | 'map' | 'link' | 'btf' | 'unknown';

/**
 * An fd is either owned (this wrapper closes it) or borrowed (someone else, e.g. a loaded ELF object,
 * closes it; `close()` here only stops this wrapper from using it). `dup()` turns a borrowed fd into an owned one.
 */
export class BpfFd {
  private value: number;
  readonly owned: boolean;
  readonly kind: BpfObjectKind;

  private constructor(fd: number, owned: boolean, kind: BpfObjectKind) {
    if (!Number.isInteger(fd) || fd < 0) throw invalidArgument('BpfFd', `not a file descriptor: ${fd}`);
    this.value = fd;
    this.owned = owned;
    this.kind = kind;
  }

  /** Takes ownership of `fd`: `close()` will close it. */
  static own(fd: number, kind: BpfObjectKind): BpfFd {
    return new BpfFd(fd, true, kind);
  }

  /** Wraps an fd that something else closes. */
  static borrow(fd: number, kind: BpfObjectKind): BpfFd {
    return new BpfFd(fd, false, kind);
  }

  /** The descriptor number; throws once closed so a stale number is never passed to the kernel. */
  get fd(): number {
    if (this.value < 0) throw invalidArgument('BpfFd', `the ${this.kind} fd was already closed`);
    return this.value;
  }

  get closed(): boolean {
    return this.value < 0;
  }

  /** Closes an owned fd (a borrowed one is only forgotten). Safe to call twice. */
  close(): void {
    if (this.value < 0) return;
    const fd = this.value;
    this.value = -1;
    if (this.owned) native.close(fd);
  }

  /** A new owned fd for the same object (close-on-exec), independent of this one's lifetime. */
  dup(): BpfFd {
    return BpfFd.own(dupCloexec(this.fd), this.kind);
  }
}

/** What kind of BPF object an fd refers to, from its anon-inode name in /proc/self/fd. */
export function kindOfFd(fd: number): BpfObjectKind {
  let target: string;
  try {
    target = readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return 'unknown';
  }
  if (target === 'anon_inode:bpf-prog') return 'prog';
  if (target === 'anon_inode:bpf-map') return 'map';
  if (target === 'anon_inode:bpf_link' || target === 'anon_inode:bpf-link') return 'link';
  if (target === 'anon_inode:btf') return 'btf';
  return 'unknown';
}

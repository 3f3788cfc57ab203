// Pinning BPF objects in a bpffs folder, getting them back, and removing pins.
import { existsSync, unlinkSync } from 'node:fs';
import { EEXIST, ENOENT, EPERM } from './errors.js';
import { BpfFd, kindOfFd, type BpfObjectKind } from './fd.js';
import { check, failure, native, outputMark } from './ffi.js';

/** Pins the object behind `fd` at `path` (a file inside a mounted bpffs; the folder must exist). */
export function pinObject(fd: BpfFd, path: string): void {
  const mark = outputMark();
  const ret = native.bpf_obj_pin(fd.fd, path);
  if (ret >= 0) return;
  const errno = -ret;
  const hint =
    errno === EPERM
      ? 'the folder is not on a bpffs mount (or the process lacks CAP_BPF)'
      : errno === EEXIST
        ? 'something is already pinned at this path'
        : errno === ENOENT
          ? 'the folder does not exist'
          : undefined;
  throw failure('bpf_obj_pin', errno, { subject: `${fd.kind} at ${path}`, hint, mark });
}

/** Opens a pinned object: an owned fd and what kind of object it is. ENOENT → bpf-not-found. */
export function getPinned(path: string): { fd: BpfFd; kind: BpfObjectKind } {
  const mark = outputMark();
  const raw = check('bpf_obj_get', native.bpf_obj_get(path), { subject: path, mark });
  const kind = kindOfFd(raw);
  return { fd: BpfFd.own(raw, kind), kind };
}

/** Removes a pin; false when there was none. The object lives on while anything else holds it. */
export function unpin(path: string): boolean {
  try {
    unlinkSync(path);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
}

/** True when something is pinned (or any file exists) at `path`. */
export function isPinned(path: string): boolean {
  return existsSync(path);
}

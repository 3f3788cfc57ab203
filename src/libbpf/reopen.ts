// Typed handles for objects that already exist in the kernel, reached through a bpffs pin or a kernel id.
import { invalidArgument } from './errors.js';
import { type BpfObjectKind } from './fd.js';
import { linkFdById, mapFdById, programFdById } from './info.js';
import { BpfLink } from './links.js';
import { BpfMap } from './maps.js';
import { getPinned } from './pins.js';
import { BpfProgram } from './programs.js';

function pinnedOfKind(path: string, kind: BpfObjectKind): ReturnType<typeof getPinned>['fd'] {
  const { fd, kind: got } = getPinned(path);
  if (got !== kind) {
    fd.close();
    throw invalidArgument('bpf_obj_get', `${path} holds a ${got}, not a ${kind}`);
  }
  return fd;
}

/** The map pinned at `path` (owned fd). */
export function openPinnedMap(path: string): BpfMap {
  return BpfMap.fromFd(pinnedOfKind(path, 'map'));
}

/** The program pinned at `path` (owned fd). */
export function openPinnedProgram(path: string): BpfProgram {
  return BpfProgram.fromFd(pinnedOfKind(path, 'prog'));
}

/** The link pinned at `path` (owned fd); closing it does not detach while the pin exists. */
export function openPinnedLink(path: string): BpfLink {
  return BpfLink.fromFd(pinnedOfKind(path, 'link'));
}

/** The map with kernel id `id` (owned fd). */
export function openMapById(id: number): BpfMap {
  return BpfMap.fromFd(mapFdById(id));
}

/** The program with kernel id `id` (owned fd). */
export function openProgramById(id: number): BpfProgram {
  return BpfProgram.fromFd(programFdById(id));
}

/** The link with kernel id `id` (owned fd). */
export function openLinkById(id: number): BpfLink {
  return BpfLink.fromFd(linkFdById(id));
}

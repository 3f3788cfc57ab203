// What the link pins of an interface say: which XDP link and which TC attachment notrack made, and whether they live.
import { isBpfError, getPinned, isPinned, linkInfo, programInfo } from '../../libbpf/index.js';
import { isDirectory, type InterfacePins } from './pin-paths.js';

interface PinnedXdpLink {
  path: string;
  linkId: number;
  progId: number;
  /** 0 once the link is defunct (its interface was deleted): the pin is then stale. */
  ifindex: number;
}

export type PinnedTc =
  | { mechanism: 'tcx'; path: string; linkId: number; progId: number; ifindex: number }
  /** The filter itself lives in the qdisc; the pin is its program and `clsactCreated` says who made the qdisc. */
  | { mechanism: 'cls_bpf'; path: string; progId: number; clsactCreated: boolean };

interface PinnedLinks {
  xdp: PinnedXdpLink | undefined;
  tc: PinnedTc | undefined;
}

function pinnedInfo<T>(path: string, read: (fd: Parameters<typeof linkInfo>[0]) => T): T | undefined {
  if (!isPinned(path)) return undefined;
  let pinned: ReturnType<typeof getPinned>;
  try {
    pinned = getPinned(path);
  } catch (e) {
    if (isBpfError(e, 'bpf-not-found')) return undefined;
    throw e;
  }
  try {
    return read(pinned.fd);
  } finally {
    pinned.fd.close();
  }
}

/** Reads the link pins of one interface (no network namespace involved: link info comes from the link itself). */
export function readPinnedLinks(pins: InterfacePins): PinnedLinks {
  const xdp = pinnedInfo(pins.xdpLink, (fd) => {
    const info = linkInfo(fd);
    return { path: pins.xdpLink, linkId: info.id, progId: info.progId, ifindex: info.xdp?.ifindex ?? 0 };
  });
  let tc: PinnedTc | undefined = pinnedInfo(pins.tcxLink, (fd) => {
    const info = linkInfo(fd);
    return {
      mechanism: 'tcx' as const,
      path: pins.tcxLink,
      linkId: info.id,
      progId: info.progId,
      ifindex: info.tcx?.ifindex ?? 0,
    };
  });
  if (!tc) {
    tc = pinnedInfo(pins.clsBpfProgram, (fd) => ({
      mechanism: 'cls_bpf' as const,
      path: pins.clsBpfProgram,
      progId: programInfo(fd).id,
      clsactCreated: isDirectory(pins.clsactCreated),
    }));
  }
  return { xdp, tc };
}

// Detaches notrack from an interface and removes every pin of it, from the pins alone (safe twice, after a crash).
import {
  isBpfError,
  interfaceIndex,
  openPinnedLink,
  openPinnedProgram,
  TcAttachment,
  unpin,
  xdpQuery,
  type TcMechanism,
} from '../../libbpf/index.js';
import { detachTc } from '../tc-filters.js';
import { findNotrackClsBpf } from './cls-bpf.js';
import { InterfacePins, isDirectory, removePinFolder, type GenerationProgramName } from './pin-paths.js';
import { readPinnedLinks, type PinnedTc } from './pinned-links.js';

interface DetachInterfaceOptions {
  ifname: string;
  pinDir: string;
}

interface InterfaceDetach {
  ifname: string;
  /** False when the interface is not in this namespace (its attachments went with it; only pins were removed). */
  interfacePresent: boolean;
  xdpDetached: boolean;
  /** The TC mechanism whose attachment was removed, or null when there was none. */
  tcDetached: TcMechanism | null;
  /** XDP programs still attached afterwards: not notrack's (or not attached through its link); left in place. */
  otherXdpPrograms: number[];
  /** Generation folders and link pins that were removed. */
  unpinned: string[];
}

function interfaceIndexOrNull(ifname: string): number | null {
  try {
    return interfaceIndex(ifname);
  } catch (e) {
    if (isBpfError(e, 'bpf-not-found')) return null;
    throw e;
  }
}

/** Detaches a pinned link (even when its interface is gone) and removes the pin. */
function detachPinnedLink(path: string): void {
  try {
    const link = openPinnedLink(path);
    try {
      link.detach();
    } catch (e) {
      // A defunct link (interface deleted) has nothing left to detach.
      if (!isBpfError(e)) throw e;
      link.close();
    }
  } catch (e) {
    if (!isBpfError(e, 'bpf-not-found')) throw e;
  }
  unpin(path);
}

/** Ids of a program in every pinned generation of the interface. */
function pinnedProgramIds(pins: InterfacePins, name: GenerationProgramName): number[] {
  const ids: number[] = [];
  for (const n of pins.generations()) {
    try {
      const p = openPinnedProgram(pins.program(n, name));
      ids.push(p.id);
      p.close();
    } catch (e) {
      if (!isBpfError(e, 'bpf-not-found')) throw e;
    }
  }
  return ids;
}

/**
 * Removes notrack's TC attachment of an interface: the pinned tcx link, or notrack's cls_bpf filter (found by its
 * slot and program even without a pin, as a crash between attach and pin leaves it), and the clsact qdisc when
 * notrack made it and nothing else uses it. Returns the mechanism of the attachment removed, or null when none was
 * live (a filter or link goes with its interface).
 */
export function removeTcAttachment(
  pins: InterfacePins,
  ifindex: number | null,
  tc: PinnedTc | undefined,
): TcMechanism | null {
  let removed: TcMechanism | null = null;
  if (tc?.mechanism === 'tcx') {
    detachPinnedLink(tc.path);
    if (tc.ifindex !== 0) removed = 'tcx';
  }
  if (ifindex !== null) {
    const owned = [...pinnedProgramIds(pins, 'tcIngress'), ...(tc ? [tc.progId] : [])];
    const filter = findNotrackClsBpf(ifindex, owned);
    if (filter) {
      detachTc(
        new TcAttachment({
          mechanism: 'cls_bpf',
          ifindex,
          ifname: pins.ifname,
          direction: 'ingress',
          handle: filter.handle,
          priority: filter.priority,
          progId: filter.progId,
          createdQdisc: isDirectory(pins.clsactCreated),
        }),
      );
      removed = 'cls_bpf';
    }
  }
  unpin(pins.clsBpfProgram);
  removePinFolder(pins.clsactCreated);
  return removed;
}

/**
 * Detaches notrack's XDP and TC programs from `ifname` (in the calling thread's network namespace) and removes
 * everything pinned for it under `<pinDir>/<ifname>/`. Works from the pins alone, so it cleans up after a crashed
 * process, and does nothing the second time. Programs others attached are left alone and reported.
 */
export function detachInterface(opts: DetachInterfaceOptions): InterfaceDetach {
  const pins = new InterfacePins(opts.pinDir, opts.ifname);
  const ifindex = interfaceIndexOrNull(opts.ifname);
  const links = readPinnedLinks(pins);
  const unpinned: string[] = [];

  // XDP first: from here on nothing is flagged, so removing TC next cannot leave flagged packets unmarked.
  let xdpDetached = false;
  if (links.xdp) {
    detachPinnedLink(links.xdp.path);
    unpinned.push(links.xdp.path);
    xdpDetached = links.xdp.ifindex !== 0;
  }
  const tcDetached = removeTcAttachment(pins, ifindex, links.tc);
  if (links.tc) unpinned.push(links.tc.path);

  for (const n of pins.generations()) unpinned.push(pins.generation(n));
  removePinFolder(pins.root);

  const otherXdpPrograms = ifindex === null ? [] : xdpQuery(ifindex).programIds;
  return {
    ifname: opts.ifname,
    interfacePresent: ifindex !== null,
    xdpDetached,
    tcDetached,
    otherXdpPrograms,
    unpinned,
  };
}

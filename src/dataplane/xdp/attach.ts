// Attaches a generation to its interface: TC ingress (tcx, else cls_bpf) then XDP through a link; pins both.
import {
  attachTc,
  attachXdp,
  interfaceIndex,
  unpin,
  type TcAttachment,
  type TcMechanism,
  type XdpAttachment,
  type XdpMode,
} from '../../libbpf/index.js';
import { NotrackError } from '../../errors.js';
import { detachTc } from '../tc-filters.js';
import { NOTRACK_CLS_BPF } from './cls-bpf.js';
import { removeTcAttachment } from './detach.js';
import { XdpDataplaneError } from './errors.js';
import type { InterfaceGeneration } from './generation.js';
import { InterfacePins, makePinFolder, removePinFolder } from './pin-paths.js';
import { readPinnedLinks } from './pinned-links.js';

interface AttachInterfaceOptions {
  ifname: string;
  generation: InterfaceGeneration;
  /** `auto` tries native (driver) XDP and falls back to generic when the driver has none. */
  xdpMode: 'native' | 'generic' | 'auto';
  /** `auto` (default): a tcx link where the kernel has tcx (6.6+), else a cls_bpf filter on clsact. */
  tcMechanism?: 'auto' | TcMechanism;
}

interface InterfaceAttachment {
  ifname: string;
  ifindex: number;
  generation: number;
  xdp: { mode: XdpMode; linkId: number; progId: number; fallbackReason?: string };
  tc: { mechanism: TcMechanism; linkId?: number; progId: number; fallbackReason?: string };
}

/**
 * Throws xdp-already-attached when notrack's XDP link on the interface is live. Otherwise clears what a dead or
 * interrupted attachment left: a defunct link pin (interface deleted), a TC hook without its XDP half.
 */
function clearStaleOrRefuse(pins: InterfacePins, ifindex: number): void {
  const { xdp, tc } = readPinnedLinks(pins);
  if (xdp && xdp.ifindex !== 0) {
    throw new XdpDataplaneError(
      'xdp-already-attached',
      `notrack is already attached to ${pins.ifname} (XDP link ${xdp.linkId} pinned at ${xdp.path}): use switchGeneration to change generations, or detachInterface first`,
      { ifname: pins.ifname },
    );
  }
  if (xdp) unpin(xdp.path);
  removeTcAttachment(pins, ifindex, tc);
}

/**
 * Attaches `generation` (whose policy program should be in place: an empty slot passes everything, tracked) to
 * `ifname` in the calling thread's network namespace, and pins the attachments under `<pinDir>/<ifname>/links/`,
 * so they outlive this process. TC goes first, so that the first packet XDP accepts is already marked.
 * If another XDP program is on the interface, this throws the binding's `bpf-xdp-conflict` BpfError and changes
 * nothing: notrack never replaces a program it did not attach.
 */
export function attachInterface(opts: AttachInterfaceOptions): InterfaceAttachment {
  const gen = opts.generation;
  if (opts.ifname !== gen.ifname) {
    throw new XdpDataplaneError(
      'xdp-bad-option',
      `generation ${gen.number} was loaded for ${gen.ifname}, not ${opts.ifname}: load one for ${opts.ifname}`,
      { ifname: opts.ifname },
    );
  }
  if (!['native', 'generic', 'auto'].includes(opts.xdpMode)) {
    throw new XdpDataplaneError(
      'xdp-bad-option',
      `xdpMode must be native, generic or auto, not ${String(opts.xdpMode)}`,
      { ifname: opts.ifname },
    );
  }
  const pins = new InterfacePins(gen.pinDir, opts.ifname);
  const ifindex = interfaceIndex(opts.ifname);
  clearStaleOrRefuse(pins, ifindex);
  makePinFolder(pins.links);

  const tc: TcAttachment = attachTc({
    ifindex,
    program: gen.programs.tcIngress,
    direction: 'ingress',
    mechanism: opts.tcMechanism ?? 'auto',
    handle: NOTRACK_CLS_BPF.handle,
    priority: NOTRACK_CLS_BPF.priority,
  });
  let xdp: XdpAttachment | undefined;
  try {
    if (tc.link) {
      tc.link.pin(pins.tcxLink);
    } else {
      gen.programs.tcIngress.pin(pins.clsBpfProgram);
      if (tc.createdQdisc) makePinFolder(pins.clsactCreated);
    }
    xdp = attachXdp({ ifindex, program: gen.programs.xdpEntry, mode: opts.xdpMode });
    xdp.link.pin(pins.xdpLink);
  } catch (e) {
    // Undo in reverse; the pins go too, so a later attach does not take them for a live attachment.
    if (xdp) {
      xdp.link.detach();
      unpin(pins.xdpLink);
    }
    detachTc(tc);
    unpin(pins.tcxLink);
    unpin(pins.clsBpfProgram);
    removePinFolder(pins.clsactCreated);
    // The binding's errors (bpf-xdp-conflict, bpf-not-supported for a forced native mode ...) say it best.
    if (e instanceof NotrackError) throw e;
    throw new XdpDataplaneError(
      'xdp-attach-failed',
      `attaching notrack to ${opts.ifname} failed and was undone: ${(e as Error).message}`,
      { ifname: opts.ifname, cause: e },
    );
  }
  const result: InterfaceAttachment = {
    ifname: opts.ifname,
    ifindex,
    generation: gen.number,
    xdp: {
      mode: xdp.mode,
      linkId: xdp.link.id,
      progId: gen.ids.programs.xdpEntry,
      ...(xdp.fallbackReason ? { fallbackReason: xdp.fallbackReason } : {}),
    },
    tc: {
      mechanism: tc.mechanism,
      progId: tc.progId,
      ...(tc.link ? { linkId: tc.link.id } : {}),
      ...(tc.fallbackReason ? { fallbackReason: tc.fallbackReason } : {}),
    },
  };
  // The pins hold the links now; this process keeps no fd of its own.
  xdp.link.close();
  tc.link?.close();
  return result;
}

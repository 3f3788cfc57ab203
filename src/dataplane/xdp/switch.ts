// Moves an attached interface to another generation: XDP link update, then TC, each atomic; old generations go after.
import {
  isBpfError,
  openPinnedLink,
  openProgramById,
  pinObject,
  unpin,
  type BpfProgram,
  type TcMechanism,
} from '../../libbpf/index.js';
import { replaceClsBpfProgram } from './cls-bpf.js';
import { XdpDataplaneError } from './errors.js';
import { pinnedEntryProgram, removeGeneration, type InterfaceGeneration } from './generation.js';
import { InterfacePins } from './pin-paths.js';
import { readPinnedLinks } from './pinned-links.js';

interface SwitchGenerationOptions {
  ifname: string;
  pinDir: string;
  /** The generation to run from now on (loaded, policy program in place). */
  to: InterfaceGeneration;
  /** Unpin every other generation of the interface once the switch is done (default true). */
  removeOld?: boolean;
}

interface GenerationSwitch {
  ifname: string;
  /** The generation that was attached before, or null when the attached program was in no pinned generation. */
  from: number | null;
  to: number;
  /** False when `to` was attached already (nothing was updated). */
  switched: boolean;
  tcMechanism: TcMechanism;
  /** Generations unpinned after the switch. */
  removed: number[];
}

/** Updates the link at `linkPin` from program `fromId` to `to`, refusing if the link runs anything else. */
function updateLink(linkPin: string, fromId: number, to: BpfProgram): void {
  const link = openPinnedLink(linkPin);
  let old: BpfProgram | undefined;
  try {
    old = openProgramById(fromId);
    link.update(to, { expected: old });
  } finally {
    old?.close();
    link.close();
  }
}

/**
 * Switches `ifname` to generation `to`: the pinned XDP link is updated to its entry program with the running
 * program as the expected one (so a concurrent change is detected, never overwritten), then the TC program
 * likewise (tcx link update, or `tc filter replace` for cls_bpf). Packets see the old or the new generation,
 * never neither. If the TC step fails, XDP is put back and xdp-switch-failed is thrown. Afterwards every other
 * pinned generation is removed (unless removeOld is false). The cls_bpf path acts in the calling thread's
 * network namespace; the link updates do not depend on it.
 */
export function switchGeneration(opts: SwitchGenerationOptions): GenerationSwitch {
  const to = opts.to;
  if (to.ifname !== opts.ifname || to.pinDir !== opts.pinDir) {
    throw new XdpDataplaneError(
      'xdp-bad-option',
      `generation ${to.number} belongs to ${to.ifname} under ${to.pinDir}, not ${opts.ifname} under ${opts.pinDir}`,
      { ifname: opts.ifname },
    );
  }
  const pins = new InterfacePins(opts.pinDir, opts.ifname);
  const links = readPinnedLinks(pins);
  if (!links.xdp || links.xdp.ifindex === 0) {
    throw new XdpDataplaneError(
      'xdp-not-attached',
      `notrack is not attached to ${opts.ifname} (no live XDP link pinned at ${pins.xdpLink}): use attachInterface`,
      { ifname: opts.ifname },
    );
  }
  const tc = links.tc;
  if (!tc || (tc.mechanism === 'tcx' && tc.ifindex === 0)) {
    throw new XdpDataplaneError(
      'xdp-not-attached',
      `notrack's TC hook on ${opts.ifname} is missing (an interrupted attach?): run detachInterface, then attachInterface`,
      { ifname: opts.ifname },
    );
  }
  const xdpFrom = links.xdp.progId;
  const from = pins.generations().find((n) => pinnedEntryProgram(pins, n) === xdpFrom) ?? null;
  const newXdp = to.ids.programs.xdpEntry;
  const newTc = to.ids.programs.tcIngress;

  let switched = false;
  if (xdpFrom !== newXdp || tc.progId !== newTc) {
    const fail = (step: string, e: unknown): XdpDataplaneError =>
      new XdpDataplaneError(
        'xdp-switch-failed',
        `switching ${opts.ifname} to generation ${to.number} failed at ${step}${step === 'TC' ? ' (XDP was put back)' : ''}: ${(e as Error).message}` +
          (isBpfError(e, 'bpf-link-replaced')
            ? '; another process changed the attachment meanwhile: observe the interface and retry'
            : ''),
        { ifname: opts.ifname, cause: e },
      );
    if (xdpFrom !== newXdp) {
      try {
        updateLink(pins.xdpLink, xdpFrom, to.programs.xdpEntry);
      } catch (e) {
        throw fail('XDP', e);
      }
    }
    if (tc.progId !== newTc) {
      try {
        if (tc.mechanism === 'tcx') {
          updateLink(tc.path, tc.progId, to.programs.tcIngress);
        } else {
          replaceClsBpfProgram(opts.ifname, pins.program(to.number, 'tcIngress'));
          unpin(tc.path);
          pinObject(to.programs.tcIngress.fd, tc.path);
        }
      } catch (e) {
        if (xdpFrom !== newXdp) {
          const back = openProgramById(xdpFrom);
          try {
            updateLink(pins.xdpLink, newXdp, back);
          } finally {
            back.close();
          }
        }
        throw fail('TC', e);
      }
    }
    switched = true;
  }

  const removed: number[] = [];
  if (opts.removeOld !== false) {
    for (const n of pins.generations()) {
      if (n !== to.number && removeGeneration({ ifname: opts.ifname, pinDir: opts.pinDir, generation: n }))
        removed.push(n);
    }
  }
  return { ifname: opts.ifname, from, to: to.number, switched, tcMechanism: tc.mechanism, removed };
}

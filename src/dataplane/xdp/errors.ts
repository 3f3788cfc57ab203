// The errors of the per-interface XDP/TC dataplane: a stable code and a message that says what to do.
import { NotrackError } from '../../errors.js';

/**
 * - `XDP_BAD_OPTION`: an argument cannot be used (interface name, pin folder, counts, failsafes, marks).
 * - `XDP_PINS`: a folder under the pin folder could not be made or removed (permissions, not a bpffs).
 * - `XDP_OBJECT_MISSING`: build/bpf/xdp.o or tc.o is not there (run `npm run build`).
 * - `XDP_GENERATION_MISSING`: the generation's pins are gone or incomplete.
 * - `XDP_ALREADY_ATTACHED`: notrack is already attached to the interface (switch generations instead).
 * - `XDP_NOT_ATTACHED`: a switch was asked for an interface notrack is not attached to.
 * - `XDP_ATTACH_FAILED`: an unexpected failure while attaching; what was attached has been undone.
 * - `XDP_SWITCH_FAILED`: a generation switch did not complete (what was switched has been put back).
 * Failures of the kernel calls themselves are the binding's BpfError (`bpf-xdp-conflict`, `bpf-permission` ...).
 */
export type XdpDataplaneErrorCode =
  | 'XDP_BAD_OPTION'
  | 'XDP_PINS'
  | 'XDP_OBJECT_MISSING'
  | 'XDP_GENERATION_MISSING'
  | 'XDP_ALREADY_ATTACHED'
  | 'XDP_NOT_ATTACHED'
  | 'XDP_ATTACH_FAILED'
  | 'XDP_SWITCH_FAILED';

export class XdpDataplaneError extends NotrackError {
  declare readonly code: XdpDataplaneErrorCode;
  /** The interface concerned, when there is one. */
  readonly ifname: string | undefined;

  constructor(code: XdpDataplaneErrorCode, message: string, options: { ifname?: string; cause?: unknown } = {}) {
    super(code, message, options.cause === undefined ? undefined : { cause: options.cause });
    this.ifname = options.ifname;
  }
}

// The errors of the per-interface XDP/TC dataplane: a stable code and a message that says what to do.
import { NotrackError } from '../../errors.js';

/**
 * - `xdp-bad-option`: an argument cannot be used (interface name, pin folder, counts, failsafes, marks).
 * - `xdp-pins`: a folder under the pin folder could not be made or removed (permissions, not a bpffs).
 * - `xdp-object-missing`: build/bpf/xdp.o or tc.o is not there (run `npm run build`).
 * - `xdp-generation-missing`: the generation's pins are gone or incomplete.
 * - `xdp-already-attached`: notrack is already attached to the interface (switch generations instead).
 * - `xdp-not-attached`: a switch was asked for an interface notrack is not attached to.
 * - `xdp-attach-failed`: an unexpected failure while attaching; what was attached has been undone.
 * - `xdp-switch-failed`: a generation switch did not complete (what was switched has been put back).
 * Failures of the kernel calls themselves are the binding's BpfError (`bpf-xdp-conflict`, `bpf-permission` ...).
 */
type XdpDataplaneErrorCode =
  | 'xdp-bad-option'
  | 'xdp-pins'
  | 'xdp-object-missing'
  | 'xdp-generation-missing'
  | 'xdp-already-attached'
  | 'xdp-not-attached'
  | 'xdp-attach-failed'
  | 'xdp-switch-failed';

export class XdpDataplaneError extends NotrackError {
  declare readonly code: XdpDataplaneErrorCode;
  /** The interface concerned, when there is one. */
  readonly ifname: string | undefined;

  constructor(code: XdpDataplaneErrorCode, message: string, options: { ifname?: string; cause?: unknown } = {}) {
    super(code, message, options.cause === undefined ? undefined : { cause: options.cause });
    this.ifname = options.ifname;
  }
}

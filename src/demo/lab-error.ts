// The errors the demo lab raises: one stable code per thing a person can act on.
import { NotrackError } from '../errors.js';

export type LabErrorCode =
  /** The lab needs root (namespaces, veth, bpffs mounts). */
  | 'lab-not-root'
  /** A program the lab runs (ip, git, socat, conntrack …) is not installed. */
  | 'lab-missing-tool'
  /** The policy folder's HostEndpoints cannot be laid out as lab hosts (no interface name, address outside the lab). */
  | 'lab-topology'
  /** A command the lab ran to build or drive the namespaces failed. */
  | 'lab-command-failed'
  /** The Git server in the git namespace did not start or stopped answering. */
  | 'lab-git-server'
  /** The lab was used after destroy(). */
  | 'lab-destroyed';

export class LabError extends NotrackError {
  declare readonly code: LabErrorCode;
  constructor(code: LabErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

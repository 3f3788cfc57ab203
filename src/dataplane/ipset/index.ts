// notrack's hash:net ipsets: names, rendering, observe, diff, apply (swap-in) and pruning.
export * from './types.js';
export { ipsetName, tmpSetName, isTmpSetName, MAX_SET_NAME, SET_PREFIX } from './names.js';
export {
  canonicalSet,
  renderIpsetRestore,
  setOptions,
  IpsetDesiredError,
  type CanonicalSet,
  type SwitchIn,
} from './render.js';
export { observeIpsets, observeIpsetsAsync, parseIpsetHeaders, parseIpsetList } from './observe.js';
export { diffIpsets } from './diff.js';
export { applyIpsets, pruneIpsets, removeAllIpsets } from './apply.js';
export { formatAddress, canonicalCidr, setMembersFor } from './members.js';
export type { CommandRunner } from '../command-runner.js';

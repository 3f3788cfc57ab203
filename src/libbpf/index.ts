// The public API of the libbpf binding: maps, programs, ELF objects, links, queries, pins, errors.
export {
  MapType,
  ProgType,
  AttachType,
  LinkType,
  UpdateFlag,
  MapFlag,
  TestRunFlag,
  XdpFlag,
  XdpAttached,
  TcAttachPoint,
  BPF_F_REPLACE,
  mapTypeName,
  progTypeName,
  linkTypeName,
  attachTypeName,
  isPerCpuMapType,
  type MapTypeName,
  type ProgTypeName,
  type UpdateMode,
} from '../abi/bpf-uapi.js';
export { BpfError, isBpfError, errnoName, type BpfErrorCode } from './errors.js';
export { BpfFd, kindOfFd, type BpfObjectKind } from './fd.js';
export { numPossibleCpus, libbpfOutputSince, outputMark } from './ffi.js';
export {
  programInfo,
  mapInfo,
  linkInfo,
  describeLink,
  programFdById,
  mapFdById,
  linkFdById,
  type ProgramInfo,
  type MapInfo,
  type LinkInfo,
} from './info.js';
export {
  createMap,
  BpfMap,
  u32,
  u64,
  readU32,
  readU64,
  setProgramSlot,
  clearProgramSlot,
  programSlotId,
} from './maps.js';
export { loadProgram, BpfProgram, testRun, testRunXdp, verifierReason } from './programs.js';
export { BpfObject } from './objects.js';
export {
  BpfLink,
  attachXdp,
  attachTc,
  destroyClsact,
  TcAttachment,
  type ProgramHandle,
  type XdpMode,
  type XdpAttachment,
  type TcMechanism,
} from './links.js';
export {
  xdpQuery,
  tcxQuery,
  clsBpfQuery,
  foreignXdpPrograms,
  programRef,
  type XdpState,
  type XdpAttachMode,
  type TcDirection,
  type TcxState,
  type ProgramRef,
} from './query.js';
export { pinObject, getPinned, unpin, isPinned } from './pins.js';
export { interfaceIndex, interfaceName } from './netdev.js';
export {
  openPinnedMap,
  openPinnedProgram,
  openPinnedLink,
  openMapById,
  openProgramById,
  openLinkById,
} from './reopen.js';
export { OFFSETS, KERNEL_ONLY_FIELDS } from './struct-offsets.js';
export { RingBuffer } from './ringbuf.js';

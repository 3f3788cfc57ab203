// The public API of the libbpf binding: maps, programs, ELF objects, links, queries, pins, errors.
export {
  MapType, ProgType, AttachType, LinkType, UpdateFlag, MapFlag, ProgFlag, TestRunFlag, XdpFlag, XdpAttached,
  TcAttachPoint, BPF_F_REPLACE, BPF_PSEUDO_MAP_FD,
  mapTypeName, progTypeName, linkTypeName, attachTypeName, isPerCpuMapType,
  type MapTypeName, type ProgTypeName, type UpdateMode,
} from '../abi/bpf-uapi.js';
export { BpfError, isBpfError, errnoName, type BpfErrorCode, type BpfErrorDetails } from './errors.js';
export { BpfFd, kindOfFd, type BpfObjectKind } from './fd.js';
export { libbpfVersion, numPossibleCpus, libbpfOutputSince, outputMark } from './ffi.js';
export {
  programInfo, mapInfo, linkInfo, describeLink, programFdById, mapFdById, linkFdById,
  type ProgramInfo, type MapInfo, type LinkInfo,
} from './info.js';
export {
  createMap, BpfMap, u32, u64, readU32, readU64, setProgramSlot, clearProgramSlot, programSlotId,
  type MapSpec, type MapKey, type MapEntry, type PerCpuMapEntry, type BatchResult,
} from './maps.js';
export {
  loadProgram, BpfProgram, testRun, testRunXdp, verifierReason,
  type ProgramSpec, type TestRunOptions, type TestRunResult, type XdpMd, type XdpTestRunOptions, type XdpTestRunResult,
} from './programs.js';
export { BpfObject, ObjectProgram, ObjectMap, type OpenObjectOptions } from './objects.js';
export {
  BpfLink, attachXdp, attachTc, destroyClsact, TcAttachment,
  type ProgramHandle, type XdpMode, type XdpAttachOptions, type XdpAttachment, type TcMechanism, type TcAttachOptions,
} from './links.js';
export {
  xdpQuery, tcxQuery, clsBpfQuery, foreignXdpPrograms, programRef,
  type XdpState, type XdpAttachMode, type TcDirection, type TcxState, type ProgramRef,
} from './query.js';
export { pinObject, getPinned, unpin, isPinned } from './pins.js';
export { interfaceIndex, interfaceName } from './netdev.js';
export { openPinnedMap, openPinnedProgram, openPinnedLink, openMapById, openProgramById, openLinkById } from './reopen.js';
export { OFFSETS, KERNEL_ONLY_FIELDS } from './struct-offsets.js';
export { RingBuffer, type RingSampleHandler } from './ringbuf.js';

// The per-interface XDP/TC dataplane: load a generation, put the policy in, attach, switch, observe, detach.
export { XdpDataplaneError, type XdpDataplaneErrorCode } from './errors.js';
export {
  InterfacePins, pinnedInterfaces, checkInterfaceName, MAP_PIN_NAMES, type GenerationMapName, type GenerationProgramName,
} from './pin-paths.js';
export { failsafeEntries, failsafesFromEntries, sortFailsafes } from './failsafes.js';
export { InterfaceGeneration, openGeneration, removeGeneration, checkPinDir, type GenerationRef } from './generation.js';
export { loadInterfaceGeneration, type LoadGenerationOptions } from './load.js';
export { setPolicyProgram, policySlot, MAX_POLICY_PARTS, type PolicySlots } from './policy-slot.js';
export { attachInterface, type AttachInterfaceOptions, type InterfaceAttachment } from './attach.js';
export { switchGeneration, type SwitchGenerationOptions, type GenerationSwitch } from './switch.js';
export {
  observeInterface, type ObserveInterfaceOptions, type InterfaceObservation, type ObservedGeneration, type ObservedProgram,
  type ObservedXdp, type ObservedTc, type ObservedPolicy, type Finding, type FindingCode,
} from './observe.js';
export { detachInterface, type DetachInterfaceOptions, type InterfaceDetach } from './detach.js';
export { NOTRACK_CLS_BPF } from './cls-bpf.js';
export { LogEventReader, nameRule, type NamedLogEvent, type NamedRule, type LogEventHandler } from './log-events.js';

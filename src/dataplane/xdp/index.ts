// The per-interface XDP/TC dataplane: load a generation, put the policy in, attach, switch, observe, detach.
export { XdpDataplaneError } from './errors.js';
export { InterfacePins, pinnedInterfaces, type GenerationMapName, type GenerationProgramName } from './pin-paths.js';
export { failsafeEntries, failsafesFromEntries, sortFailsafes } from './failsafes.js';
export { InterfaceGeneration, openGeneration, removeGeneration, checkPinDir } from './generation.js';
export { loadInterfaceGeneration } from './load.js';
export { setPolicyProgram } from './policy-slot.js';
export { attachInterface } from './attach.js';
export { switchGeneration } from './switch.js';
export { observeInterface, type InterfaceObservation, type ObservedGeneration } from './observe.js';
export { detachInterface } from './detach.js';
export { NOTRACK_CLS_BPF } from './cls-bpf.js';
export { LogEventReader, type NamedLogEvent, type NamedRule } from './log-events.js';

// The host's own record of what notrack applied: commit, generation per interface and the applied DesiredState.
// Written atomically (temporary file + rename), so a kill -9 leaves either the old record or the new one.
import { mkdirSync, readFileSync, renameSync, writeFileSync, openSync, fsyncSync, closeSync } from 'node:fs';
import path from 'node:path';
import { NotrackError } from '../errors.js';
import type { DesiredState } from '../compile/desired-state.js';

const RECORD_VERSION = 1;

export interface AppliedRevision {
  repo: string;
  ref: string | null;
  commit: string | null;
}

export interface InterfaceRecord {
  /** The generation the interface runs (its pins live in <bpffs>/<ifname>/gen-<n>). */
  generation: number;
  /** Fingerprint of what each generation was built from, by generation number (written before it is switched in,
   *  so after a crash the running generation's fingerprint is always known). */
  generations: Record<string, string>;
  /** The running generation's policy program id and its class maps' entry counts, to notice tampering. */
  policyProgramId: number | null;
  policyMapEntries: Record<string, number>;
  /** sha256 of each array class map's contents (absent in records of older notrack versions). */
  policyMapDigests?: Record<string, string>;
  xdpMode: string | null;
  tcMechanism: string | null;
}

export interface AppliedRecord {
  formatVersion: typeof RECORD_VERSION;
  host: string;
  revision: AppliedRevision;
  /** DesiredState.hash of the last complete apply. */
  desiredHash: string;
  appliedAt: string;
  interfaces: Record<string, InterfaceRecord>;
}

class RecordError extends NotrackError {
  constructor(message: string, cause?: unknown) {
    super('record-unreadable', message, { cause });
  }
}

/** Paths of the record and of the applied DesiredState inside the state folder. */
function recordPaths(stateDir: string): { record: string; desired: string } {
  return { record: path.join(stateDir, 'applied.json'), desired: path.join(stateDir, 'applied-state.json') };
}

function writeAtomic(file: string, text: string): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  const fd = openSync(tmp, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}

function readJson<T>(file: string): T | null {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new RecordError(`cannot read ${file}: ${(e as Error).message}`, e);
  }
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw new RecordError(
      `${file} is not valid JSON (${(e as Error).message}); remove it and run notrack apply to rebuild it`,
      e,
    );
  }
}

/** The record, or null when notrack has never applied on this host. */
export function readRecord(stateDir: string): AppliedRecord | null {
  const record = readJson<AppliedRecord>(recordPaths(stateDir).record);
  if (record && record.formatVersion !== RECORD_VERSION) {
    throw new RecordError(
      `${recordPaths(stateDir).record} has format version ${String(record.formatVersion)}; this notrack reads ${RECORD_VERSION}`,
    );
  }
  return record;
}

export function writeRecord(stateDir: string, record: AppliedRecord): void {
  writeAtomic(recordPaths(stateDir).record, JSON.stringify(record, null, 2) + '\n');
}

/** The DesiredState of the last complete apply: what drift is measured against. */
export function readAppliedState(stateDir: string): DesiredState | null {
  return readJson<DesiredState>(recordPaths(stateDir).desired);
}

export function writeAppliedState(stateDir: string, state: DesiredState): void {
  writeAtomic(recordPaths(stateDir).desired, JSON.stringify(state));
}

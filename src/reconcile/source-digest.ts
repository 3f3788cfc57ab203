// The digest of the policy a host applied, so that a reconcile of unchanged content skips reading, parsing and
// compiling it.
//
// A new commit whose policy files are byte for byte the same (a README change, a re-run of the agent, `apply`
// again) compiles to the same DesiredState. For a repository the digest covers the files' Git blob ids, which the
// commit's trees name: deciding "unchanged" inflates no blob (a 1M-prefix deny list is 20 MB of YAML). For a plain
// folder it covers the bytes. It also covers the host name, the policy path and this notrack's compiler version,
// and is kept beside the record with the DesiredState hash it produced: it counts only while the record still says
// that hash was applied. Skipping the compile never skips looking at the host: the caller still checks that every
// interface runs the generation the record names, or (a repair) everything a drift check compares, against the
// applied view kept here (applied-view.ts), and takes the full path on any difference.
import { createHash } from 'node:crypto';
import path from 'node:path';
import { DESIRED_STATE_VERSION, type DesiredState } from '../compile/desired-state.js';
import type { PolicyBlob, SourceSnapshot } from '../source/index.js';
import { readChecked, writeChecked, type AppliedRecord } from './applied-record.js';
import { recordedView, type RecordedView } from './applied-view.js';
import { plannedInterfaceNames } from './host-dataplane.js';

/** Changes whenever the compiler could turn the same files into a different state (bump with the compile stage). */
export const COMPILER_TAG = `notrack-compile-${DESIRED_STATE_VERSION}-dir1688-terminal-state3`;
const DIGEST_VERSION = 2;

interface DigestFile {
  formatVersion: typeof DIGEST_VERSION;
  /** sha256 of the host, the compiler tag, the policy path and every file's path and blob id (or bytes). */
  source: string;
  /** The DesiredState hash that content compiled to. */
  desiredHash: string;
  /** What a host running that state shows (checked instead of reading the state back). */
  view: RecordedView;
}

const fileOf = (stateDir: string): string => path.join(stateDir, 'applied-source.json');

/** The digest of a commit's policy files by blob id, as the source's `skipContent` hook sees them. */
export function blobDigest(blobs: readonly PolicyBlob[], host: string, subPath: string): string {
  const h = createHash('sha256');
  h.update(`${COMPILER_TAG}\0${host}\0${subPath}\0blobs\0${blobs.length}\0`);
  for (const b of blobs) h.update(`${b.path}\0${b.oid}\0`);
  return h.digest('hex');
}

/** The digest of what a snapshot holds for `host`: by blob id when read from a repository, else by content. */
export function sourceDigest(snapshot: SourceSnapshot, host: string): string {
  if (snapshot.blobs) return blobDigest(snapshot.blobs, host, snapshot.subPath);
  const h = createHash('sha256');
  h.update(`${COMPILER_TAG}\0${host}\0${snapshot.subPath}\0${snapshot.files.length}\0`);
  for (const f of snapshot.files) {
    h.update(`${f.path}\0${f.size}\0${f.tooLarge ? 'too-large' : 'content'}\0`);
    h.update(f.content);
  }
  return h.digest('hex');
}

function viewShape(v: unknown): string | null {
  const d = v as Partial<DigestFile> | null;
  if (d?.formatVersion !== DIGEST_VERSION) return `is not a version ${DIGEST_VERSION} digest file`;
  if (typeof d.source !== 'string' || typeof d.desiredHash !== 'string') return 'lacks its digest';
  const view = d.view;
  if (!view || !Array.isArray(view.interfaces) || typeof view.fingerprints !== 'object' || !view.iptables)
    return 'lacks its view';
  if (!Array.isArray(view.failsafes) || !Array.isArray(view.ipsets)) return 'lacks its view';
  return null;
}

/**
 * The applied view when the content of `digest` is what produced the state the record says is applied: the compile
 * can be skipped. Null when anything differs, nothing was recorded, the record names another state, the host's
 * interfaces no longer map the same way, or the file is torn or edited (its checksum).
 */
export function unchangedView(
  stateDir: string,
  record: AppliedRecord | null,
  digest: string,
  present: readonly string[],
): RecordedView | null {
  if (!record?.desiredHash) return null;
  const saved = readChecked<DigestFile>(fileOf(stateDir), viewShape).value;
  if (!saved || saved.source !== digest || saved.desiredHash !== record.desiredHash) return null;
  // The same interfaces as when it was applied (a `*` endpoint takes every interface, so new ones need a compile).
  const planned = plannedInterfaceNames(saved.view.interfaces, present).apply;
  const recorded = Object.keys(record.interfaces);
  const same = planned.length === recorded.length && planned.every((n) => recorded.includes(n));
  return same ? saved.view : null;
}

/** Records which content produced the applied state, with its view (atomically, checksummed). */
export function writeSourceDigest(stateDir: string, digest: string, state: DesiredState): void {
  const body: DigestFile = {
    formatVersion: DIGEST_VERSION,
    source: digest,
    desiredHash: state.hash,
    view: recordedView(state),
  };
  writeChecked(fileOf(stateDir), body);
}

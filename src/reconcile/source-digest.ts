// The content digest of the policy a host applied, so that a reconcile of unchanged content skips parse and compile.
//
// A new commit whose policy files are byte for byte the same (a README change, a re-run of the agent, `apply`
// again) compiles to the same DesiredState. Parsing and compiling a 10,000-rule policy with a 1M-prefix set takes
// seconds; hashing its files takes tens of milliseconds. The digest covers the files (path and content), the host
// name and this notrack's compiler version, and is kept beside the record with the DesiredState hash it produced:
// it counts only while the record still says that hash was applied. Skipping the compile never skips looking at the
// host: the caller still checks that every interface runs the generation the record names (or repairs from the
// applied state), so a host that lost its programs is never reported as up to date.
import { createHash } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DESIRED_STATE_VERSION, type DesiredState } from '../compile/desired-state.js';
import type { SourceSnapshot } from '../source/index.js';
import type { AppliedRecord } from './applied-record.js';

/** Changes whenever the compiler could turn the same files into a different state (bump with the compile stage). */
const COMPILER_TAG = `notrack-compile-${DESIRED_STATE_VERSION}-dir1688-terminal`;

interface DigestFile {
  formatVersion: 1;
  /** sha256 of the host, the compiler tag and every file's path and bytes. */
  source: string;
  /** The DesiredState hash that content compiled to. */
  desiredHash: string;
  /** The state's interface names (`*` included), to tell whether the host's interfaces still map the same way. */
  interfaces: string[];
}

const fileOf = (stateDir: string): string => path.join(stateDir, 'applied-source.json');

/** The digest of what a snapshot holds for `host`. Files over the size limit count by path and size. */
export function sourceDigest(snapshot: SourceSnapshot, host: string): string {
  const h = createHash('sha256');
  h.update(`${COMPILER_TAG}\0${host}\0${snapshot.subPath}\0${snapshot.files.length}\0`);
  for (const f of snapshot.files) {
    h.update(`${f.path}\0${f.size}\0${f.tooLarge ? 'too-large' : 'content'}\0`);
    h.update(f.content);
  }
  return h.digest('hex');
}

/**
 * True when the snapshot's content is what produced the state the record says is applied: the compile can be
 * skipped. False when anything differs, nothing was recorded, or the record names another state.
 */
export function sourceUnchanged(
  stateDir: string,
  record: AppliedRecord | null,
  digest: string,
  present: readonly string[],
): boolean {
  if (!record?.desiredHash) return false;
  let saved: DigestFile;
  try {
    saved = JSON.parse(readFileSync(fileOf(stateDir), 'utf8')) as DigestFile;
  } catch {
    return false;
  }
  if (saved.formatVersion !== 1 || saved.source !== digest || saved.desiredHash !== record.desiredHash) return false;
  // The same interfaces as when it was applied (a `*` endpoint takes every interface, so new ones need a compile).
  const planned = saved.interfaces.includes('*') ? present : saved.interfaces.filter((n) => present.includes(n));
  const recorded = Object.keys(record.interfaces);
  return planned.length === recorded.length && planned.every((n) => recorded.includes(n));
}

/** Records which content produced the applied state (atomically: a torn write would only cost one compile). */
export function writeSourceDigest(stateDir: string, digest: string, state: DesiredState): void {
  const file = fileOf(stateDir);
  const tmp = `${file}.${process.pid}.tmp`;
  const body: DigestFile = {
    formatVersion: 1,
    source: digest,
    desiredHash: state.hash,
    interfaces: state.interfaces.map((i) => i.name),
  };
  writeFileSync(tmp, JSON.stringify(body) + '\n');
  renameSync(tmp, file);
}

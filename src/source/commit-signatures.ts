// --verify-signatures: every commit the host would newly run (applied..head, merged-in commits too) must carry a
// good signature by a key given out of band: SSH (ssh-keygen -Y verify, namespace "git") or OpenPGP (gpgv).
import fs from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { git, Errors } from './git-library.js';
import { SourceError } from './source-error.js';

/**
 * Runs a program from an argv array with optional stdin (the shape of the dataplane's CommandRunner, which the
 * CLI passes in: programs are spawned in one place).
 */
export type ProgramRunner = (argv: string[], input?: string) => { status: number; stdout: string; stderr: string };

/** The keys a signature must verify against, read from files the operator names, never from the repository. */
export interface SignatureKeys {
  /** How ssh-keygen and gpgv are run. */
  run: ProgramRunner;
  /** An SSH allowed-signers file (ssh-keygen(1) ALLOWED SIGNERS). */
  allowedSigners?: string;
  /** A keyring of OpenPGP public keys (binary or ASCII-armored export). */
  trustedKeys?: string;
}

export type SignatureKind = 'ssh' | 'openpgp';

/** The signature a commit carries, and the bytes it signs (the commit without its gpgsig header). */
export interface CommitSignature {
  kind: SignatureKind | null;
  signature: string | undefined;
  payload: Buffer;
}

/** Which kind of signature an armored gpgsig header holds (null: none, or one notrack does not know). */
export function signatureKind(gpgsig: string | undefined): SignatureKind | null {
  if (gpgsig === undefined) return null;
  if (gpgsig.startsWith('-----BEGIN SSH SIGNATURE-----')) return 'ssh';
  if (gpgsig.startsWith('-----BEGIN PGP SIGNATURE-----')) return 'openpgp';
  return null;
}

/**
 * Splits a raw commit object as git does before it verifies: the `gpgsig` header (its first line and the
 * continuation lines that start with a space) is the signature; everything else, byte for byte, is what was
 * signed. Only the header block counts: a "gpgsig" line in the message is message. (isomorphic-git's own
 * `payload` is not byte-exact for signed commits, so the object is parsed here.)
 */
export function splitSignedCommit(raw: Buffer): CommitSignature {
  const text = raw.toString('latin1');
  const headerEnd = text.indexOf('\n\n');
  const header = headerEnd === -1 ? text : text.slice(0, headerEnd + 1);
  const lines = header.split('\n');
  const kept: string[] = [];
  const sig: string[] = [];
  let inSig = false;
  for (const line of lines.slice(0, -1)) {
    if (line.startsWith('gpgsig ')) {
      inSig = true;
      sig.push(line.slice('gpgsig '.length));
    } else if (inSig && line.startsWith(' ')) {
      sig.push(line.slice(1));
    } else {
      inSig = false;
      kept.push(line);
    }
  }
  const payload = Buffer.from(
    kept.map((l) => `${l}\n`).join('') + (headerEnd === -1 ? '' : text.slice(headerEnd + 1)),
    'latin1',
  );
  const signature = sig.length ? `${sig.join('\n')}\n` : undefined;
  return { kind: signatureKind(signature), signature, payload };
}

export async function readCommitSignature(gitdir: string, oid: string, cache: object): Promise<CommitSignature> {
  const { object } = await git.readObject({ fs, gitdir, oid, format: 'content', cache });
  return splitSignedCommit(Buffer.from(object as Uint8Array));
}

function firstLine(text: string): string {
  return (
    text
      .split('\n')
      .map((l) => l.trim())
      .find((l) => l !== '') ?? ''
  );
}

/** Why the signature does not verify, or null when it does. */
async function sshProblem(
  run: ProgramRunner,
  sig: CommitSignature,
  allowedSigners: string,
  dir: string,
): Promise<string | null> {
  const sigFile = path.join(dir, 'commit.sig');
  await writeFile(sigFile, sig.signature!);
  // As git does: find who the key belongs to, then verify as that principal in the "git" namespace.
  const found = run(['ssh-keygen', '-Y', 'find-principals', '-f', allowedSigners, '-s', sigFile]);
  const principal = firstLine(found.stdout);
  if (found.status !== 0 || principal === '')
    return `it is signed with an SSH key that is not in the allowed-signers file ${allowedSigners}`;
  // Commit objects are UTF-8 (git's default, and what notrack reads policy as); stdin is passed as such.
  const verified = run(
    ['ssh-keygen', '-Y', 'verify', '-f', allowedSigners, '-I', principal, '-n', 'git', '-s', sigFile],
    sig.payload.toString('utf8'),
  );
  if (verified.status === 0) return null;
  return `its SSH signature by ${principal} does not verify (${firstLine(verified.stderr) || 'ssh-keygen failed'})`;
}

/** ASCII armor's base64 between the header block and the checksum line, as bytes; gpgv reads only binary keyrings. */
function dearmor(text: string): Buffer {
  const lines = text.split(/\r?\n/);
  const begin = lines.findIndex((l) => l.startsWith('-----BEGIN PGP PUBLIC KEY BLOCK-----'));
  const blank = lines.findIndex((l, i) => i > begin && l.trim() === '');
  const end = lines.findIndex((l, i) => i > begin && l.startsWith('-----END PGP PUBLIC KEY BLOCK-----'));
  const body = lines.slice(blank + 1, end).filter((l) => !l.startsWith('='));
  return Buffer.from(body.join(''), 'base64');
}

async function openpgpProblem(
  run: ProgramRunner,
  sig: CommitSignature,
  keyring: string,
  dir: string,
): Promise<string | null> {
  const sigFile = path.join(dir, 'commit.asc');
  const dataFile = path.join(dir, 'commit.txt');
  const keys = await readFile(keyring);
  const armored = keys.subarray(0, 64).toString('latin1').includes('-----BEGIN PGP');
  const ring = armored ? path.join(dir, 'keyring.gpg') : path.resolve(keyring);
  if (armored) await writeFile(ring, dearmor(keys.toString('latin1')));
  await writeFile(sigFile, sig.signature!);
  await writeFile(dataFile, sig.payload);
  // gpgv trusts exactly the keyring it is given; its own home folder is a fresh one, so nothing else is read.
  const home = path.join(dir, 'gnupg');
  await fs.promises.mkdir(home, { mode: 0o700 });
  const r = run(['gpgv', '--homedir', home, '--keyring', ring, '--status-fd', '1', sigFile, dataFile]);
  const status = r.stdout.split('\n');
  const valid = status.find((l) => l.startsWith('[GNUPG:] VALIDSIG '));
  if (r.status === 0 && valid !== undefined) return null;
  const noKey = status.find((l) => l.startsWith('[GNUPG:] NO_PUBKEY '));
  if (noKey) return `it is signed with OpenPGP key ${noKey.split(' ')[2]}, which is not in ${keyring}`;
  const bad = status.find((l) => l.startsWith('[GNUPG:] BADSIG '));
  if (bad) return `its OpenPGP signature by ${bad.split(' ').slice(2).join(' ')} does not match the commit`;
  return `its OpenPGP signature does not verify (${firstLine(r.stderr) || `gpgv exited ${r.status}`})`;
}

/** Why `oid` fails verification, or null when its signature is good. */
export async function signatureProblem(
  gitdir: string,
  oid: string,
  cache: object,
  keys: SignatureKeys,
): Promise<string | null> {
  const sig = await readCommitSignature(gitdir, oid, cache);
  if (sig.signature === undefined) return 'it is not signed';
  if (sig.kind === null) return 'it carries a signature notrack does not know (neither SSH nor OpenPGP)';
  const dir = await mkdtemp(path.join(tmpdir(), 'notrack-verify-'));
  try {
    if (sig.kind === 'ssh') {
      if (keys.allowedSigners === undefined) return 'it is signed with SSH, and no --allowed-signers file is given';
      return await sshProblem(keys.run, sig, keys.allowedSigners, dir);
    }
    if (keys.trustedKeys === undefined) return 'it is signed with OpenPGP, and no --trusted-keys file is given';
    return await openpgpProblem(keys.run, sig, keys.trustedKeys, dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function parentsOf(gitdir: string, oid: string, cache: object): Promise<string[] | null> {
  try {
    return (await git.readCommit({ fs, gitdir, oid, cache })).commit.parent;
  } catch (e) {
    if (e instanceof Errors.NotFoundError) return null;
    throw e;
  }
}

/**
 * The commits `head` brings that `applied` does not have (git rev-list applied..head): first-parent and
 * merged-in alike, since a merge brings every commit of the merged branch onto the host. Head first. Without an
 * applied commit, the head alone. Throws when the walk reaches the edge of the fetched history before it can
 * tell (a side branch older than what was fetched).
 */
export async function commitsToVerify(
  gitdir: string,
  head: string,
  applied: string | undefined,
  cache: object,
  repo: string,
): Promise<string[]> {
  if (applied === undefined) return [head];
  if (applied === head) return [];
  // What the host already runs: the applied commit and its history as far as it was fetched.
  const known = new Set<string>([applied]);
  for (const queue = [applied]; queue.length;) {
    const oid = queue.shift()!;
    const parents = (await parentsOf(gitdir, oid, cache)) ?? [];
    for (const p of parents) if (!known.has(p)) (known.add(p), queue.push(p));
  }
  const range: string[] = [];
  const seen = new Set<string>([head]);
  for (const queue = [head]; queue.length;) {
    const oid = queue.shift()!;
    if (known.has(oid)) continue;
    range.push(oid);
    const parents = await parentsOf(gitdir, oid, cache);
    if (parents === null) {
      throw new SourceError(
        'source-signature-invalid',
        `cannot verify the signatures between ${applied.slice(0, 12)} and ${head.slice(0, 12)} in ${repo}: ` +
          `commit ${oid.slice(0, 12)}, which the head brings, is older than the history that was fetched`,
        { repo },
      );
    }
    for (const p of parents) if (!seen.has(p)) (seen.add(p), queue.push(p));
  }
  return range;
}

/**
 * Verifies every commit from `applied` (exclusive) to `head`; throws source-signature-invalid naming the first
 * commit that fails and why. Returns how many commits were verified.
 */
export async function verifyCommits(input: {
  gitdir: string;
  head: string;
  applied: string | undefined;
  cache: object;
  keys: SignatureKeys;
  repo: string;
}): Promise<number> {
  const range = await commitsToVerify(input.gitdir, input.head, input.applied, input.cache, input.repo);
  // Oldest first, so the message names where the unsigned history starts.
  for (const oid of [...range].reverse()) {
    const problem = await signatureProblem(input.gitdir, oid, input.cache, input.keys);
    if (problem !== null) {
      const where =
        input.applied === undefined
          ? 'the head (no commit applied yet, so only the head is verified)'
          : `one of the ${range.length} commits between the applied ${input.applied.slice(0, 12)} and the head ${input.head.slice(0, 12)}`;
      throw new SourceError(
        'source-signature-invalid',
        `commit ${oid.slice(0, 12)} in ${input.repo}, ${where}, fails signature verification: ${problem}`,
        { repo: input.repo },
      );
    }
  }
  return range.length;
}

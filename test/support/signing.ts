// Signing keys for the --verify-signatures tests, made fresh in a temp folder: SSH keys with an allowed-signers
// file, and OpenPGP keys in a temp GNUPGHOME exported to a keyring; `commitArgs` makes git itself sign a commit.
import { spawnSync } from 'node:child_process';
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface Signer {
  /** The identity the key signs as (its e-mail address). */
  email: string;
  /** `git -c ...` options that make `git commit -S` sign with this key. */
  gitConfig: string[];
  /** Environment git needs for this key (GNUPGHOME for OpenPGP). */
  env: Record<string, string>;
}

function run(argv: string[], env: Record<string, string> = {}, input?: string): string {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', env: { ...process.env, ...env }, input });
  if (r.status !== 0) throw new Error(`${argv.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

/** A new ed25519 key; `trusted` adds it to the allowed-signers file `allowedSigners` (created if missing). */
export function sshSigner(dir: string, name: string, allowedSigners: string | null): Signer {
  const key = path.join(dir, `${name}-ssh`);
  run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', key]);
  const email = `${name}@notrack.invalid`;
  if (allowedSigners !== null)
    appendFileSync(allowedSigners, `${email} namespaces="git" ${readFileSync(`${key}.pub`, 'utf8').trim()}\n`);
  return { email, gitConfig: ['-c', 'gpg.format=ssh', '-c', `user.signingkey=${key}`], env: {} };
}

/** A new OpenPGP key in its own GNUPGHOME; `keyring` (when given) receives its armored public key. */
export function openpgpSigner(dir: string, name: string, keyring: string | null): Signer {
  const home = path.join(dir, `${name}-gnupg`);
  mkdirSync(home, { mode: 0o700 });
  const env = { GNUPGHOME: home };
  const email = `${name}@notrack.invalid`;
  const batch = ['gpg', '--batch', '--pinentry-mode', 'loopback', '--passphrase', ''];
  run([...batch, '--quick-generate-key', `${name} <${email}>`, 'ed25519', 'sign', 'never'], env);
  const fpr = /^fpr:+([0-9A-F]{40}):/m.exec(run(['gpg', '--batch', '--with-colons', '--list-keys', email], env))![1]!;
  if (keyring !== null) appendFileSync(keyring, run(['gpg', '--batch', '--armor', '--export', fpr], env));
  return { email, gitConfig: ['-c', 'gpg.format=openpgp', '-c', `user.signingkey=${fpr}`], env };
}

/** The argv (after `git`) that commits everything staged in `repo` as `signer` (unsigned when null). */
export function signedCommit(repo: string, signer: Signer | null, message: string): string {
  const who = signer?.email ?? 'nobody@notrack.invalid';
  run(
    [
      'git',
      '-C',
      repo,
      '-c',
      'user.name=notrack test',
      '-c',
      `user.email=${who}`,
      ...(signer?.gitConfig ?? []),
      'commit',
      '-q',
      '--allow-empty',
      ...(signer ? ['-S'] : ['--no-gpg-sign']),
      '-m',
      message,
    ],
    signer?.env ?? {},
  );
  return run(['git', '-C', repo, 'rev-parse', 'HEAD']).trim();
}

/** Writes `files` into the work tree of `repo` and stages them. */
export function stage(repo: string, files: Record<string, string>): void {
  for (const [p, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(repo, p)), { recursive: true });
    writeFileSync(path.join(repo, p), text);
  }
  run(['git', '-C', repo, 'add', '-A']);
}

// --verify-signatures against a real Git server: commits signed by git itself (SSH and OpenPGP), every commit from
// the applied one to the head checked, merged-in ones too; unsigned, unknown keys and tampered commits refused.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { openpgpSigner, signedCommit, sshSigner, stage, type Signer } from '../support/signing.js';
import type { SourceOptions } from '../../src/source/index.js';
import { spawnRunner } from '../../src/dataplane/command-runner.js';
import { readCommitSignature, signatureKind, type SignatureKeys } from '../../src/source/commit-signatures.js';
import { remoteFixture, sourceError, tempDir } from './source-fixture.js';

const remote = remoteFixture(test);
let keys: string;
let allowedSigners: string;
let trustedKeys: string;
let alice: Signer;
let mallory: Signer;
let carol: Signer;
let eve: Signer;

test.before(async () => {
  keys = await tempDir('keys');
  allowedSigners = path.join(keys, 'allowed_signers');
  trustedKeys = path.join(keys, 'trusted.asc');
  alice = sshSigner(keys, 'alice', allowedSigners);
  mallory = sshSigner(keys, 'mallory', null);
  carol = openpgpSigner(keys, 'carol', trustedKeys);
  eve = openpgpSigner(keys, 'eve', null);
});

function git(args: string[], cwd: string): string {
  const r = spawnSync('git', args, { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
}

/** A work repository whose main branch is pushed to the server repository `name` after each commit. */
async function workRepo(name: string): Promise<{ dir: string; commit(s: Signer | null, files?: object): string }> {
  await remote.server.createEmptyRepo(name);
  const dir = await tempDir(`work-${name}`);
  git(['init', '-q', '-b', 'main'], dir);
  let n = 0;
  return {
    dir,
    commit(signer, files = {}) {
      n += 1;
      stage(dir, { [`policies/p${n}.yaml`]: `kind: GlobalNetworkPolicy\n# ${n}\n`, ...(files as object) });
      const oid = signedCommit(dir, signer, `commit ${n}`);
      git(['push', '-q', '--force', remote.server.repoPath(name), 'HEAD:refs/heads/main'], dir);
      return oid;
    },
  };
}

const read = (name: string, signatures: SignatureKeys, opts: Omit<SourceOptions, 'repo' | 'cacheDir'> = {}) =>
  remote.read(name, { signatures, ...opts });
const ssh = (): SignatureKeys => ({ run: spawnRunner, allowedSigners });
const both = (): SignatureKeys => ({ run: spawnRunner, allowedSigners, trustedKeys });

test('the signature is read out of the commit object, and the payload is exactly what git signed', async () => {
  const repo = await workRepo('parse');
  const oid = repo.commit(alice);
  const gitdir = path.join(repo.dir, '.git');
  const sig = await readCommitSignature(gitdir, oid, {});
  assert.is(sig.kind, 'ssh');
  assert.match(sig.signature!, /^-----BEGIN SSH SIGNATURE-----\n[\s\S]+\n-----END SSH SIGNATURE-----\n$/);
  // git's own view: the raw commit without its gpgsig header (and its continuation lines) is what was signed.
  const raw = git(['cat-file', 'commit', oid], repo.dir) + '\n';
  const unsigned = raw.replace(/^gpgsig [^\n]*\n(?: [^\n]*\n)*/m, '');
  assert.is(sig.payload.toString('utf8'), unsigned);
  assert.is(signatureKind('-----BEGIN PGP SIGNATURE-----\n...'), 'openpgp');
  assert.is(signatureKind('-----BEGIN SIGNED MESSAGE-----\n...'), null);
  assert.is(signatureKind(undefined), null);
  const plain = await readCommitSignature(gitdir, repo.commit(null), {});
  assert.equal([plain.kind, plain.signature], [null, undefined]);
});

test('with no applied commit the head alone is verified: signed by an allowed SSH key passes, unsigned fails', async () => {
  const repo = await workRepo('first');
  const signed = repo.commit(alice);
  assert.is((await read('first', ssh())).commit, signed);
  const unsigned = repo.commit(null);
  const err = await sourceError(read('first', ssh()), 'source-signature-invalid');
  assert.match(
    err.message,
    new RegExp(
      `commit ${unsigned.slice(0, 12)} .*the head \\(no commit applied yet, so only the head is verified\\).*it is not signed`,
    ),
  );
});

test('a key outside the allowed-signers file is refused, naming the commit', async () => {
  const repo = await workRepo('wrong-ssh');
  const bad = repo.commit(mallory);
  const err = await sourceError(read('wrong-ssh', ssh()), 'source-signature-invalid');
  assert.match(err.message, new RegExp(`commit ${bad.slice(0, 12)} `));
  assert.match(err.message, /signed with an SSH key that is not in the allowed-signers file/);
});

test('every commit from the applied one to the head is verified: an unsigned commit in the middle is named', async () => {
  const repo = await workRepo('range');
  const applied = repo.commit(alice);
  await read('range', ssh());
  const middle = repo.commit(null);
  const head = repo.commit(alice);
  const err = await sourceError(read('range', ssh(), { ancestor: applied }), 'source-signature-invalid');
  assert.match(err.message, new RegExp(`commit ${middle.slice(0, 12)} `));
  assert.match(
    err.message,
    new RegExp(`one of the 2 commits between the applied ${applied.slice(0, 12)} and the head ${head.slice(0, 12)}`),
  );
  assert.match(err.message, /it is not signed/);
  // The head alone (as Flux checks) would have passed.
  assert.is((await read('range', ssh())).commit, head);
});

test('a merged-in commit counts as much as a first-parent one: an unsigned side-branch commit is refused', async () => {
  const repo = await workRepo('merge');
  const applied = repo.commit(alice);
  git(['checkout', '-q', '-b', 'side'], repo.dir);
  stage(repo.dir, { 'policies/side.yaml': 'kind: GlobalNetworkPolicy\n' });
  const side = signedCommit(repo.dir, null, 'side, unsigned');
  git(['checkout', '-q', 'main'], repo.dir);
  const first = repo.commit(alice);
  git(
    [
      '-c',
      'user.name=t',
      '-c',
      `user.email=${alice.email}`,
      ...alice.gitConfig,
      'merge',
      '-q',
      '-S',
      '--no-ff',
      '-m',
      'merge side',
      'side',
    ],
    repo.dir,
  );
  git(['push', '-q', remote.server.repoPath('merge'), 'HEAD:refs/heads/main'], repo.dir);
  const err = await sourceError(read('merge', ssh(), { ancestor: applied }), 'source-signature-invalid');
  assert.match(err.message, new RegExp(`commit ${side.slice(0, 12)} `));
  assert.match(err.message, /one of the 3 commits between/);
  assert.ok(first !== side);
});

test('OpenPGP: a commit signed by a key in --trusted-keys passes; an unknown key names its key id', async () => {
  const repo = await workRepo('pgp');
  const good = repo.commit(carol);
  assert.is((await read('pgp', { run: spawnRunner, trustedKeys })).commit, good);
  const bad = repo.commit(eve);
  const err = await sourceError(
    read('pgp', { run: spawnRunner, trustedKeys }, { ancestor: good }),
    'source-signature-invalid',
  );
  assert.match(err.message, new RegExp(`commit ${bad.slice(0, 12)} `));
  assert.match(err.message, /signed with OpenPGP key [0-9A-F]{16}, which is not in /);
});

test('SSH and OpenPGP commits in one range pass with both key files; one kind without its file is refused', async () => {
  const repo = await workRepo('mixed');
  const applied = repo.commit(alice);
  await read('mixed', both());
  repo.commit(carol);
  const head = repo.commit(alice);
  assert.is((await read('mixed', both(), { ancestor: applied })).commit, head);
  const err = await sourceError(read('mixed', ssh(), { ancestor: applied }), 'source-signature-invalid');
  assert.match(err.message, /signed with OpenPGP, and no --trusted-keys file is given/);
});

test('a commit whose content was changed after signing is refused', async () => {
  const repo = await workRepo('tampered');
  const signed = repo.commit(alice);
  // Rewrite the commit's message, keep its signature: the object git stores is then a forgery.
  const raw = git(['cat-file', 'commit', signed], repo.dir).replace('commit 1', 'commit 1, changed');
  const forged = path.join(repo.dir, 'forged');
  mkdirSync(forged);
  writeFileSync(path.join(forged, 'commit'), `${raw}\n`);
  const oid = spawnSync('git', ['hash-object', '-t', 'commit', '-w', '--literally', path.join(forged, 'commit')], {
    cwd: repo.dir,
    encoding: 'utf8',
  }).stdout.trim();
  git(['push', '-q', '--force', remote.server.repoPath('tampered'), `${oid}:refs/heads/main`], repo.dir);
  const err = await sourceError(read('tampered', ssh()), 'source-signature-invalid');
  assert.match(err.message, new RegExp(`commit ${oid.slice(0, 12)} `));
  assert.match(err.message, /its SSH signature by alice@notrack\.invalid does not verify/);
});

test.run();

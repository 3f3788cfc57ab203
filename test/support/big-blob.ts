// Hostile commits for the memory tests, built cheaply: a blob of zeros that inflates to 1 GiB from a 1 MiB pack
// (written straight into a repository's object store, pack and index, so git never holds or re-deflates it), and
// a YAML file nested far deeper than any parser's stack.
import { createHash } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { crc32, createDeflate, constants } from 'node:zlib';
import { spawnSync } from 'node:child_process';
import { gitSync } from '../source/source-fixture.js';

export const GIB = 1024 * 1024 * 1024;

/** Deflates `size` zero bytes as one zlib stream (level 9: 1 GiB becomes about 1 MiB), a megabyte at a time. */
async function deflatedZeros(size: number): Promise<Buffer> {
  const zeros = Buffer.alloc(1024 * 1024);
  const deflate = createDeflate({ level: constants.Z_BEST_COMPRESSION });
  const out: Buffer[] = [];
  deflate.on('data', (c: Buffer) => out.push(c));
  const ended = new Promise<void>((resolve, reject) => {
    deflate.on('end', resolve);
    deflate.on('error', reject);
  });
  for (let left = size; left > 0; left -= zeros.length) {
    const part = left >= zeros.length ? zeros : zeros.subarray(0, left);
    if (!deflate.write(part)) await new Promise((r) => deflate.once('drain', r));
  }
  deflate.end();
  await ended;
  return Buffer.concat(out);
}

/** The id git gives a blob of `size` zeros: SHA-1 of "blob <size>\0" and the bytes. */
function zeroBlobId(size: number): string {
  const hash = createHash('sha1').update(`blob ${size}\0`);
  const zeros = Buffer.alloc(1024 * 1024);
  for (let left = size; left > 0; left -= zeros.length)
    hash.update(left >= zeros.length ? zeros : zeros.subarray(0, left));
  return hash.digest('hex');
}

/** A pack object header: type 3 (blob) and the size, base-128 with the type in the first byte. */
function blobHeader(size: number): Buffer {
  const bytes: number[] = [];
  let rest = Math.floor(size / 16);
  let first = (3 << 4) | (size % 16);
  if (rest > 0) first |= 0x80;
  bytes.push(first);
  while (rest > 0) {
    let b = rest % 128;
    rest = Math.floor(rest / 128);
    if (rest > 0) b |= 0x80;
    bytes.push(b);
  }
  return Buffer.from(bytes);
}

/**
 * Writes a pack holding one blob of `size` zeros, and its version-2 index, into `gitdir`/objects/pack; returns
 * the blob's id. git then treats it as any packed object (upload-pack sends it as stored, without inflating it).
 */
export async function writeZeroBlobPack(gitdir: string, size = GIB): Promise<string> {
  const oid = zeroBlobId(size);
  const entry = Buffer.concat([blobHeader(size), await deflatedZeros(size)]);
  const head = Buffer.alloc(12);
  head.write('PACK', 0, 'latin1');
  head.writeUInt32BE(2, 4);
  head.writeUInt32BE(1, 8);
  const body = Buffer.concat([head, entry]);
  const packSum = createHash('sha1').update(body).digest();
  const pack = Buffer.concat([body, packSum]);
  const fanout = Buffer.alloc(256 * 4);
  const first = Number.parseInt(oid.slice(0, 2), 16);
  for (let i = first; i < 256; i++) fanout.writeUInt32BE(1, i * 4);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(entry) >>> 0);
  const offset = Buffer.alloc(4);
  offset.writeUInt32BE(12);
  const idxBody = Buffer.concat([
    Buffer.from([0xff, 0x74, 0x4f, 0x63, 0, 0, 0, 2]),
    fanout,
    Buffer.from(oid, 'hex'),
    crc,
    offset,
    packSum,
  ]);
  const idx = Buffer.concat([idxBody, createHash('sha1').update(idxBody).digest()]);
  const name = path.join(gitdir, 'objects', 'pack', `pack-${packSum.toString('hex')}`);
  writeFileSync(`${name}.pack`, pack);
  writeFileSync(`${name}.idx`, idx);
  return oid;
}

const git = (gitdir: string, args: string[]): string => gitSync(['--git-dir', gitdir, ...args], gitdir);

/** Commits, on top of `branch`, its tip's tree changed by `git update-index <change>`, with plumbing only. */
function commitChange(gitdir: string, branch: string, change: string[], message: string, input?: string): string {
  const parent = git(gitdir, ['rev-parse', `refs/heads/${branch}`]);
  const index = path.join(gitdir, `index-${process.pid}`);
  const withIndex = (args: string[], stdin?: string) => {
    const r = spawnSync('git', ['--git-dir', gitdir, ...args], {
      encoding: 'utf8',
      input: stdin,
      env: { ...process.env, GIT_INDEX_FILE: index },
    });
    if (r.status !== 0) throw new Error(`git ${args.join(' ')} failed: ${r.stderr}`);
    return r.stdout.trim();
  };
  try {
    withIndex(['read-tree', parent]);
    withIndex(['update-index', ...change], input);
    const tree = withIndex(['write-tree']);
    const commit = git(gitdir, ['commit-tree', tree, '-p', parent, '-m', message]);
    git(gitdir, ['update-ref', `refs/heads/${branch}`, commit, parent]);
    return commit;
  } finally {
    rmSync(index, { force: true });
  }
}

/**
 * Commits, on top of `branch`, the tree of its tip plus `file` holding the blob `blob` (written with
 * writeZeroBlobPack), so git never reads the blob's content. Returns the commit id.
 */
export function commitBlob(gitdir: string, branch: string, file: string, blob: string, message: string): string {
  return commitChange(gitdir, branch, ['--add', '--cacheinfo', `100644,${blob},${file}`], message);
}

/** Commits, on top of `branch`, the tree of its tip without `file` (a fix that deletes what a commit added). */
export function commitRemoval(gitdir: string, branch: string, file: string, message: string): string {
  // Mode 0 removes the entry; --index-info needs no work tree.
  return commitChange(gitdir, branch, ['--index-info'], message, `0 ${'0'.repeat(40)}\t${file}\n`);
}

/** A YAML document nested `depth` levels deep as flow sequences: 2 bytes a level (250k levels: 500 KB). */
export function deeplyNested(depth: number): string {
  return `${'['.repeat(depth)}${']'.repeat(depth)}\n`;
}

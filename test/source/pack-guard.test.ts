// The pack guard on hand-made packs: sizes judged from headers (before any inflating), deltas by what they make,
// headers that lie, the side-band framing cut at every byte; and a blob's size read from its header in a store.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { deflateSync } from 'node:zlib';
import { MAX_PACK_OBJECTS, OversizedPackError, PackGuard, byteSize } from '../../src/source/pack-guard.js';
import { objectSize } from '../../src/source/object-size.js';
import { GIB, writeZeroBlobPack } from '../support/big-blob.js';
import { fetchSource } from '../../src/source/index.js';

const LIMITS = { maxObjectBytes: 1000, maxPackBytes: 1_000_000 };

/** An object header: type, then the size in base 128 with its low four bits in the first byte. */
function header(type: number, size: number): Buffer {
  const bytes = [(type << 4) | (size & 0x0f) | (size >= 16 ? 0x80 : 0)];
  for (let rest = Math.floor(size / 16); rest > 0; rest = Math.floor(rest / 128))
    bytes.push((rest & 0x7f) | (rest >= 128 ? 0x80 : 0));
  return Buffer.from(bytes);
}

function varint(n: number): number[] {
  const out: number[] = [];
  do {
    out.push((n & 0x7f) | (n >= 128 ? 0x80 : 0));
    n = Math.floor(n / 128);
  } while (n > 0);
  return out;
}

interface Entry {
  type: number;
  declared?: number;
  content: Buffer;
  /** For an ofs-delta: how far back its base is (any value: the guard does not resolve it). */
  ofs?: number;
}

function pack(entries: Entry[]): Buffer {
  const head = Buffer.alloc(12);
  head.write('PACK', 0, 'latin1');
  head.writeUInt32BE(2, 4);
  head.writeUInt32BE(entries.length, 8);
  const parts: Buffer[] = [head];
  for (const e of entries) {
    parts.push(header(e.type, e.declared ?? e.content.length));
    if (e.type === 6) parts.push(Buffer.from([e.ofs ?? 12]));
    if (e.type === 7) parts.push(Buffer.alloc(20, 0xab));
    parts.push(deflateSync(e.content));
  }
  const body = Buffer.concat(parts);
  return Buffer.concat([body, createHash('sha1').update(body).digest()]);
}

/** The pack as git-upload-pack sends it: NAK, then side band 1 (pack) and 2 (progress) in 1000-byte pkt-lines. */
function sideband(p: Buffer): Buffer {
  const line = (payload: Buffer) =>
    Buffer.concat([Buffer.from((payload.length + 4).toString(16).padStart(4, '0')), payload]);
  const parts: Buffer[] = [line(Buffer.from('NAK\n')), line(Buffer.from('\x02Counting objects: 3\n'))];
  for (let i = 0; i < p.length; i += 999) parts.push(line(Buffer.concat([Buffer.from([1]), p.subarray(i, i + 999)])));
  parts.push(Buffer.from('0000'));
  return Buffer.concat(parts);
}

function feed(bytes: Buffer, step: number, limits = LIMITS): OversizedPackError | null {
  const guard = new PackGuard(limits);
  try {
    for (let i = 0; i < bytes.length; i += step) guard.push(bytes.subarray(i, i + step));
    return null;
  } catch (e) {
    if (e instanceof OversizedPackError) return e;
    throw e;
  }
}

test('a pack within the bounds passes, however its side-band stream is cut into chunks', () => {
  const p = pack([
    { type: 3, content: Buffer.alloc(900, 7) },
    { type: 2, content: Buffer.from('100644 a\0' + 'x'.repeat(20)) },
    { type: 6, content: Buffer.from([...varint(900), ...varint(950), 0x90, 100]) },
  ]);
  for (const step of [1, 3, 64, 1000, 1 << 20]) {
    assert.is(feed(sideband(p), step), null, `chunks of ${step}`);
    assert.is(feed(p, step), null, `bare pack in chunks of ${step}`);
  }
});

test('an object declaring more than the bound is refused from its header, before a byte of it is inflated', () => {
  const guard = new PackGuard(LIMITS);
  const head = Buffer.alloc(12);
  head.write('PACK', 0, 'latin1');
  head.writeUInt32BE(2, 4);
  head.writeUInt32BE(1, 8);
  // The header alone: no deflated data follows, so nothing could have been inflated.
  const bytes = Buffer.concat([head, header(3, GIB)]);
  try {
    guard.push(bytes);
    assert.unreachable('refused');
  } catch (e) {
    assert.instance(e, OversizedPackError);
    assert.is((e as OversizedPackError).size, GIB);
    assert.is(
      (e as Error).message,
      'object 1 of 1 in the pack is a blob of 1.0 GiB (1073741824 bytes), over the 1000 B limit on one object (--max-object-bytes)',
    );
  }
});

test('a small delta that makes a large object is refused by the size of what it makes', () => {
  const delta = Buffer.from([...varint(10), ...varint(50_000), 0x90, 10]);
  for (const type of [6, 7]) {
    const err = feed(
      sideband(
        pack([
          { type: 3, content: Buffer.alloc(10) },
          { type, content: delta },
        ]),
      ),
      7,
    );
    assert.ok(err, `type ${type} refused`);
    assert.match(
      err!.message,
      /object 2 of 2 in the pack is a delta that makes an object of 48\.8 KiB \(50000 bytes\)/,
    );
  }
});

test('a header that declares less than its data inflates to is caught while inflating', () => {
  const err = feed(pack([{ type: 3, declared: 10, content: Buffer.alloc(200_000) }]), 4096, {
    maxObjectBytes: 1000,
    maxPackBytes: 1_000_000,
  });
  assert.ok(err);
  assert.match(err!.message, /inflates past the 10 B its header declares/);
});

test('a pack larger than the pack bound is refused as it arrives', () => {
  const err = feed(sideband(pack([{ type: 3, content: Buffer.alloc(900) }])), 5, {
    maxObjectBytes: 1000,
    maxPackBytes: 20,
  });
  assert.match(err!.message, /^the pack is larger than the 20 B limit \(--max-pack-bytes\)/);
});

test('a pack declaring more objects than one fetch may hold is refused from its header', () => {
  const head = Buffer.alloc(12);
  head.write('PACK', 0, 'latin1');
  head.writeUInt32BE(2, 4);
  head.writeUInt32BE(MAX_PACK_OBJECTS + 1, 8);
  const err = feed(sideband(head), 3);
  assert.is(err!.message, `the pack holds ${MAX_PACK_OBJECTS + 1} objects, over the limit of 100000 in one fetch`);
  head.writeUInt32BE(MAX_PACK_OBJECTS, 8);
  assert.is(feed(sideband(head), 3), null);
});

test('sizes in messages', () => {
  assert.equal(
    [byteSize(512), byteSize(1536), byteSize(32 * 1024 * 1024), byteSize(GIB)],
    ['512 B', '1.5 KiB', '32.0 MiB', '1.0 GiB'],
  );
});

test("a blob's size is read from its header, loose or packed (also a delta), without inflating it", async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'notrack-size-'));
  try {
    const git = (...args: string[]) => {
      const r = spawnSync('git', ['-C', dir, '-c', 'user.name=t', '-c', 'user.email=t@t', ...args], {
        encoding: 'utf8',
      });
      if (r.status !== 0) throw new Error(r.stderr);
      return r.stdout.trim();
    };
    git('init', '-q', '-b', 'main');
    const text = Array.from({ length: 5000 }, (_, i) => `line ${i}\n`).join('');
    writeFileSync(path.join(dir, 'a.txt'), text);
    const loose = git('hash-object', '-w', 'a.txt');
    const gitdir = path.join(dir, '.git');
    assert.is(await objectSize(gitdir, loose, new Map()), text.length);
    writeFileSync(path.join(dir, 'b.txt'), `${text}one more line\n`);
    git('add', '-A');
    git('commit', '-qm', 'two');
    git('repack', '-adq');
    const b = git('rev-parse', 'HEAD:b.txt');
    const indexes = new Map();
    assert.is(await objectSize(gitdir, loose, indexes), text.length);
    assert.is(await objectSize(gitdir, b, indexes), text.length + 'one more line\n'.length);
    assert.is(await objectSize(gitdir, 'f'.repeat(40), indexes), undefined);
    // A 1 GiB blob in the policy path of a local repository: reported too large at once, never inflated.
    const big = await writeZeroBlobPack(gitdir, GIB);
    assert.is(await objectSize(gitdir, big, new Map()), GIB);
    git('update-index', '--add', '--cacheinfo', `100644,${big},policies/huge.yaml`);
    git('commit', '-qm', 'huge');
    const before = process.memoryUsage().rss;
    const snap = await fetchSource({ repo: dir, path: 'policies' }).catch((e: Error) => e);
    const grown = process.memoryUsage().rss - before;
    assert.ok(grown < 100 * 1024 * 1024, `RSS grew by ${grown} bytes`);
    assert.ok(!(snap instanceof Error), String(snap));
    const file = (snap as Awaited<ReturnType<typeof fetchSource>>).files[0]!;
    assert.equal([file.path, file.tooLarge, file.size, file.content.length], ['policies/huge.yaml', true, GIB, 0]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();

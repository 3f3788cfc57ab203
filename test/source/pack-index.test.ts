// The pack indexed from the guard's one pass: packs made by git (deltas on offsets and on ids), cut into chunks
// of every size; the index must be git index-pack's byte for byte, the objects git's, and what isomorphic-git reads
// an empty pack, or the pack exactly as sent when it cannot be indexed here (a thin pack).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createHash } from 'node:crypto';
import zlib, { deflateSync } from 'node:zlib';
import path from 'node:path';
import { OversizedPackError, PackGuard } from '../../src/source/pack-guard.js';
import { applyDelta, tableCrc32, type IndexedPack } from '../../src/source/pack-index.js';
import { gitIn } from '../support/git-repo.js';

const LIMITS = { maxObjectBytes: 1 << 24, maxPackBytes: 1 << 26 };

let dir = '';
const git = gitIn(() => dir);

/** Git's own output for `args` with `input` on stdin, as bytes. */
function gitBytes(args: string[], input: string): Buffer {
  const r = spawnSync('git', args, { cwd: dir, input });
  if (r.status !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr.toString()}`);
  return r.stdout;
}

/** A repository of similar policy files over two commits, so that git packs most of them as deltas. */
function makeRepository(): void {
  dir = mkdtempSync(path.join(tmpdir(), 'notrack-pack-index-'));
  git(['init', '-q', '-b', 'main']);
  mkdirSync(path.join(dir, 'sets'));
  const rules = (n: number, shift: number) =>
    Array.from({ length: 400 }, (_, i) => `  - action: Deny\n    source: { nets: [10.${n}.${i + shift}.0/24] }\n`);
  for (let n = 0; n < 6; n++) writeFileSync(path.join(dir, `policy-${n}.yaml`), rules(n, 0).join(''));
  writeFileSync(
    path.join(dir, 'sets', 'deny.yaml'),
    Array.from({ length: 20_000 }, (_, i) => `- 32.${i >> 8}.${i & 255}.1/32\n`).join(''),
  );
  git(['add', '-A']);
  git(['commit', '-qm', 'one']);
  writeFileSync(path.join(dir, 'policy-0.yaml'), rules(0, 1).join(''));
  git(['add', '-A']);
  git(['commit', '-qm', 'two']);
}

/** The pack as git-upload-pack sends it: NAK, progress on side band 2 between pack lines, a flush at the end. */
function sideband(pack: Buffer): Buffer {
  const line = (payload: Buffer) =>
    Buffer.concat([Buffer.from((payload.length + 4).toString(16).padStart(4, '0')), payload]);
  const parts: Buffer[] = [line(Buffer.from('shallow ' + 'a'.repeat(40) + '\n')), Buffer.from('0000')];
  parts.push(line(Buffer.from('NAK\n')));
  for (let i = 0; i < pack.length; i += 8000) {
    parts.push(line(Buffer.from(`\x02Receiving ${i}\n`)));
    parts.push(line(Buffer.concat([Buffer.from([1]), pack.subarray(i, i + 8000)])));
  }
  parts.push(Buffer.from('0000'));
  return Buffer.concat(parts);
}

/** What isomorphic-git would read from `bytes`: the pack (side band 1) and every other line's payload, in order. */
function demux(bytes: Buffer): { pack: Buffer; lines: string[] } {
  const pack: Buffer[] = [];
  const lines: string[] = [];
  for (let at = 0; at < bytes.length;) {
    const length = Number.parseInt(bytes.subarray(at, at + 4).toString('latin1'), 16);
    if (length <= 4) {
      lines.push('flush');
      at += 4;
      continue;
    }
    const payload = bytes.subarray(at + 4, at + length);
    if (payload[0] === 1) pack.push(payload.subarray(1));
    else lines.push(payload.toString('latin1'));
    at += length;
  }
  return { pack: Buffer.concat(pack), lines };
}

/** Feeds `bytes` to an indexing guard in chunks of `step`; returns what it passed on and what it stored. */
async function run(bytes: Buffer, step: number, accept = true): Promise<{ out: Buffer; stored?: IndexedPack }> {
  const guard = new PackGuard(LIMITS, { index: true });
  const out: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += step) out.push(...guard.push(bytes.subarray(i, i + step)));
  let stored: IndexedPack | undefined;
  out.push(
    ...(await guard.finish(async (p) => {
      stored = p;
      return accept;
    })),
  );
  return { out: Buffer.concat(out), ...(stored ? { stored } : {}) };
}

test.before(makeRepository);
test.after(() => rmSync(dir, { recursive: true, force: true }));

test('a pack with offset deltas is indexed in the pass: the index is git index-pack byte for byte, the objects are git', async () => {
  const pack = gitBytes(['pack-objects', '--stdout', '--revs', '--delta-base-offset', '-q'], 'HEAD\n');
  writeFileSync(path.join(dir, 'p.pack'), pack);
  git(['index-pack', '-o', 'p.idx', 'p.pack']);
  const deltas = git(['verify-pack', '-v', 'p.idx'])
    .split('\n')
    .filter((l) => /^[0-9a-f]{40} blob .* [0-9a-f]{40}$/.test(l));
  assert.ok(deltas.length >= 4, `git made deltas (${deltas.length})`);
  const idx = readFileSync(path.join(dir, 'p.idx'));
  for (const step of [1, 7, 4096, 1 << 20]) {
    const { out, stored } = await run(sideband(pack), step);
    assert.ok(stored, `indexed in chunks of ${step}`);
    assert.ok(stored!.index.equals(idx), `the index is git's, chunks of ${step}`);
    assert.ok(stored!.pack.equals(pack));
    const seen = demux(out);
    // isomorphic-git reads an empty pack (nothing to index again) and every other line as sent.
    assert.is(seen.pack.subarray(0, 12).toString('hex'), '5041434b0000000200000000');
    assert.is(seen.lines.filter((l) => l.startsWith('\x02Receiving')).length, Math.ceil(pack.length / 8000));
    assert.equal(seen.lines.slice(0, 3), [`shallow ${'a'.repeat(40)}\n`, 'flush', 'NAK\n']);
  }
  const { stored } = await run(sideband(pack), 65536);
  const listed = git(['ls-tree', '-r', 'HEAD']).split('\n');
  assert.is(listed.length, 7);
  for (const entry of listed) {
    const [, , oid, name] = entry.split(/\s+/);
    const object = stored!.objects.get(oid!);
    assert.is(object?.type, 'blob', name);
    assert.ok(object!.content.equals(readFileSync(path.join(dir, name!))), `${name} as in the commit`);
  }
});

test('deltas on object ids within the pack are resolved too', async () => {
  const pack = gitBytes(['pack-objects', '--stdout', '--revs', '-q'], 'HEAD\n');
  writeFileSync(path.join(dir, 'r.pack'), pack);
  git(['index-pack', '-o', 'r.idx', 'r.pack']);
  const { stored } = await run(sideband(pack), 1000);
  assert.ok(stored!.index.equals(readFileSync(path.join(dir, 'r.idx'))));
});

test('a thin pack (a delta on an object outside it) is passed on exactly as it came, and nothing is stored', async () => {
  const pack = gitBytes(['pack-objects', '--stdout', '--revs', '--thin', '-q'], 'HEAD\n^HEAD~1\n');
  for (const step of [3, 5000]) {
    const { out, stored } = await run(sideband(pack), step);
    assert.is(stored, undefined);
    const seen = demux(out);
    assert.ok(seen.pack.equals(pack), `the pack as sent, chunks of ${step}`);
    assert.is(seen.lines.at(-1), 'flush');
  }
});

test('a pack the store does not take (it could not write it) is passed on as it came', async () => {
  const pack = gitBytes(['pack-objects', '--stdout', '--revs', '-q'], 'HEAD\n');
  const { out, stored } = await run(sideband(pack), 9999, false);
  assert.ok(stored);
  assert.ok(demux(out).pack.equals(pack));
});

test('a damaged pack (its checksum does not match) is not indexed here', async () => {
  const pack = Buffer.from(gitBytes(['pack-objects', '--stdout', '--revs', '-q'], 'HEAD\n'));
  pack.writeUInt8(pack.at(-1)! ^ 1, pack.length - 1);
  const { out, stored } = await run(sideband(pack), 4096);
  assert.is(stored, undefined);
  assert.ok(demux(out).pack.equals(pack));
});

test('an object that inflates past the size its header declares is refused in the indexing pass too', async () => {
  const pack = Buffer.from(gitBytes(['pack-objects', '--stdout', '--revs', '-q'], 'HEAD\n'));
  // The first object is the commit, its size in the low four bits of the first header byte and the next byte.
  const header = pack[12]!;
  assert.ok(header & 0x80, 'a commit of 16 bytes or more');
  pack[13] = 0;
  const err = await run(sideband(pack), 512).catch((e: Error) => e);
  assert.instance(err, OversizedPackError);
  assert.match((err as Error).message, /^object 1 of \d+ in the pack inflates past the \d+ B its header declares/);
});

test('an object shorter than its header declares is not indexed (git refuses such a pack): passed on as it came', async () => {
  const pack = Buffer.from(gitBytes(['pack-objects', '--stdout', '--revs', '-q'], 'HEAD\n'));
  assert.ok(pack[12]! & 0x80 && !(pack[13]! & 0x80), 'the commit: a size of two header bytes');
  pack[13] = pack[13]! + 1; // declares 16 bytes more than the commit holds
  // A pack that is otherwise whole: its checksum made again.
  createHash('sha1')
    .update(pack.subarray(0, pack.length - 20))
    .digest()
    .copy(pack, pack.length - 20);
  for (const step of [7, 4096]) {
    const { out, stored } = await run(sideband(pack), step);
    assert.is(stored, undefined, `nothing stored, chunks of ${step}`);
    assert.ok(demux(out).pack.equals(pack));
  }
});

test('a pack whose deltas make more than the indexing pass may keep is left to isomorphic-git, as it came', async () => {
  // A 64 KiB blob, then a delta that copies it 16 times (1 MiB) at offset 12: within the object bound, over a
  // 512 KiB budget only once it is made.
  const base = Buffer.alloc(65536, 'a');
  const delta = Buffer.from([0x80, 0x80, 0x04, 0x80, 0x80, 0x40, ...Array(16).fill([0x80]).flat()]);
  const object = (type: number, size: number, extra: number[], data: Buffer) => {
    const head = [(type << 4) | (size & 15) | 0x80];
    for (let rest = size >> 4; rest > 0; rest >>= 7) head.push((rest & 0x7f) | (rest >= 128 ? 0x80 : 0));
    return Buffer.concat([Buffer.from([...head, ...extra]), deflateSync(data)]);
  };
  const first = object(3, base.length, [], base);
  const head = Buffer.from('PACK\0\0\0\x02\0\0\0\x02', 'latin1');
  const body = Buffer.concat([head, first, object(6, delta.length, [first.length], delta)]);
  const pack = Buffer.concat([body, createHash('sha1').update(body).digest()]);
  const guard = (maxKeptBytes: number) => new PackGuard(LIMITS, { index: true, maxKeptBytes });
  for (const [budget, indexed] of [
    [2 << 20, true],
    [512 << 10, false],
  ] as const) {
    const g = guard(budget);
    const out = g.push(sideband(pack));
    let stored: IndexedPack | undefined;
    out.push(...(await g.finish(async (p) => ((stored = p), true))));
    assert.is(stored !== undefined, indexed, `budget ${budget}`);
    if (indexed) assert.is([...stored!.objects.values()][1]!.content.length, 1 << 20);
    else assert.ok(demux(Buffer.concat(out)).pack.equals(pack));
  }
});

test('a delta that does not fit its base is refused, not applied', () => {
  const base = Buffer.from('0123456789');
  // base size 10, result size 4: copy 4 bytes from offset 2.
  assert.equal(applyDelta(base, Buffer.from([10, 4, 0x91, 2, 4]))?.toString(), '2345');
  // Copies past the end of the base, a wrong base size, a result shorter than declared, a zero opcode.
  assert.is(applyDelta(base, Buffer.from([10, 4, 0x91, 8, 4])), undefined);
  assert.is(applyDelta(base, Buffer.from([9, 4, 0x91, 2, 4])), undefined);
  assert.is(applyDelta(base, Buffer.from([10, 5, 0x91, 2, 4])), undefined);
  assert.is(applyDelta(base, Buffer.from([10, 4, 0])), undefined);
});

test("the table CRC-32 (for Node releases without zlib's) is zlib's", () => {
  // The check value of CRC-32, then a long run against zlib's own where Node has it.
  assert.is(tableCrc32(Buffer.from('123456789'), 0, 9), 0xcbf43926);
  const bytes = Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 7919) & 255));
  const native = (zlib as { crc32?: (b: Uint8Array) => number }).crc32;
  if (native) assert.is(tableCrc32(bytes, 5, 69_000), native(bytes.subarray(5, 69_000)) >>> 0);
});

test.run();

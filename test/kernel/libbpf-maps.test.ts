// Maps through the libbpf binding: element ops, iteration, batch ops and their fallback, per-CPU values,
// LPM tries, prog arrays (with a real tail call), maps of maps, pins and fd ownership.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProgramBuilder, R0, R1, R10, R2, R3 } from '../../src/asm/index.js';
import { catchBpf } from '../support/bpf-error.js';
import { XDP_DROP, XDP_PASS, xdpCounting, xdpReturning } from '../support/bpf-programs.js';
import { pinDir } from '../support/netns.js';
import {
  BpfMap,
  MapFlag,
  clearProgramSlot,
  createMap,
  getPinned,
  loadProgram,
  numPossibleCpus,
  openMapById,
  openPinnedMap,
  openPinnedProgram,
  programSlotId,
  readU32,
  readU64,
  setProgramSlot,
  u32,
  u64,
  unpin,
} from '../../src/libbpf/index.js';
import { kernelGate } from '../support/kernel-gate.js';

const packet = Buffer.alloc(64, 0xab);

const gate = kernelGate('libbpf-maps');
if (gate.runs) {
  test('hash map: update modes, lookup, delete and iteration behave as the kernel defines them', () => {
    const m = createMap({ type: 'HASH', name: 'ntt_hash', keySize: 4, valueSize: 8, maxEntries: 4 });
    try {
      assert.is(m.name, 'ntt_hash');
      m.update(1, u64(10));
      m.update(2, u64(20), 'noexist');
      assert.is(readU64(m.lookup(1)!), 10n);
      assert.is(m.lookup(9), undefined);

      const dup = catchBpf(() => m.update(2, u64(21), 'noexist'));
      assert.is(dup.errnoName, 'EEXIST');
      assert.match(dup.message, /already exists/);
      const missing = catchBpf(() => m.update(3, u64(30), 'exist'));
      assert.is(missing.errnoName, 'ENOENT');
      m.update(2, u64(22), 'exist');
      assert.is(readU64(m.lookup(2)!), 22n);

      m.update(3, u64(30));
      m.update(4, u64(40));
      const full = catchBpf(() => m.update(5, u64(50)));
      assert.is(full.errnoName, 'E2BIG');
      assert.match(full.message, /full/);

      assert.equal(
        m
          .keys()
          .map((k) => readU32(k))
          .sort(),
        [1, 2, 3, 4],
      );
      assert.is(m.delete(3), true);
      assert.is(m.delete(3), false);
      assert.equal(
        m
          .entries()
          .map((e) => [readU32(e.key), readU64(e.value)])
          .sort(),
        [
          [1, 10n],
          [2, 22n],
          [4, 40n],
        ],
      );

      const badKey = catchBpf(() => m.lookup(Buffer.alloc(3)));
      assert.is(badKey.code, 'bpf-invalid-argument');
    } finally {
      m.close();
    }
  });

  test('hash map batch ops: update, lookup in several rounds and delete (skipping absent keys)', () => {
    const m = createMap({ type: 'HASH', name: 'ntt_batch', keySize: 4, valueSize: 4, maxEntries: 256 });
    try {
      const entries = Array.from({ length: 100 }, (_, i) => ({ key: i + 1, value: u32((i + 1) * 3) }));
      assert.equal(m.updateBatch(entries), { count: 100, batched: true });
      const read = m.lookupBatch({ chunk: 7 });
      assert.is(read.batched, true);
      assert.is(read.entries.length, 100);
      for (const e of read.entries) assert.is(readU32(e.value), readU32(e.key) * 3);

      const del = m.deleteBatch([1, 2, 1000, 3, 2000, 4]);
      assert.equal(del, { count: 4, batched: true });
      assert.is(m.keys().length, 96);
      assert.is(m.lookup(2), undefined);
    } finally {
      m.close();
    }
  });

  test('array map: every index exists, batch ops work, delete is refused with EINVAL', () => {
    const m = createMap({ type: 'ARRAY', name: 'ntt_array', keySize: 4, valueSize: 8, maxEntries: 8 });
    try {
      assert.equal(m.lookup(5), Buffer.alloc(8));
      assert.equal(
        m.updateBatch([
          { key: 0, value: u64(7) },
          { key: 7, value: u64(9) },
        ]),
        { count: 2, batched: true },
      );
      const all = m.lookupBatch();
      assert.is(all.batched, true);
      assert.is(all.entries.length, 8);
      assert.is(readU64(all.entries[7]!.value), 9n);
      assert.equal(
        m.keys().map((k) => readU32(k)),
        [0, 1, 2, 3, 4, 5, 6, 7],
      );
      const err = catchBpf(() => m.delete(0));
      assert.is(err.errnoName, 'EINVAL');
      assert.is(err.code, 'bpf-syscall');
    } finally {
      m.close();
    }
  });

  test('array map: arrayValues reads every value in key order in runs of whole values, however the chunk falls', () => {
    const m = createMap({ type: 'ARRAY', name: 'ntt_arrvals', keySize: 4, valueSize: 4, maxEntries: 1000 });
    const h = createMap({ type: 'HASH', name: 'ntt_arrvals_h', keySize: 4, valueSize: 4, maxEntries: 4 });
    try {
      m.updateBatch(Array.from({ length: 1000 }, (_, i) => ({ key: i, value: u32(i * 7 + 1) })));
      for (const chunkBytes of [4 << 20, 4 * 333, 3]) {
        const firsts: number[] = [];
        const seen: number[] = [];
        m.arrayValues(
          (values, first) => {
            firsts.push(first);
            assert.is(values.length % 4, 0, 'whole values only');
            for (let o = 0; o < values.length; o += 4) seen.push(values.readUInt32LE(o));
          },
          { chunkBytes },
        );
        assert.equal(
          seen,
          Array.from({ length: 1000 }, (_, i) => i * 7 + 1),
          `every value in key order (${chunkBytes}-byte chunks)`,
        );
        assert.is(firsts.length, chunkBytes === 4 << 20 ? 1 : chunkBytes === 4 * 333 ? 4 : 1000);
      }
      assert.is(catchBpf(() => h.arrayValues(() => {})).code, 'bpf-invalid-argument', 'only ARRAY maps');
    } finally {
      m.close();
      h.close();
    }
  });

  test("mmapable array: writeArray writes keys 0..n-1 through one mapping, at the kernel's 8-byte stride", () => {
    // 4-byte values sit 8 bytes apart in the kernel's array; 1,288-byte ones cross page boundaries; a partial write
    // leaves the other slots zero.
    for (const [valueSize, maxEntries, count] of [
      [4, 1000, 1000],
      [40, 300, 257],
      [1288, 50, 50],
      [8200, 3, 2],
    ] as const) {
      const m = createMap({
        type: 'ARRAY',
        name: 'ntt_mmap',
        keySize: 4,
        valueSize,
        maxEntries,
        flags: MapFlag.MMAPABLE,
      });
      try {
        const values = Buffer.alloc(count * valueSize);
        for (let i = 0; i < values.length; i += 4) values.writeUInt32LE((i * 2654435761) >>> 0, i);
        m.writeArray(values);
        const read: Buffer[] = [];
        m.arrayValues((v) => read.push(Buffer.from(v)));
        const all = Buffer.concat(read);
        assert.is(all.length, maxEntries * valueSize);
        assert.ok(all.subarray(0, values.length).equals(values), `values of ${valueSize} bytes read back in key order`);
        assert.ok(
          all.subarray(values.length).every((b) => b === 0),
          'the slots past the write stay zero',
        );
        assert.ok(m.lookup(count - 1)!.equals(values.subarray((count - 1) * valueSize)), 'the last value by lookup');
        const tooMany = catchBpf(() => m.writeArray(Buffer.alloc((maxEntries + 1) * valueSize)));
        assert.is(tooMany.code, 'bpf-invalid-argument');
        assert.is(catchBpf(() => m.writeArray(Buffer.alloc(valueSize + 1))).code, 'bpf-invalid-argument');
      } finally {
        m.close();
      }
    }
    const plain = createMap({ type: 'ARRAY', name: 'ntt_nommap', keySize: 4, valueSize: 8, maxEntries: 4 });
    try {
      assert.is(catchBpf(() => plain.writeArray(Buffer.alloc(8))).code, 'bpf-invalid-argument', 'needs MMAPABLE');
    } finally {
      plain.close();
    }
  });

  test('mmapable array: a program reads what writeArray wrote', () => {
    const m = createMap({
      type: 'ARRAY',
      name: 'ntt_mmap_prog',
      keySize: 4,
      valueSize: 4,
      maxEntries: 8,
      flags: MapFlag.MMAPABLE,
    });
    try {
      const values = Buffer.alloc(32);
      for (let i = 0; i < 8; i++) values.writeUInt32LE(i === 5 ? XDP_DROP : XDP_PASS, i * 4);
      m.writeArray(values);
      // The program returns the value at key 5 (XDP_DROP), or XDP_PASS when the lookup misses.
      const p = new ProgramBuilder();
      p.st('u32', R10, -4, 5).mov64(R2, R10).alu64('add', R2, -4);
      p.ldMap(R1, 'values').call('map_lookup_elem');
      p.jmp('jeq', R0, 0, 'miss');
      p.ldx('u32', R0, R0, 0).exit();
      p.label('miss').mov64(R0, XDP_PASS).exit();
      const prog = loadProgram({
        type: 'XDP',
        name: 'ntt_mmap_rd',
        insns: p.assemble({ maps: { values: m.fd.fd } }).bytes,
      });
      try {
        assert.is(prog.testRun({ data: packet }).retval, XDP_DROP);
      } finally {
        prog.close();
      }
    } finally {
      m.close();
    }
  });

  test('per-CPU array: a program counts on the CPU it runs on, user space reads one value per possible CPU', () => {
    const m = createMap({ type: 'PERCPU_ARRAY', name: 'ntt_pcpu', keySize: 4, valueSize: 8, maxEntries: 1 });
    const prog = loadProgram({ type: 'XDP', name: 'ntt_pcpu_cnt', insns: xdpCounting(m.fd.fd) });
    try {
      const cpus = numPossibleCpus();
      assert.is(m.rawValueSize, 8 * cpus);
      const r = prog.testRun({ data: packet, repeat: 50 });
      assert.is(r.retval, XDP_PASS);
      const values = m.lookupPerCpu(0)!;
      assert.is(values.length, cpus);
      assert.is(
        values.reduce((s, v) => s + readU64(v), 0n),
        50n,
      );

      m.updatePerCpu(0, u64(1)); // one value for every CPU
      assert.equal(
        m.lookupPerCpu(0)!.map((v) => readU64(v)),
        Array(cpus).fill(1n),
      );
      const batch = m.lookupBatchPerCpu();
      assert.is(batch.batched, true);
      assert.is(batch.entries[0]!.values.length, cpus);
      assert.is(catchBpf(() => m.lookup(0)).code, 'bpf-invalid-argument');
    } finally {
      prog.close();
      m.close();
    }
  });

  test('LPM trie: the longest prefix wins, and batch ops read and delete prefixes', () => {
    const m = createMap({
      type: 'LPM_TRIE',
      name: 'ntt_lpm',
      keySize: 8,
      valueSize: 4,
      maxEntries: 16,
      flags: MapFlag.NO_PREALLOC,
    });
    const key = (prefix: number, ip: string) => Buffer.concat([u32(prefix), Buffer.from(ip.split('.').map(Number))]);
    try {
      m.update(key(8, '10.0.0.0'), u32(1));
      const up = m.updateBatch([
        { key: key(16, '10.1.0.0'), value: u32(2) },
        { key: key(24, '192.168.1.0'), value: u32(3) },
      ]);
      assert.is(up.count, 2); // 6.x kernels batch tries through the generic get_next_key path
      assert.is(readU32(m.lookup(key(32, '10.1.2.3'))!), 2);
      assert.is(readU32(m.lookup(key(32, '10.2.0.1'))!), 1);
      assert.is(m.lookup(key(32, '11.0.0.1')), undefined);
      const all = m.lookupBatch({ chunk: 2 });
      assert.equal(all.entries.map((e) => readU32(e.value)).sort(), [1, 2, 3]);
      assert.is(m.deleteBatch([key(16, '10.1.0.0'), key(16, '172.16.0.0')]).count, 1);
      assert.is(readU32(m.lookup(key(32, '10.1.2.3'))!), 1);
      assert.is(
        catchBpf(() => createMap({ type: 'LPM_TRIE', keySize: 8, valueSize: 4, maxEntries: 4 })).code,
        'bpf-invalid-argument',
      );
    } finally {
      m.close();
    }
  });

  test('prog array: a slot switches which program a tail call reaches, and reads back as a program id', () => {
    const jmp = createMap({ type: 'PROG_ARRAY', name: 'ntt_jmp', keySize: 4, valueSize: 4, maxEntries: 4 });
    const pass = loadProgram({ type: 'XDP', name: 'ntt_pass', insns: xdpReturning(XDP_PASS) });
    const entry = loadProgram({
      type: 'XDP',
      name: 'ntt_entry',
      // r1 still holds the context; r2 = prog array; r3 = slot 0; tail call; when the slot is empty: XDP_DROP.
      insns: new ProgramBuilder()
        .ldMap(R2, 'jmp')
        .mov64(R3, 0)
        .call('tail_call')
        .mov64(R0, XDP_DROP)
        .exit()
        .assemble({ maps: { jmp: jmp.fd.fd } }).bytes,
    });
    try {
      assert.is(entry.testRun({ data: packet }).retval, XDP_DROP);
      setProgramSlot(jmp, 0, pass);
      assert.is(programSlotId(jmp, 0), pass.id);
      assert.is(entry.testRun({ data: packet }).retval, XDP_PASS);
      assert.is(clearProgramSlot(jmp, 0), true);
      assert.is(clearProgramSlot(jmp, 0), false);
      assert.is(programSlotId(jmp, 0), undefined);
      assert.is(entry.testRun({ data: packet }).retval, XDP_DROP);
      assert.ok(entry.info().mapIds.includes(jmp.id), 'the entry program references the prog array');
      // Prog arrays have no batch lookup: the binding reads them one by one.
      setProgramSlot(jmp, 2, pass);
      const slots = jmp.lookupBatch();
      assert.is(slots.batched, false);
      assert.equal(
        slots.entries.map((e) => [readU32(e.key), readU32(e.value)]),
        [[2, pass.id]],
      );
    } finally {
      entry.close();
      pass.close();
      jmp.close();
    }
  });

  test('array of maps: slots hold inner maps, read back as map ids', () => {
    const inner = createMap({ type: 'ARRAY', name: 'ntt_inner', keySize: 4, valueSize: 4, maxEntries: 2 });
    const outer = createMap({
      type: 'ARRAY_OF_MAPS',
      name: 'ntt_outer',
      keySize: 4,
      valueSize: 4,
      maxEntries: 2,
      innerMap: inner,
    });
    try {
      outer.update(1, u32(inner.fd.fd));
      assert.is(readU32(outer.lookup(1)!), inner.id);
      const reopened = openMapById(inner.id);
      try {
        assert.is(reopened.name, 'ntt_inner');
        assert.is(reopened.fd.owned, true);
      } finally {
        reopened.close();
      }
    } finally {
      outer.close();
      inner.close();
    }
  });

  test('pins: a pinned map and program come back by path with their kind, and unpin removes them', () => {
    const bpffs = pinDir();
    const m = createMap({ type: 'HASH', name: 'ntt_pinned', keySize: 4, valueSize: 4, maxEntries: 4 });
    const prog = loadProgram({ type: 'XDP', name: 'ntt_pinprog', insns: xdpReturning(XDP_PASS) });
    try {
      const mapPath = join(bpffs.path, 'map');
      const progPath = join(bpffs.path, 'prog');
      m.pin(mapPath);
      prog.pin(progPath);
      m.update(7, u32(70));
      m.close();

      const got = getPinned(mapPath);
      assert.is(got.kind, 'map');
      got.fd.close();
      const again = openPinnedMap(mapPath);
      try {
        assert.is(readU32(again.lookup(7)!), 70, 'the pinned map outlived the fd it was created with');
      } finally {
        again.close();
      }
      const p = openPinnedProgram(progPath);
      try {
        assert.is(p.id, prog.id);
      } finally {
        p.close();
      }
      assert.is(catchBpf(() => openPinnedMap(progPath)).code, 'bpf-invalid-argument');
      assert.is(
        catchBpf(() => m.pin(join(bpffs.path, 'x'))).code,
        'bpf-invalid-argument',
        'a closed map cannot be pinned',
      );

      assert.is(unpin(mapPath), true);
      assert.is(unpin(mapPath), false);
      const gone = catchBpf(() => getPinned(mapPath));
      assert.is(gone.code, 'bpf-not-found');
      assert.is(gone.errnoName, 'ENOENT');

      const plain = mkdtempSync(join(tmpdir(), 'notrack-notbpffs-'));
      try {
        const e = catchBpf(() => prog.pin(join(plain, 'prog')));
        assert.is(e.errnoName, 'EPERM');
        assert.match(e.message, /not on a bpffs/);
      } finally {
        rmSync(plain, { recursive: true, force: true });
      }
    } finally {
      prog.close();
      m.close();
      bpffs.cleanup();
    }
  });

  test('fds: close is idempotent, a closed fd is never reused, a dup outlives the original', () => {
    const m = createMap({ type: 'ARRAY', name: 'ntt_fd', keySize: 4, valueSize: 4, maxEntries: 1 });
    const copy = m.fd.dup();
    m.close();
    m.close();
    assert.is(m.fd.closed, true);
    assert.is(catchBpf(() => m.lookup(0)).code, 'bpf-invalid-argument');
    const viaCopy = BpfMap.fromFd(copy);
    try {
      assert.is(viaCopy.id, m.id);
      assert.equal(viaCopy.lookup(0), Buffer.alloc(4));
    } finally {
      viaCopy.close();
    }
  });
}

test.run();

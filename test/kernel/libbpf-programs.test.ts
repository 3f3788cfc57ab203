// Programs through the libbpf binding: raw loads, verifier failures with their log, BPF_PROG_TEST_RUN
// (retval, data and metadata out, repeat and duration), program info and reopening by id.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProgramBuilder, R0, R1, R2, R3, R4, R6, R10 } from '../../src/asm/index.js';
import { catchBpf } from '../support/bpf-error.js';
import { XDP_DROP, XDP_PASS, xdpCounting, xdpReturning } from '../support/bpf-programs.js';
import { NetNs } from '../support/netns.js';
import {
  createMap,
  loadProgram,
  openProgramById,
  programInfo,
  readU64,
  testRunXdp,
  verifierReason,
} from '../../src/libbpf/index.js';
import { kernelGate } from '../support/kernel-gate.js';
import { readableCopy } from '../support/readable-copy.js';

const HELPER_XDP_ADJUST_HEAD = 44; // not among the helpers the assembler names

const packet = Buffer.from(Array.from({ length: 64 }, (_, i) => i));

const gate = kernelGate('libbpf-programs');
if (gate.runs) {
  test('a raw XDP program loads, runs on a packet and returns its verdict; repeat gives a measured duration', () => {
    const prog = loadProgram({ type: 'XDP', name: 'ntt_drop', insns: xdpReturning(XDP_DROP) });
    try {
      const once = prog.testRun({ data: packet });
      assert.is(once.retval, XDP_DROP);
      assert.equal(once.data, packet, 'the packet comes back unchanged');
      const many = prog.testRun({ data: packet, repeat: 10_000 });
      assert.is(many.retval, XDP_DROP);
      assert.ok(many.durationNs > 0, `average duration ${many.durationNs} ns`);
    } finally {
      prog.close();
    }
  });

  test('test run returns the packet as the program resized it', () => {
    // bpf_xdp_adjust_head(ctx, 14): strip the Ethernet header.
    const prog = loadProgram({
      type: 'XDP',
      name: 'ntt_strip',
      insns: new ProgramBuilder().mov64(R2, 14).call(HELPER_XDP_ADJUST_HEAD).mov64(R0, XDP_PASS).exit().assemble()
        .bytes,
    });
    try {
      const r = prog.testRunXdp({ packet });
      assert.is(r.action, XDP_PASS);
      assert.equal(r.packet, packet.subarray(14));
      assert.is(r.ctx!.dataEnd - r.ctx!.data, 50);
    } finally {
      prog.close();
    }
  });

  test('XDP metadata written with bpf_xdp_adjust_meta comes back split from the packet, in front of any given metadata', () => {
    const prog = loadProgram({
      type: 'XDP',
      name: 'ntt_meta',
      insns: new ProgramBuilder()
        .mov64(R6, R1) // r6 = ctx
        .mov64(R2, -4)
        .call('xdp_adjust_meta') // make 4 bytes of room in front of data
        .jmp('jne', R0, 0, 'fail')
        .ldx('u32', R2, R6, 8) // r2 = ctx->data_meta
        .ldx('u32', R3, R6, 0) // r3 = ctx->data
        .mov64(R4, R2)
        .alu64('add', R4, 4)
        .jmp('jgt', R4, R3, 'fail')
        .st('u32', R2, 0, 0x1234abcd) // the flag
        .mov64(R0, XDP_PASS)
        .exit()
        .label('fail')
        .mov64(R0, XDP_DROP)
        .exit()
        .assemble().bytes,
    });
    try {
      const r = testRunXdp(prog, { packet });
      assert.is(r.action, XDP_PASS);
      assert.equal(r.meta, Buffer.from([0xcd, 0xab, 0x34, 0x12]));
      assert.equal(r.packet, packet);
      assert.is(r.ctx!.data, 4);

      const given = Buffer.from([1, 2, 3, 4]);
      const r2 = testRunXdp(prog, { packet, meta: given });
      assert.equal(r2.meta, Buffer.from([0xcd, 0xab, 0x34, 0x12, 1, 2, 3, 4]));
      assert.equal(r2.packet, packet);
      assert.is(catchBpf(() => testRunXdp(prog, { packet, meta: Buffer.alloc(3) })).code, 'bpf-invalid-argument');
    } finally {
      prog.close();
    }
  });

  test('a program that references a map by fd counts runs in it, and its info lists the map', () => {
    const counts = createMap({ type: 'ARRAY', name: 'ntt_counts', keySize: 4, valueSize: 8, maxEntries: 1 });
    const prog = loadProgram({ type: 'XDP', name: 'ntt_count', insns: xdpCounting(counts.fd.fd) });
    try {
      assert.is(prog.testRun({ data: packet, repeat: 25 }).retval, XDP_PASS);
      assert.is(readU64(counts.lookup(0)!), 25n);
      const info = programInfo(prog.fd);
      assert.is(info.name, 'ntt_count');
      assert.is(info.typeName, 'XDP');
      assert.match(info.tag, /^[0-9a-f]{16}$/);
      assert.equal(info.mapIds, [counts.id]);
      assert.ok(info.xlatedLength >= 10 * 8, `xlated ${info.xlatedLength} bytes`);
      assert.ok(info.verifiedInstructions > 0);

      const again = openProgramById(info.id);
      try {
        assert.is(again.fd.owned, true);
        assert.is(again.tag, info.tag);
        assert.is(again.testRun({ data: packet }).retval, XDP_PASS);
      } finally {
        again.close();
      }
      assert.is(readU64(counts.lookup(0)!), 26n);
    } finally {
      prog.close();
      counts.close();
    }
  });

  test('a program the verifier rejects gives bpf-verifier with errno and a log that names the problem', () => {
    const e = catchBpf(() =>
      loadProgram({
        type: 'XDP',
        name: 'ntt_uninit',
        insns: new ProgramBuilder().mov64(R0, R2).exit().assemble().bytes,
      }),
    );
    assert.is(e.code, 'bpf-verifier');
    assert.is(e.errno, 13);
    assert.is(e.errnoName, 'EACCES');
    assert.match(e.verifierLog, /R2 !read_ok/);
    assert.match(e.message, /verifier rejected the program: R2 !read_ok/);
    assert.is(verifierReason(e.verifierLog), 'R2 !read_ok');
  });

  test('a map value used without a null check is rejected, and the log says why', () => {
    const m = createMap({ type: 'HASH', name: 'ntt_nullchk', keySize: 4, valueSize: 8, maxEntries: 1 });
    try {
      const e = catchBpf(() =>
        loadProgram({
          type: 'XDP',
          name: 'ntt_nonull',
          insns: new ProgramBuilder()
            .st('u32', R10, -4, 0)
            .mov64(R2, R10)
            .alu64('add', R2, -4)
            .ldMap(R1, 'm')
            .call('map_lookup_elem')
            .ldx('u64', R0, R0, 0) // r0 = *(u64 *)(r0 + 0) without checking r0
            .exit()
            .assemble({ maps: { m: m.fd.fd } }).bytes,
        }),
      );
      assert.is(e.code, 'bpf-verifier');
      assert.match(e.verifierLog, /map_value_or_null/);
    } finally {
      m.close();
    }
  });

  test('a program asked to keep its log keeps it on success', () => {
    const prog = loadProgram({ type: 'XDP', name: 'ntt_logged', insns: xdpReturning(XDP_PASS), logLevel: 2 });
    try {
      assert.match(prog.verifierLog, /processed 2 insns/);
    } finally {
      prog.close();
    }
  });

  test('live frames: the program runs on frames injected in a test namespace, and nothing comes back', () => {
    const prog = loadProgram({ type: 'XDP', name: 'ntt_live', insns: xdpReturning(XDP_PASS) });
    const ns = NetNs.create('l');
    try {
      const r = ns.enter(() => testRunXdp(prog, { packet, liveFrames: true, repeat: 8, batchSize: 4 }));
      assert.ok(r.durationNs > 0);
      assert.is(r.packet.length, 0);
      assert.is(r.ctx, undefined);
    } finally {
      ns.delete();
      prog.close();
    }
  });

  test('without privileges the error is bpf-permission and says what is needed', () => {
    // The checkout may be under a folder nobody can enter: the unprivileged child imports a copy it can read.
    const copy = readableCopy();
    const tmp = mkdtempSync(join(tmpdir(), 'notrack-unpriv-'));
    chmodSync(tmp, 0o777); // the unprivileged child's tsx cache goes here
    try {
      const script = `import { createMap } from ${JSON.stringify(join(copy.root, 'src/libbpf/index.ts'))};
try { createMap({ type: 'HASH', keySize: 4, valueSize: 4, maxEntries: 1 }); console.log('{}'); }
catch (e) { console.log(JSON.stringify({ code: e.code, errno: e.errno, errnoName: e.errnoName, message: e.message })); }`;
      const r = spawnSync(
        'setpriv',
        [
          '--reuid=65534',
          '--regid=65534',
          '--clear-groups',
          '--inh-caps=-all',
          process.execPath,
          '--import',
          'tsx',
          '--input-type=module',
          '-e',
          script,
        ],
        { cwd: copy.root, encoding: 'utf8', env: { ...process.env, TMPDIR: tmp }, timeout: 60_000 },
      );
      assert.is(r.status, 0, r.stderr);
      const e = JSON.parse(r.stdout.trim()) as { code: string; errno: number; errnoName: string; message: string };
      assert.is(e.code, 'bpf-permission');
      assert.is(e.errnoName, 'EPERM');
      assert.match(e.message, /needs root or CAP_BPF/);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
      copy.remove();
    }
  });

  test('malformed input is refused before the kernel sees it', () => {
    assert.is(catchBpf(() => loadProgram({ type: 'XDP', insns: Buffer.alloc(12) })).code, 'bpf-invalid-argument');
    assert.is(
      catchBpf(() => loadProgram({ type: 'XDP', name: 'has space', insns: xdpReturning(XDP_PASS) })).code,
      'bpf-invalid-argument',
    );
    const e = catchBpf(() => openProgramById(0x7ffffff0));
    assert.is(e.code, 'bpf-not-found');
    assert.is(e.errnoName, 'ENOENT');
  });
}

test.run();

// ELF objects through the libbpf binding: a small C program compiled here with clang, opened, adjusted
// (.rodata constants, pin paths, reused maps, program type, autoload), loaded and run; verifier failures in objects.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { catchBpf } from '../support/bpf-error.js';
import { bpfBuildDir } from '../support/bpf-objects.js';
import { XDP_DROP, XDP_PASS } from '../support/bpf-programs.js';
import { pinDir } from '../support/netns.js';
import { BpfObject, openPinnedMap, readU64, u32 } from '../../src/libbpf/index.js';
import { kernelGate } from '../support/kernel-gate.js';

const packet = Buffer.alloc(64, 0x5a);

const SOURCE = `
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

const volatile __u32 verdict = XDP_PASS;

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u64);
} hits SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 8);
  __type(key, __u32);
  __type(value, __u32);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} shared SEC(".maps");

SEC("xdp")
int xdp_verdict(struct xdp_md *ctx) {
  __u32 k = 0;
  __u64 *v = bpf_map_lookup_elem(&hits, &k);
  if (v) __sync_fetch_and_add(v, 1);
  return verdict;
}

SEC("tc")
int tc_ok(struct __sk_buff *skb) { return 0; }

SEC("notrack/custom")
int untyped(struct xdp_md *ctx) { return XDP_PASS; }

char LICENSE[] SEC("license") = "GPL";
`;

const BAD_SOURCE = `
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int xdp_fine(struct xdp_md *ctx) { return XDP_PASS; }

SEC("xdp")
int xdp_unchecked(struct xdp_md *ctx) {
  unsigned char *p = (void *)(long)ctx->data;
  return p[20];
}

char LICENSE[] SEC("license") = "GPL";
`;

const gate = kernelGate('libbpf-objects', { clang: true });
if (gate.runs) {
  const build = bpfBuildDir('objects');
  let objPath = '';
  let badPath = '';
  test.before(() => {
    objPath = build.compile('sample', SOURCE);
    badPath = build.compile('bad', BAD_SOURCE);
  });
  test.after(() => {
    build.cleanup();
  });

  test('an opened object lists its programs and maps by name, with types from the section names', () => {
    const obj = BpfObject.open(objPath);
    try {
      assert.is(obj.name, 'sample');
      const progs = obj.programs().map((p) => [p.name, p.sectionName, p.typeName]);
      assert.equal(progs, [
        ['xdp_verdict', 'xdp', 'XDP'],
        ['tc_ok', 'tc', 'SCHED_CLS'],
        ['untyped', 'notrack/custom', 'type0'],
      ]);
      const maps = obj.maps().map((m) => m.name);
      assert.ok(maps.includes('hits') && maps.includes('shared'), maps.join(','));
      assert.is(obj.map('hits').typeName, 'ARRAY');
      assert.is(obj.map('hits').valueSize, 8);
      assert.is(obj.rodata()?.name, 'sample.rodata');
      const missing = catchBpf(() => obj.program('nope'));
      assert.is(missing.code, 'bpf-not-found');
      assert.match(missing.message, /xdp_verdict/);
    } finally {
      obj.close();
    }
  });

  test('.rodata constants set before load change what the loaded program does', () => {
    const bpffs = pinDir();
    const obj = BpfObject.open(objPath, { pinRoot: bpffs.path });
    try {
      const rodata = obj.rodata()!;
      assert.equal(rodata.initialValue(), u32(XDP_PASS));
      rodata.setInitialValue(u32(XDP_DROP));
      obj.program('untyped').setType('XDP');
      obj.load();
      assert.is(obj.loaded, true);
      const prog = obj.program('xdp_verdict').program();
      assert.is(prog.fd.owned, false, 'the object owns its programs');
      assert.is(prog.testRun({ data: packet, repeat: 3 }).retval, XDP_DROP);
      assert.is(readU64(obj.map('hits').map().lookup(0)!), 3n);
      assert.is(obj.program('untyped').program().info().typeName, 'XDP');
      assert.is(
        catchBpf(() => rodata.setInitialValue(u32(XDP_PASS))).code,
        'bpf-syscall',
        'initial values are fixed after load',
      );
    } finally {
      obj.close();
      bpffs.cleanup();
    }
  });

  test('maps pinned by name are reused by the next object; set pin paths and reused fds share maps too', () => {
    const bpffs = pinDir();
    const first = BpfObject.open(objPath, { pinRoot: bpffs.path });
    let second: BpfObject | undefined;
    let third: BpfObject | undefined;
    try {
      first.program('untyped').setAutoload(false);
      first.map('hits').setPinPath(join(bpffs.path, 'hits'));
      first.load();
      assert.ok(existsSync(join(bpffs.path, 'shared')), 'LIBBPF_PIN_BY_NAME pinned under pinRoot');
      assert.is(
        catchBpf(() => first.program('untyped').program()).code,
        'bpf-invalid-argument',
        'autoload false: not loaded',
      );
      const shared1 = first.map('shared').map();
      shared1.update(1, u32(111));

      second = BpfObject.open(objPath, { pinRoot: bpffs.path });
      second.program('untyped').setAutoload(false);
      second.map('hits').setPinPath(join(bpffs.path, 'hits'));
      second.load();
      assert.is(second.map('shared').map().id, shared1.id);
      assert.is(second.map('shared').map().lookup(1)!.readUInt32LE(0), 111);
      assert.is(second.map('hits').map().id, first.map('hits').map().id);

      // Explicit reuse of a map from a pin, without pin paths on the new object.
      const pinnedHits = openPinnedMap(join(bpffs.path, 'hits'));
      try {
        third = BpfObject.open(objPath, { pinRoot: bpffs.path });
        third.program('untyped').setAutoload(false);
        third.map('hits').reuseFd(pinnedHits);
        third.load();
        third.program('xdp_verdict').program().testRun({ data: packet, repeat: 5 });
        assert.is(readU64(pinnedHits.lookup(0)!), 5n, "the third object counted into the first object's map");
      } finally {
        pinnedHits.close();
      }
    } finally {
      third?.close();
      second?.close();
      first.close();
      bpffs.cleanup();
    }
  });

  test('a program that fails the verifier in an object is named in the error, with its log', () => {
    const obj = BpfObject.open(badPath);
    try {
      const e = catchBpf(() => obj.load());
      assert.is(e.code, 'bpf-verifier');
      assert.is(e.errnoName, 'EACCES');
      assert.match(e.message, /program xdp_unchecked/);
      assert.match(e.verifierLog, /invalid access to packet/);
      assert.is(obj.loaded, false);
    } finally {
      obj.close();
    }
  });

  test('a missing or malformed object file is reported as such', () => {
    const missing = catchBpf(() => BpfObject.open(join(build.path, 'nope.o')));
    assert.is(missing.code, 'bpf-not-found');
    const junk = join(build.path, 'junk.o');
    writeFileSync(junk, 'not an ELF file');
    const bad = catchBpf(() => BpfObject.open(junk));
    assert.is(bad.code, 'bpf-object');
    assert.ok(bad.libbpfOutput.length > 0, 'libbpf said why');
  });
}

test.run();

// TC through the libbpf binding, inside test namespaces: tcx links (query, traffic, update, other programs
// beside ours) and the clsact + cls_bpf path (forced), which removes only what it created.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kernelSkipReason, vethPair, type VethPair } from '../support/netns.js';
import {
  attachTc, BpfError, BpfObject, clsBpfFilters, clsBpfQuery, foreignTcPrograms, interfaceAttachments, interfaceIndex,
  readU64, tcxQuery, type BpfProgram, type TcAttachment,
} from '../../src/libbpf/index.js';

const SOURCE = `
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u64);
} seen SEC(".maps");

SEC("tc")
int tc_count(struct __sk_buff *skb) {
  __u32 k = 0;
  __u64 *v = bpf_map_lookup_elem(&seen, &k);
  if (v) __sync_fetch_and_add(v, 1);
  return 0;
}

SEC("tc")
int tc_other(struct __sk_buff *skb) { return 0; }

SEC("tc")
int tc_next(struct __sk_buff *skb) { return 0; }

char LICENSE[] SEC("license") = "GPL";
`;

function archIncludes(): string[] {
  const triple = process.arch === 'arm64' ? 'aarch64-linux-gnu' : 'x86_64-linux-gnu';
  return existsSync(`/usr/include/${triple}`) ? [`-I/usr/include/${triple}`] : [];
}

function compile(dir: string, name: string, source: string): string {
  const src = join(dir, `${name}.c`);
  const obj = join(dir, `${name}.o`);
  writeFileSync(src, source);
  const r = spawnSync('clang', ['-O2', '-g', '-target', 'bpf', ...archIncludes(), '-c', src, '-o', obj], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`clang failed for ${name}.c:\n${r.stderr}`);
  return obj;
}

const skip = kernelSkipReason() ?? (spawnSync('clang', ['--version']).status === 0 ? null : 'clang is not installed');
if (skip) {
  console.log(`libbpf-tc: skipped: ${skip}`);
} else {
  const dir = mkdtempSync(join(tmpdir(), 'notrack-tc-'));
  let net: VethPair | undefined;
  let obj: BpfObject | undefined;
  let objPath = '';
  let count: BpfProgram;
  let other: BpfProgram;
  let next: BpfProgram;

  test.before(() => {
    objPath = compile(dir, 'tc_sample', SOURCE);
    obj = BpfObject.open(objPath);
    obj.load();
    count = obj.program('tc_count').program();
    other = obj.program('tc_other').program();
    next = obj.program('tc_next').program();
    net = vethPair(42);
  });
  test.after(() => {
    net?.a.delete();
    net?.b.delete();
    obj?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const seen = (): bigint => readU64(obj!.map('seen').map().lookup(0)!);
  const qdiscs = (): string => net!.a.exec(['tc', 'qdisc', 'show', 'dev', net!.aDev]).stdout;

  test('tcx: attached through a link, listed by the query with its link, runs on real traffic, detaches cleanly', () => {
    const { a, aDev, b, aAddr4 } = net!;
    let att: TcAttachment | undefined;
    try {
      const state = a.enter(() => {
        att = attachTc({ ifindex: interfaceIndex(aDev), program: count });
        return tcxQuery(att.ifindex, 'ingress');
      });
      assert.is(att!.mechanism, 'tcx');
      assert.is(att!.progId, count.id);
      assert.is(state.supported, true);
      assert.equal(state.programIds, [count.id]);
      assert.equal(state.linkIds, [att!.link!.info().id]);
      const linkInfo = att!.link!.info();
      assert.is(linkInfo.typeName, 'TCX');
      assert.equal(linkInfo.tcx, { ifindex: att!.ifindex, attachType: 46, direction: 'ingress' });
      assert.equal(a.enter(() => tcxQuery(att!.ifindex, 'egress')).programIds, []);

      const before = seen();
      b.exec(['ping', '-c', '2', '-i', '0.2', '-W', '2', aAddr4]);
      assert.ok(seen() - before >= 2n, `tcx saw ${seen() - before} packets`);
    } finally {
      if (att) a.enter(() => att!.detach());
    }
    assert.equal(a.enter(() => tcxQuery(interfaceIndex(aDev), 'ingress')).programIds, []);
    assert.not.match(qdiscs(), /clsact/, 'tcx needs no qdisc');
  });

  test('tcx: other programs sit beside ours and are told apart; a link update swaps only ours', () => {
    const { a, aDev } = net!;
    let mine: TcAttachment | undefined;
    let theirs: TcAttachment | undefined;
    try {
      a.enter(() => {
        const ifindex = interfaceIndex(aDev);
        theirs = attachTc({ ifindex, program: other, mechanism: 'tcx' });
        mine = attachTc({ ifindex, program: count, mechanism: 'tcx' });
      });
      const att = a.enter(() => interfaceAttachments(mine!.ifindex));
      assert.is(att.ifname, aDev);
      assert.equal(att.tcx.ingress.programIds, [other.id, count.id], 'run order: attach order');
      assert.equal(foreignTcPrograms(att, [count.id]), [other.id]);
      assert.equal(att.clsBpf.ingress, []);
      const revision = att.tcx.ingress.revision;

      const dup = catchBpf(() => mine!.link!.update(other));
      assert.is(dup.errnoName, 'EEXIST', 'tcx holds a program once per hook');
      assert.match(dup.message, /already attached/);
      mine!.link!.update(next, { expected: count });
      const after = a.enter(() => tcxQuery(mine!.ifindex, 'ingress'));
      assert.equal(after.programIds, [other.id, next.id]);
      assert.ok(after.revision > revision, 'the kernel bumped the hook revision');
    } finally {
      a.enter(() => {
        mine?.detach();
        theirs?.detach();
      });
    }
    assert.equal(a.enter(() => tcxQuery(interfaceIndex(aDev), 'ingress')).programIds, []);
  });

  test('cls_bpf (forced): creates clsact, the filter runs on traffic and is found by query; detach removes both', () => {
    const { a, aDev, b, aAddr4 } = net!;
    let att: TcAttachment | undefined;
    try {
      a.enter(() => {
        att = attachTc({ ifindex: interfaceIndex(aDev), program: count, mechanism: 'cls_bpf' });
      });
      assert.is(att!.mechanism, 'cls_bpf');
      assert.is(att!.createdQdisc, true);
      assert.is(att!.progId, count.id);
      assert.match(qdiscs(), /clsact/);
      const q = a.enter(() => ({
        id: clsBpfQuery({ ifindex: att!.ifindex, direction: 'ingress', handle: 1, priority: 1 }),
        none: clsBpfQuery({ ifindex: att!.ifindex, direction: 'egress', handle: 1, priority: 1 }),
        filters: clsBpfFilters(att!.ifindex, 'ingress'),
        tcx: tcxQuery(att!.ifindex, 'ingress'),
      }));
      assert.is(q.id, count.id);
      assert.is(q.none, undefined);
      assert.equal(q.filters, [{ direction: 'ingress', priority: 1, handle: 1, progId: count.id, progName: 'tc_count', directAction: true }]);
      assert.equal(q.tcx.programIds, [], 'cls_bpf is not tcx');

      const before = seen();
      b.exec(['ping', '-c', '2', '-i', '0.2', '-W', '2', aAddr4]);
      assert.ok(seen() - before >= 2n, `cls_bpf saw ${seen() - before} packets`);
    } finally {
      if (att) a.enter(() => att!.detach());
    }
    assert.equal(a.enter(() => clsBpfFilters(interfaceIndex(aDev), 'ingress')), []);
    assert.not.match(qdiscs(), /clsact/, 'the qdisc we created is gone');
  });

  test('cls_bpf: a taken handle/priority is a conflict, and detach leaves filters it did not create', () => {
    const { a, aDev } = net!;
    let att: TcAttachment | undefined;
    try {
      a.enter(() => {
        att = attachTc({ ifindex: interfaceIndex(aDev), program: count, mechanism: 'cls_bpf' });
      });
      const e = catchBpf(() => a.enter(() => attachTc({ ifindex: interfaceIndex(aDev), program: other, mechanism: 'cls_bpf' })));
      assert.is(e.code, 'bpf-tc-conflict');
      assert.match(e.message, /handle 1 priority 1 .*tc_count/);
      // Someone else adds a filter of their own after us.
      a.exec(['tc', 'filter', 'add', 'dev', aDev, 'ingress', 'pref', '5', 'handle', '0x5', 'bpf', 'da', 'obj', objPath, 'sec', 'tc']);
      a.enter(() => att!.detach());
      att = undefined;
      const left = a.enter(() => clsBpfFilters(interfaceIndex(aDev), 'ingress'));
      assert.equal(left.map((f) => [f.priority, f.handle]), [[5, 5]], 'their filter stays');
      assert.match(qdiscs(), /clsact/, 'the qdisc stays while their filter uses it');
    } finally {
      if (att) a.enter(() => att!.detach());
      a.exec(['tc', 'qdisc', 'del', 'dev', aDev, 'clsact'], { allowFail: true });
    }
  });
}

function catchBpf(fn: () => unknown): BpfError {
  try {
    fn();
  } catch (e) {
    if (e instanceof BpfError) return e;
    throw e;
  }
  throw new Error('expected a BpfError');
}

test.run();

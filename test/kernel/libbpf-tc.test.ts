// TC through the libbpf binding, inside test namespaces: tcx links (query, traffic, update, other programs
// beside ours) and the clsact + cls_bpf path (forced), which removes only what it created (the dataplane's detachTc
// removes the qdisc, once tc says no filter is left on it).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { catchBpf } from '../support/bpf-error.js';
import { openAttachFixture, SEEN_COUNTER_C, type AttachFixture } from '../support/attach-fixture.js';
import {
  attachTc,
  clsBpfQuery,
  interfaceIndex,
  tcxQuery,
  type BpfProgram,
  type TcAttachment,
} from '../../src/libbpf/index.js';
import { kernelGate } from '../support/kernel-gate.js';
import { clsBpfFilters, detachTc, foreignTcPrograms, interfaceAttachments } from '../../src/dataplane/tc-filters.js';

const SOURCE = `${SEEN_COUNTER_C}
SEC("tc")
int tc_count(struct __sk_buff *skb) { count_seen(); return 0; }

SEC("tc")
int tc_other(struct __sk_buff *skb) { return 0; }

SEC("tc")
int tc_next(struct __sk_buff *skb) { return 0; }

char LICENSE[] SEC("license") = "GPL";
`;

const gate = kernelGate('libbpf-tc', { clang: true });
if (gate.runs) {
  let fixture: AttachFixture | undefined;
  let count: BpfProgram;
  let other: BpfProgram;
  let next: BpfProgram;

  test.before(() => {
    fixture = openAttachFixture({ tag: 'tc', source: SOURCE, subnet: 42 });
    count = fixture.obj.program('tc_count').program();
    other = fixture.obj.program('tc_other').program();
    next = fixture.obj.program('tc_next').program();
  });
  test.after(() => {
    fixture?.close();
  });

  const net = () => fixture!.net;
  const qdiscs = (): string => net().a.exec(['tc', 'qdisc', 'show', 'dev', net().aDev]).stdout;

  test('tcx: attached through a link, listed by the query with its link, runs on real traffic, detaches cleanly', () => {
    const { a, aDev } = net();
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

      const seen = fixture!.seenDuringPing();
      assert.ok(seen >= 2n, `tcx saw ${seen} packets`);
    } finally {
      if (att) a.enter(() => detachTc(att!));
    }
    assert.equal(a.enter(() => tcxQuery(interfaceIndex(aDev), 'ingress')).programIds, []);
    assert.not.match(qdiscs(), /clsact/, 'tcx needs no qdisc');
  });

  test('tcx: other programs sit beside ours and are told apart; a link update swaps only ours', () => {
    const { a, aDev } = net();
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
    const { a, aDev } = net();
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
      assert.equal(q.filters, [
        { direction: 'ingress', priority: 1, handle: 1, progId: count.id, progName: 'tc_count', directAction: true },
      ]);
      assert.equal(q.tcx.programIds, [], 'cls_bpf is not tcx');

      const seen = fixture!.seenDuringPing();
      assert.ok(seen >= 2n, `cls_bpf saw ${seen} packets`);
    } finally {
      if (att) a.enter(() => detachTc(att!));
    }
    assert.equal(
      a.enter(() => clsBpfFilters(interfaceIndex(aDev), 'ingress')),
      [],
    );
    assert.not.match(qdiscs(), /clsact/, 'the qdisc we created is gone');
  });

  test('cls_bpf: a taken handle/priority is a conflict, and detach leaves filters it did not create', () => {
    const { a, aDev } = net();
    let att: TcAttachment | undefined;
    try {
      a.enter(() => {
        att = attachTc({ ifindex: interfaceIndex(aDev), program: count, mechanism: 'cls_bpf' });
      });
      const e = catchBpf(() =>
        a.enter(() => attachTc({ ifindex: interfaceIndex(aDev), program: other, mechanism: 'cls_bpf' })),
      );
      assert.is(e.code, 'bpf-tc-conflict');
      assert.match(e.message, /handle 1 priority 1 .*tc_count/);
      // Someone else adds a filter of their own after us.
      a.exec([
        'tc',
        'filter',
        'add',
        'dev',
        aDev,
        'ingress',
        'pref',
        '5',
        'handle',
        '0x5',
        'bpf',
        'da',
        'obj',
        fixture!.objPath,
        'sec',
        'tc',
      ]);
      a.enter(() => detachTc(att!));
      att = undefined;
      const left = a.enter(() => clsBpfFilters(interfaceIndex(aDev), 'ingress'));
      assert.equal(
        left.map((f) => [f.priority, f.handle]),
        [[5, 5]],
        'their filter stays',
      );
      assert.match(qdiscs(), /clsact/, 'the qdisc stays while their filter uses it');
    } finally {
      if (att) a.enter(() => detachTc(att!));
      a.exec(['tc', 'qdisc', 'del', 'dev', aDev, 'clsact'], { allowFail: true });
    }
  });
}

test.run();

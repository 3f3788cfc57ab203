// XDP through BPF links, inside test namespaces: native and generic attach read back by query, real traffic
// counted, atomic link update, detach, pinned links, the native-to-generic fallback, and foreign programs
// (attached with ip) reported as conflicts and left in place.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { catchBpf } from '../support/bpf-error.js';
import { openAttachFixture, SEEN_COUNTER_C, type AttachFixture } from '../support/attach-fixture.js';
import { NetNs, pinDir } from '../support/netns.js';
import {
  attachXdp,
  foreignXdpPrograms,
  interfaceIndex,
  openLinkById,
  openPinnedLink,
  unpin,
  xdpQuery,
  type BpfProgram,
  type XdpAttachment,
} from '../../src/libbpf/index.js';
import { kernelGate } from '../support/kernel-gate.js';

const SOURCE = `${SEEN_COUNTER_C}
SEC("xdp")
int xdp_count(struct xdp_md *ctx) { count_seen(); return XDP_PASS; }

SEC("xdp")
int xdp_pass(struct xdp_md *ctx) { return XDP_PASS; }

char LICENSE[] SEC("license") = "GPL";
`;

const FOREIGN = `
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
SEC("xdp")
int someone_else(struct xdp_md *ctx) { return XDP_PASS; }
char LICENSE[] SEC("license") = "GPL";
`;

/** Waits up to `ms` for `cond` (link release after the last reference can be deferred by the kernel). */
function eventually(cond: () => boolean, ms = 3000): boolean {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    spawnSync('sleep', ['0.05']);
  }
  return cond();
}

const gate = kernelGate('libbpf-xdp', { clang: true });
if (gate.runs) {
  let fixture: AttachFixture | undefined;
  let foreignObj = '';
  let count: BpfProgram;
  let pass: BpfProgram;

  test.before(() => {
    fixture = openAttachFixture({ tag: 'xdp', source: SOURCE, subnet: 41 });
    count = fixture.obj.program('xdp_count').program();
    pass = fixture.obj.program('xdp_pass').program();
    foreignObj = fixture.build.compile('foreign', FOREIGN);
  });
  test.after(() => {
    fixture?.close();
  });

  const net = () => fixture!.net;

  test('native attach: the query reports native mode and our program, and real packets run through it', () => {
    const { a, aDev } = net();
    let att: XdpAttachment | undefined;
    try {
      const state = a.enter(() => {
        att = attachXdp({ ifindex: interfaceIndex(aDev), program: count, mode: 'native' });
        return xdpQuery(att.ifindex);
      });
      assert.is(att!.mode, 'native');
      assert.is(att!.ifname, aDev);
      assert.is(state.mode, 'native');
      assert.is(state.nativeProgId, count.id);
      const info = att!.link.info();
      assert.is(info.typeName, 'XDP');
      assert.is(info.progId, count.id);
      assert.is(info.xdp?.ifindex, att!.ifindex);
      const byId = openLinkById(info.id);
      assert.equal(byId.info(), info);
      byId.close();

      const seen = fixture!.seenDuringPing();
      assert.ok(seen >= 2n, `XDP saw ${seen} packets`);
    } finally {
      if (att) a.enter(() => att!.link.detach());
    }
    assert.is(a.enter(() => xdpQuery(interfaceIndex(aDev))).mode, 'none', 'detach leaves nothing attached');
  });

  test('link update swaps the program atomically and checks the program it replaces', () => {
    const { a, aDev } = net();
    let att: XdpAttachment | undefined;
    try {
      a.enter(() => {
        att = attachXdp({ ifindex: interfaceIndex(aDev), program: count });
      });
      assert.is(att!.mode, 'native', 'veth has native XDP, so auto picks it');
      att!.link.update(pass, { expected: count });
      assert.is(a.enter(() => xdpQuery(att!.ifindex)).progId, pass.id);
      const stale = catchBpf(() => att!.link.update(count, { expected: count }));
      assert.is(stale.code, 'bpf-link-replaced');
      assert.is(a.enter(() => xdpQuery(att!.ifindex)).progId, pass.id, 'a refused update changes nothing');
      att!.link.update(count);
      assert.is(att!.link.info().progId, count.id);
    } finally {
      if (att) a.enter(() => att!.link.detach());
    }
  });

  test('generic attach is reported as generic', () => {
    const { a, aDev } = net();
    let att: XdpAttachment | undefined;
    try {
      const state = a.enter(() => {
        att = attachXdp({ ifindex: interfaceIndex(aDev), program: pass, mode: 'generic' });
        return xdpQuery(att.ifindex);
      });
      assert.is(att!.mode, 'generic');
      assert.is(state.mode, 'generic');
      assert.is(state.genericProgId, pass.id);
      assert.is(state.nativeProgId, 0);
    } finally {
      if (att) a.enter(() => att!.link.detach());
    }
  });

  test('auto mode falls back to generic on a device without native XDP and says why', () => {
    const solo = NetNs.create('x');
    try {
      const { att, state } = solo.enter(() => {
        const att = attachXdp({ ifindex: interfaceIndex('lo'), program: pass });
        const state = xdpQuery(att.ifindex);
        att.link.detach();
        return { att, state };
      });
      assert.is(att.mode, 'generic');
      assert.match(att.fallbackReason ?? '', /native XDP failed with EOPNOTSUPP/);
      assert.is(state.mode, 'generic');
    } finally {
      solo.delete();
    }
  });

  test('a pinned link keeps the program attached after its fd closes; unpinning detaches it', () => {
    const { a, aDev } = net();
    const bpffs = pinDir();
    const path = join(bpffs.path, 'xdp_link');
    try {
      const ifindex = a.enter(() => {
        const att = attachXdp({ ifindex: interfaceIndex(aDev), program: pass });
        att.link.pin(path);
        att.link.close();
        return att.ifindex;
      });
      assert.is(a.enter(() => xdpQuery(ifindex)).progId, pass.id, 'still attached through the pin');
      const reopened = openPinnedLink(path);
      assert.is(reopened.info().progId, pass.id);
      reopened.close();
      assert.is(unpin(path), true);
      assert.ok(
        eventually(() => a.enter(() => xdpQuery(ifindex)).mode === 'none'),
        'detached once the last reference went',
      );
    } finally {
      unpin(path);
      bpffs.cleanup();
      a.enter(() => {
        const state = xdpQuery(interfaceIndex(aDev));
        assert.is(state.mode, 'none');
      });
    }
  });

  test('a foreign native XDP program is a reported conflict and stays attached', () => {
    const { a, aDev } = net();
    a.exec(['ip', 'link', 'set', 'dev', aDev, 'xdpdrv', 'obj', foreignObj, 'sec', 'xdp']);
    try {
      const foreign = a.enter(() => xdpQuery(interfaceIndex(aDev)));
      assert.is(foreign.mode, 'native');
      const e = catchBpf(() => a.enter(() => attachXdp({ ifindex: interfaceIndex(aDev), program: pass })));
      assert.is(e.code, 'bpf-xdp-conflict');
      assert.is(e.ifname, aDev);
      assert.equal(e.attachedProgramIds, [foreign.nativeProgId]);
      assert.match(e.message, new RegExp(`another XDP program is attached to ${aDev}.*someone_else`));
      const after = a.enter(() => xdpQuery(interfaceIndex(aDev)));
      assert.is(after.nativeProgId, foreign.nativeProgId, 'the foreign program was not replaced');
    } finally {
      a.exec(['ip', 'link', 'set', 'dev', aDev, 'xdpdrv', 'off']);
    }
  });

  test('a foreign generic XDP program is a conflict for both modes and is detected as foreign', () => {
    const { a, aDev } = net();
    a.exec(['ip', '-force', 'link', 'set', 'dev', aDev, 'xdpgeneric', 'obj', foreignObj, 'sec', 'xdp']);
    try {
      const foreign = a.enter(() => xdpQuery(interfaceIndex(aDev)));
      assert.is(foreign.mode, 'generic');
      assert.equal(foreignXdpPrograms(foreign, [pass.id, count.id]), [foreign.genericProgId]);
      for (const mode of ['native', 'generic', 'auto'] as const) {
        const e = catchBpf(() => a.enter(() => attachXdp({ ifindex: interfaceIndex(aDev), program: pass, mode })));
        assert.is(e.code, 'bpf-xdp-conflict', `mode ${mode}`);
      }
      assert.is(a.enter(() => xdpQuery(interfaceIndex(aDev))).genericProgId, foreign.genericProgId);
    } finally {
      a.exec(['ip', 'link', 'set', 'dev', aDev, 'xdpgeneric', 'off']);
    }
    assert.is(a.enter(() => xdpQuery(interfaceIndex(aDev))).mode, 'none');
  });
}

test.run();

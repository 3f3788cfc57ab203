// The way out (issue 12, finding 5): `notrack remove` detaches and deletes everything notrack made on the host
// (links, pins, chains, ipsets, record), where `ip link set eth0 xdp off` fails on notrack's link-attached program.
import * as assert from 'uvu/assert';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { kernelGate } from '../support/kernel-gate.js';
import { IFNAME, RECONCILE_TOOLS, dbPolicy, withLab } from '../support/reconcile-fixture.js';

const gate = kernelGate('remove', { tools: RECONCILE_TOOLS });

gate.test('notrack remove takes every link, pin, chain, ipset and the record off the host, and is safe twice', () =>
  withLab(async (lab) => {
    lab.commit(dbPolicy());
    assert.is(lab.cli('apply').status, 0);
    assert.ok(lab.xdpAttached());
    assert.ok(
      lab.ipsets().some((s) => s.startsWith('notrack-')),
      'the policy made an ipset',
    );
    const off = lab.a.exec(['ip', 'link', 'set', 'dev', IFNAME, 'xdp', 'off'], { allowFail: true });
    assert.ok(off.status !== 0 || lab.xdpAttached(), 'ip link cannot take a link-attached program off');

    const r = lab.cli('remove');
    assert.is(r.status, 0, r.stderr);
    assert.match(r.stdout, /removed notrack from this host: 1 interface/);
    assert.not.ok(lab.xdpAttached(), 'no XDP program on eth0');
    assert.not.match(lab.a.exec(['tc', 'filter', 'show', 'dev', IFNAME, 'ingress']).stdout, /nt_tc|bpf/);
    for (const family of [4, 6] as const) assert.not.match(lab.iptablesSave(family), /NOTRACK/, `IPv${family} chains`);
    assert.equal(
      lab.ipsets().filter((s) => s.startsWith('notrack-')),
      [],
      'no notrack ipset',
    );
    assert.equal(lab.pinnedGenerations(), [], 'no pins');
    assert.not.ok(existsSync(path.join(lab.stateDir, 'applied.json')), 'no record');
    assert.is(lab.cli('remove').status, 0, 'a second remove finds nothing and succeeds');
    assert.is(lab.cli('drift', '--offline').status, 0, 'nothing applied, nothing drifted');
  }),
);

gate.test.run();

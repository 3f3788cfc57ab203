// The IPv6 address table in the kernel: the worst case of the search (prefixes of all 129 lengths on both address
// fields) passes the verifier within the size limits and gets the reference evaluator's verdicts, and a 100,000-prefix
// set of /128 hosts and /64 nets loads and tells members from their neighbours.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { evaluatePacket } from '../../src/compile/evaluate.js';
import type { DesiredState, IngressEntry, PacketDescription } from '../../src/compile/desired-state.js';
import { MAX_PART_INSNS } from '../../src/compile/program/index.js';
import { expectedAction, frameFor, Pipeline, XDP_DROP, XDP_PASS } from '../support/pipeline.js';
import { mulberry32 } from '../support/seeded-random.js';
import { ingressState, IPV6_ALL, ipv6Mask, ipv6Text, randomBits, sideMatch } from '../support/ipv6-policy.js';
import { kernelGate } from '../support/kernel-gate.js';

const gate = kernelGate('program-ipv6');
const kernelTest = gate.test;

let pl: Pipeline;
test.before(() => {
  if (gate.runs) pl = Pipeline.open();
});
test.after(() => {
  if (gate.runs) pl.close();
});

const side = sideMatch;
const ALL = IPV6_ALL;
const net = (v: bigint, len: number): bigint => v & ipv6Mask(len);
const text = ipv6Text;
const randomBig = randomBits;
const state = (entries: IngressEntry[], sets: Record<string, string[]>): DesiredState =>
  ingressState({ family: 6, entries, sets });

const base = { notProtocol: null, icmp: null, notICMP: null };

kernelTest(
  'prefixes of all 129 lengths on both address fields: verified within the limits, verdicts as the reference',
  () => {
    const r = mulberry32(129);
    const spineS = (0x20010db8n << 96n) | randomBig(r, 96);
    const spineD = (0xfd00n << 112n) | randomBig(r, 112);
    const sets: Record<string, string[]> = {};
    const v6: IngressEntry[] = [];
    // Rule i: its source set holds the source spine's /i (and /i with the last bit flipped), its destination set the
    // destination spine's /(128 - i); actions and ports vary, so that lookups lead to records and the scan.
    for (let i = 0; i <= 128; i++) {
      const s = net(spineS, i);
      const flip = i > 0 ? s ^ (1n << BigInt(128 - i)) : s;
      sets[`s${i}`] = [`${text(s)}/${i}`, ...(i > 0 && i % 3 === 0 ? [`${text(flip)}/${i}`] : [])];
      sets[`d${i}`] = [`${text(net(spineD, 128 - i))}/${128 - i}`];
      v6.push({
        ...base,
        counter: i,
        action: (['Allow', 'Deny', 'Pass', 'Log'] as const)[i % 4]!,
        protocol: i % 2 === 0 ? 17 : null,
        source: side({ inSets: [`s${i}`] }),
        destination: side({
          inSets: i % 5 === 0 ? [`d${i}`] : [],
          ports: i % 2 === 0 ? [{ from: 1000 + i, to: 1000 + 2 * i }] : [],
        }),
      });
    }
    const s = state(v6, sets);
    const stats = pl.install(s, 'eth0');
    console.log(
      `129 lengths: ${stats.insns} instructions (limit ${MAX_PART_INSNS}), ${stats.verifiedInsns} verified, maps ${JSON.stringify(stats.mapEntries)}`,
    );
    assert.ok(stats.insns <= MAX_PART_INSNS);
    let checked = 0;
    for (let k = 0; k < 3000; k++) {
      // Sources along the spine: the first `l` bits of it, the rest random (every length is the longest match once).
      const l = Math.floor(r() * 129);
      const src = net(spineS, l) | (randomBig(r, 128) & ~net(ALL, l) & ALL);
      const dl = Math.floor(r() * 129);
      const dst = net(spineD, dl) | (randomBig(r, 128) & ~net(ALL, dl) & ALL);
      const p: PacketDescription = {
        family: 6,
        protocol: 17,
        src: text(src),
        dst: text(dst),
        sport: 7,
        dport: 1000 + Math.floor(r() * 300),
      };
      const want = expectedAction(evaluatePacket(s, 'eth0', p).outcome);
      assert.equal(pl.run(frameFor(p)), want, JSON.stringify(p));
      checked++;
    }
    assert.is(checked, 3000);
  },
);

kernelTest('a set of 100,000 IPv6 prefixes (/128 hosts, /64 nets) loads: members denied, their neighbours not', () => {
  const r = mulberry32(100_000);
  const prefixes: string[] = [];
  const hosts: bigint[] = [];
  const nets: bigint[] = [];
  const seen = new Set<bigint>();
  const anchor = (0x20010db8n << 96n) | (0x100n << 80n);
  while (hosts.length + nets.length < 100_000) {
    const host = hosts.length < 90_000;
    const v = net(anchor | randomBig(r, 88), host ? 128 : 64);
    if (seen.has(v)) continue;
    seen.add(v);
    (host ? hosts : nets).push(v);
    prefixes.push(`${text(v)}/${host ? 128 : 64}`);
  }
  const deny: IngressEntry = {
    ...base,
    counter: 0,
    action: 'Deny',
    protocol: null,
    source: side({ inSets: ['deny'] }),
    destination: side(),
  };
  const allow: IngressEntry = {
    ...base,
    counter: 1,
    action: 'Allow',
    protocol: 17,
    source: side(),
    destination: side(),
  };
  const s = state([deny, allow], { deny: prefixes });
  const t0 = performance.now();
  const stats = pl.install(s, 'eth0');
  console.log(
    `100k IPv6 prefixes: loaded in ${Math.round(performance.now() - t0)} ms (${JSON.stringify(stats.ms)}), ${stats.mapEntries.ntp6_src} hash elements`,
  );
  // One element per prefix, no marker (the hosts are the root); a host inside a listed /64 adds nothing.
  const inNets = hosts.filter((h) => seen.has(net(h, 64))).length;
  assert.is(stats.mapEntries.ntp6_src, 100_000 - inNets);
  const udp = (src: bigint) =>
    frameFor({ family: 6, protocol: 17, src: text(src), dst: '2001:db8::1', sport: 1, dport: 2 });
  for (const i of [0, 1, 44_444, 89_999]) {
    assert.is(pl.run(udp(hosts[i]!)).action, XDP_DROP, `host ${i}`);
    const next = hosts[i]! ^ 1n;
    if (!seen.has(next) && !nets.some((n) => net(next, 64) === n))
      assert.equal(pl.run(udp(next)), { action: XDP_PASS, accepted: true }, `next to host ${i}: the last bit differs`);
  }
  for (const i of [0, 5_000, 9_999]) {
    assert.is(pl.run(udp(nets[i]! | randomBig(r, 64))).action, XDP_DROP, `in net ${i}`);
  }
});

test.run();

// The plan names addresses after the smallest set or endpoint that holds them, reading only the members that meet
// them: on random overlapping and nested IPv4 and IPv6 lists, the name is the one a brute force over every list's
// whole address set gives, whether a list was read by the set-file scanner (packed) or as YAML objects.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { IpFamily } from '../../src/net/cidr.js';
import type { ResourceSet } from '../../src/model/resources.js';
import { addressNamer } from '../../src/report/plan-traffic.js';
import { prefixRanges } from '../../src/traffic/decisions.js';
import { IntervalSet } from '../../src/traffic/interval-set.js';
import { addressText } from '../../src/traffic/space.js';
import { documentsFile, policyFile, validResources } from '../support/policy-files.js';
import { hostEndpoint, networkSet } from '../support/resource-documents.js';
import { mulberry32, type Rng } from '../support/seeded-random.js';

const int = (r: Rng, n: number): number => Math.floor(r() * n);

/** A random prefix near a few bases, so lists overlap, nest and share members. */
function randomNet(r: Rng, family: IpFamily): string {
  if (family === 4) {
    const base = [10 << 24, (10 << 24) + (1 << 16), (192 << 24) + (168 << 16)][int(r, 3)]!;
    const len = [8, 16, 20, 24, 28, 30, 32][int(r, 7)]!;
    const addr = (base + int(r, 1 << 17)) >>> 0;
    const block = 2 ** (32 - len);
    return `${addressText(4, BigInt(Math.floor(addr / block) * block))}/${len}`;
  }
  const len = [32, 48, 64, 120, 128][int(r, 5)]!;
  const v = (0x2001_0db8n << 96n) + (BigInt(int(r, 4)) << 80n) + BigInt(int(r, 1 << 16));
  const block = 1n << BigInt(128 - len);
  return `${addressText(6, (v / block) * block)}/${len}`;
}

/** Hosts far from every random net that make a list file long enough for the scanner (it reads files of 64 KiB up). */
const filler = (k: number): string[] => Array.from({ length: 3600 }, (_, i) => `100.${k}.${i >> 8}.${i & 255}/32`);

/** The list as the scanner reads it (one net per line) and as YAML objects (the JSON flow form is not scanned). */
function setFiles(name: string, nets: readonly string[]) {
  const lines = nets.map((n) => `    - ${n}\n`).join('');
  return {
    scanned: policyFile(
      `sets/${name}.yaml`,
      `apiVersion: projectcalico.org/v3\nkind: GlobalNetworkSet\nmetadata:\n  name: ${name}\n  labels: { list: ${name} }\nspec:\n  nets:\n${lines}`,
    ),
    objects: documentsFile(`sets/${name}.yaml`, [networkSet(name, { list: name }, [...nets])]),
  };
}

/** The name a brute force gives: every list's whole address set, the smallest holding the addresses, first on a tie. */
function bruteName(
  lists: { label: string; nets: string[] }[],
  family: IpFamily,
  addresses: IntervalSet,
): string | null {
  let best: { label: string; size: bigint } | null = null;
  for (const l of lists) {
    const all = wholeRanges(family, l.nets);
    if (all.isEmpty || !all.contains(addresses)) continue;
    if (!best || all.size() < best.size) best = { label: l.label, size: all.size() };
  }
  if (!best) return null;
  return best.size === addresses.size() ? best.label : `in ${best.label}`;
}

const wholes = new Map<readonly string[], Map<IpFamily, IntervalSet>>();
function wholeRanges(family: IpFamily, nets: readonly string[]): IntervalSet {
  const known = wholes.get(nets) ?? new Map<IpFamily, IntervalSet>();
  wholes.set(nets, known);
  if (!known.has(family)) known.set(family, prefixRanges(family, nets));
  return known.get(family)!;
}

test('addresses are named after the smallest list that holds them, packed or not, as a brute force names them', () => {
  const r = mulberry32(1010);
  for (let round = 0; round < 30; round++) {
    const sets = Array.from({ length: 1 + int(r, 4) }, (_, k) => ({
      label: `set s${k}`,
      nets: [...Array.from({ length: 1 + int(r, 12) }, () => randomNet(r, r() < 0.7 ? 4 : 6)), ...filler(k)],
    }));
    const ips = Array.from({ length: int(r, 3) }, () => randomNet(r, 4).replace(/\/\d+$/, '/32'));
    const endpoint = hostEndpoint('web-eth0', 'web', {
      interfaceName: 'eth0',
      expectedIPs: ips.map((c) => c.split('/')[0]),
    });
    const files = sets.map((s) => setFiles(s.label.slice(4), s.nets));
    const scanned: ResourceSet = validResources([
      ...files.map((f) => f.scanned),
      documentsFile('hosts.yaml', [endpoint]),
    ]);
    const objects: ResourceSet = validResources([
      ...files.map((f) => f.objects),
      documentsFile('hosts.yaml', [endpoint]),
    ]);
    assert.ok(
      scanned.networkSets.every((s) => s.packedNets !== undefined),
      'the scanner reads the one-net-per-line lists',
    );
    assert.ok(objects.networkSets.every((s) => s.packedNets === undefined));
    const lists = [...sets, { label: 'endpoint web-eth0', nets: ips }];
    const packedNamer = addressNamer([scanned]);
    const objectNamer = addressNamer([objects]);
    for (let q = 0; q < 25; q++) {
      const family: IpFamily = r() < 0.7 ? 4 : 6;
      // A member's addresses, a part of one, or the union of two random nets.
      const pick = lists[int(r, lists.length)]!.nets.filter((n) => !n.startsWith('100.')).filter(
        (n) => n.includes(':') === (family === 6),
      );
      const texts =
        pick.length && r() < 0.6 ? [pick[int(r, pick.length)]!] : [randomNet(r, family), randomNet(r, family)];
      let addresses = prefixRanges(family, texts);
      if (r() < 0.3 && addresses.size() > 2n) addresses = IntervalSet.range(addresses.min + 1n, addresses.min + 1n);
      const want = bruteName(lists, family, addresses);
      const where = `round ${round}, ${texts.join(' ')} among ${JSON.stringify(lists)}`;
      assert.is(packedNamer(family, addresses), want, where);
      assert.is(objectNamer(family, addresses), want, where);
    }
  }
});

test.run();

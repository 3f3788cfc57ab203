// The ipsets egress rules match on: member canonical form, restore input, sizing, `ipset` output parsing, diff.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  canonicalSet,
  diffIpsets,
  formatAddress,
  parseIpsetHeaders,
  observeIpsets,
  observeIpsetsAsync,
  parseIpsetList,
  renderIpsetRestore,
  setOptions,
  IpsetDesiredError,
  type CommandRunner,
  type IpsetActual,
} from '../../src/dataplane/ipset/index.js';
import { parseIp } from '../../src/net/cidr.js';

test('members are written the way ipset save prints them, sorted, duplicates dropped', () => {
  const s = canonicalSet({
    name: 'notrack-peers',
    family: 4,
    members: ['10.0.0.5/32', '192.168.1.7/24', '10.0.0.0/8', '10.0.0.5'],
  });
  assert.equal(s.members, ['10.0.0.0/8', '10.0.0.5', '192.168.1.0/24']);
  const v6 = canonicalSet({
    name: 'notrack-peers6',
    family: 6,
    members: ['FD00:1::/48', 'fd00:0:0:0::1/128', '2001:db8:0:0:1:0:0:1'],
  });
  assert.equal(v6.members, ['2001:db8::1:0:0:1', 'fd00:1::/48', 'fd00::1']);
});

test('a whole family becomes its two halves, since hash:net refuses a zero prefix', () => {
  assert.equal(canonicalSet({ name: 'notrack-all', family: 4, members: ['0.0.0.0/0'] }).members, [
    '0.0.0.0/1',
    '128.0.0.0/1',
  ]);
  assert.equal(canonicalSet({ name: 'notrack-all6', family: 6, members: ['::/0'] }).members, ['8000::/1', '::/1']);
});

test('addresses print as inet_ntop does, dotted tails for mapped and compatible IPv4', () => {
  const fmt = (t: string): string => {
    const p = parseIp(t)!;
    return formatAddress(p.family, p.addr);
  };
  assert.is(fmt('::ffff:1.2.3.4'), '::ffff:1.2.3.4');
  assert.is(fmt('::1.2.3.4'), '::1.2.3.4');
  assert.is(fmt('::1'), '::1');
  assert.is(fmt('::'), '::');
  assert.is(fmt('fd00:0:0:1:0:0:0:0'), 'fd00:0:0:1::');
  assert.is(fmt('1:0:1:0:1:0:1:0'), '1:0:1:0:1:0:1:0');
});

test('bad sets are refused naming the set and the member', () => {
  const bad: [Parameters<typeof canonicalSet>[0], RegExp][] = [
    [{ name: 'peers', family: 4, members: [] }, /not a notrack set name/],
    [{ name: 'notrack-x-tmp', family: 4, members: [] }, /temporary/],
    [{ name: `notrack-${'x'.repeat(30)}`, family: 4, members: [] }, /at most 31/],
    [{ name: 'notrack-x', family: 4, members: ['fd00::1'] }, /notrack-x is IPv4 but fd00::1 is IPv6/],
    [{ name: 'notrack-x', family: 4, members: ['db.example.com'] }, /notrack-x: "db.example.com" is not an address/],
  ];
  for (const [set, message] of bad) {
    assert.throws(
      () => canonicalSet(set),
      (e: unknown) => e instanceof IpsetDesiredError && e.code === 'ipset-invalid-desired' && message.test(e.message),
      set.name,
    );
  }
});

test('the restore input fills the temporary set, then swaps it in and destroys the old generation', () => {
  const s = canonicalSet({ name: 'notrack-peers', family: 4, members: ['10.0.0.1', '10.1.0.0/16'] });
  assert.is(
    renderIpsetRestore(s, 'swap'),
    `create notrack-peers-tmp hash:net family inet hashsize 1024 maxelem 65536
add notrack-peers-tmp 10.0.0.1
add notrack-peers-tmp 10.1.0.0/16
swap notrack-peers-tmp notrack-peers
destroy notrack-peers-tmp
`,
  );
  assert.ok(renderIpsetRestore(s, 'rename').endsWith('rename notrack-peers-tmp notrack-peers\n'));
  assert.ok(
    renderIpsetRestore(s, 'replace-incompatible').endsWith(
      'destroy notrack-peers\nrename notrack-peers-tmp notrack-peers\n',
    ),
  );
  const v6 = canonicalSet({ name: 'notrack-p6', family: 6, members: [] });
  assert.ok(renderIpsetRestore(v6, 'rename').startsWith('create notrack-p6-tmp hash:net family inet6 '));
});

test('sizes grow with the member count: room to double, a hash table that need not resize', () => {
  assert.equal(setOptions(3), { hashsize: 1024, maxelem: 65536 });
  assert.equal(setOptions(100_000), { hashsize: 65536, maxelem: 262144 });
  assert.equal(setOptions(1_000_000), { hashsize: 524288, maxelem: 2097152 });
});

const LIST = `Name: notrack-peers
Type: hash:net
Revision: 7
Header: family inet hashsize 1024 maxelem 65536 bucketsize 12 initval 0x94b61529
Size in memory: 600
References: 1
Number of entries: 3

Name: notrack-peers6
Type: hash:net
Revision: 7
Header: family inet6 hashsize 1024 maxelem 65536 bucketsize 12 initval 0x1e0b791d
Size in memory: 504
References: 0
Number of entries: 2

Name: other
Type: hash:ip
Revision: 6
Header: family inet6 hashsize 1024 maxelem 65536 bucketsize 12 initval 0x9ea9a7ca
Size in memory: 224
References: 0
Number of entries: 0
`;

/**
 * `ipset list` (without -t) of the same sets plus an empty one: each header followed by "Members:" and one member a
 * line, a blank line between sets; IPv6 members such as `abcd::/16` look like header fields.
 */
const FULL_LIST = [
  ...LIST.trimEnd()
    .split('\n\n')
    .map((header, i) => {
      const members = [['192.168.1.0/24', '10.0.0.0/8', '10.0.0.5 nomatch'], ['fe80::1', 'abcd::/16'], ['fd00::9']][i]!;
      return `${header}\nMembers:\n${members.join('\n')}\n`;
    }),
  `Name: notrack-empty
Type: hash:net
Revision: 7
Header: family inet hashsize 1024 maxelem 65536 bucketsize 12 initval 0x10e5c705
Size in memory: 456
References: 0
Number of entries: 0
Members:
`,
].join('\n');

test('ipset list -t headers and ipset list members parse into typed sets', () => {
  const sets = parseIpsetHeaders(LIST);
  assert.equal(
    sets.map((s) => [s.name, s.type, s.family, s.hashsize, s.maxelem, s.references]),
    [
      ['notrack-peers', 'hash:net', 4, 1024, 65536, 1],
      ['notrack-peers6', 'hash:net', 6, 1024, 65536, 0],
      ['other', 'hash:ip', 6, 1024, 65536, 0],
    ],
  );
  const full = parseIpsetList(FULL_LIST, (name) => name.startsWith('notrack-'));
  assert.equal(
    full.map((s) => [s.name, s.type, s.family, s.hashsize, s.maxelem, s.references, s.members]),
    [
      ['notrack-peers', 'hash:net', 4, 1024, 65536, 1, ['192.168.1.0/24', '10.0.0.0/8', '10.0.0.5 nomatch']],
      ['notrack-peers6', 'hash:net', 6, 1024, 65536, 0, ['fe80::1', 'abcd::/16']],
      // The host's own set: its header is read, its members passed over.
      ['other', 'hash:ip', 6, 1024, 65536, 0, []],
      ['notrack-empty', 'hash:net', 4, 1024, 65536, 0, []],
    ],
  );
});

const actual = (): IpsetActual => {
  const [peers, peers6] = parseIpsetHeaders(LIST);
  peers!.members = ['192.168.1.0/24', '10.0.0.0/8'];
  peers6!.members = ['fd00::1'];
  return { sets: [peers!, peers6!], leftovers: [] };
};

test('the diff reports member changes, missing, extra and mistyped sets, and leftovers', () => {
  const want = [
    { name: 'notrack-peers', family: 4 as const, members: ['10.0.0.0/8', '192.168.1.9/24'] },
    { name: 'notrack-peers6', family: 6 as const, members: ['fd00::1'] },
  ];
  assert.equal(diffIpsets(want, actual()), []);
  assert.equal(diffIpsets([{ ...want[0]!, members: ['10.0.0.0/8', '172.16.0.0/12'] }, want[1]!], actual()), [
    { kind: 'members-differ', name: 'notrack-peers', missing: ['172.16.0.0/12'], unexpected: ['192.168.1.0/24'] },
  ]);
  const a = actual();
  a.sets[1]!.family = 4;
  a.leftovers.push({ ...a.sets[0]!, name: 'notrack-peers-tmp' });
  assert.equal(diffIpsets([...want, { name: 'notrack-new', family: 4, members: [] }], a), [
    { kind: 'set-type-mismatch', name: 'notrack-peers6', expected: 'hash:net inet6', actual: 'hash:net inet' },
    { kind: 'missing-set', name: 'notrack-new' },
    { kind: 'leftover-temporary-set', name: 'notrack-peers-tmp' },
  ]);
  assert.equal(diffIpsets([want[0]!], actual()), [{ kind: 'extra-set', name: 'notrack-peers6', references: 0 }]);
});

/** A runner that answers from `outputs` by argv (joined with spaces) and records what it ran. */
function scripted(outputs: Record<string, { status?: number; stdout?: string; stderr?: string }>) {
  const calls: string[] = [];
  const runner: CommandRunner = (argv) => {
    calls.push(argv.join(' '));
    const out = outputs[argv.join(' ')];
    if (!out) throw new Error(`unexpected ${argv.join(' ')}`);
    return { status: out.status ?? 0, stdout: out.stdout ?? '', stderr: out.stderr ?? '' };
  };
  return { calls, runner };
}

test("observing reads the headers, then every set at once while the host's own sets are small; temporary sets are leftovers", () => {
  const tmp = FULL_LIST.replace('Name: notrack-empty', 'Name: notrack-peers-tmp');
  const { calls, runner } = scripted({
    'ipset list -t': { stdout: LIST },
    'ipset list': { stdout: tmp },
  });
  const seen = observeIpsets(runner);
  assert.equal(calls, ['ipset list -t', 'ipset list']);
  assert.equal(
    seen.sets.map((s) => [s.name, s.members]),
    [
      ['notrack-peers', ['192.168.1.0/24', '10.0.0.0/8', '10.0.0.5 nomatch']],
      ['notrack-peers6', ['fe80::1', 'abcd::/16']],
    ],
  );
  assert.equal(
    seen.leftovers.map((s) => s.name),
    ['notrack-peers-tmp'],
  );
  calls.length = 0;
  const headers = observeIpsets(runner, { members: false });
  assert.equal(calls, ['ipset list -t']);
  assert.equal(
    headers.sets.map((s) => [s.name, s.members.length]),
    [
      ['notrack-peers', 0],
      ['notrack-peers6', 0],
    ],
  );
});

test("a big set of the host's own is never read through: notrack's sets are listed by name, one that vanished is left out", async () => {
  const big = LIST.replace(/(Name: other[\s\S]*Number of entries: )0/, '$11000000');
  const [peersText, peers6Text] = FULL_LIST.split('\n\n');
  const outputs = {
    'ipset list -t': { stdout: big },
    'ipset list notrack-peers': { stdout: `${peersText}\n` },
    'ipset list notrack-peers6': { stdout: `${peers6Text}\n` },
  };
  const { calls, runner } = scripted(outputs);
  const seen = observeIpsets(runner);
  assert.equal(calls, ['ipset list -t', 'ipset list notrack-peers', 'ipset list notrack-peers6']);
  assert.equal(
    seen.sets.map((s) => [s.name, s.members]),
    [
      ['notrack-peers', ['192.168.1.0/24', '10.0.0.0/8', '10.0.0.5 nomatch']],
      ['notrack-peers6', ['fe80::1', 'abcd::/16']],
    ],
  );
  // Destroyed between the two reads (a person, or a concurrent `notrack remove`): it is gone, so it is not there.
  const gone = scripted({
    ...outputs,
    'ipset list notrack-peers6': { status: 1, stderr: 'ipset v7.17: The set with the given name does not exist\n' },
  });
  assert.equal(
    (await observeIpsetsAsync(async (argv) => gone.runner(argv))).sets.map((s) => s.name),
    ['notrack-peers'],
  );
  // Any other failure is an error, as before.
  const broken = scripted({
    ...outputs,
    'ipset list notrack-peers': { status: 2, stderr: 'Operation not permitted\n' },
  });
  assert.throws(
    () => observeIpsets(broken.runner),
    /ipset list notrack-peers failed \(exit 2\): Operation not permitted/,
  );
});

test.run();

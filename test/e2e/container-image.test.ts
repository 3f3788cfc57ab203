// The container image as a user builds it without a registry: a Debian 12 base from Debian's packages (mmdebstrap)
// with Node.js 20, the notrack image from the package tarball (podman, no network), then `notrack apply` from the
// image inside a network namespace: the host there is protected (a denied port drops, counted; an allowed flow is
// untracked). Podman keeps its storage in the test's folder and its containers off the root namespace's firewall.
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as assert from 'uvu/assert';
import { kernelGate } from '../support/kernel-gate.js';
import { ROOT } from '../support/cli.js';
import { pinDir, uniqueName, vethPair, type VethPair } from '../support/netns.js';

const gate = kernelGate('container image', { tools: ['podman', 'runc', 'mmdebstrap', 'npm', 'conntrack'] });
const test = gate.test;

let scratch = '';
let env: NodeJS.ProcessEnv = {};
const tag = `localhost/notrack-${uniqueName('i')}:test`;
const baseTag = `localhost/notrack-base-${uniqueName('b')}:test`;

function run(argv: string[], opts: SpawnSyncOptions = {}) {
  const r = spawnSync(argv[0]!, argv.slice(1), {
    encoding: 'utf8',
    maxBuffer: 64 << 20,
    timeout: 900_000,
    env,
    ...opts,
  });
  return { status: r.status ?? -1, stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? '') };
}

test.before(() => {
  if (!gate.runs) return;
  scratch = mkdtempSync(path.join(os.tmpdir(), 'notrack-image-'));
  // Podman as it runs on this kind of machine (hybrid cgroups: runc and cgroupfs; root may not raise
  // RLIMIT_NOFILE), with storage of its own in the test's folder, and no network unless a run names one.
  writeFileSync(
    path.join(scratch, 'containers.conf'),
    '[containers]\ndefault_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]\nnetns = "none"\n' +
      '[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n',
  );
  writeFileSync(
    path.join(scratch, 'storage.conf'),
    `[storage]\ndriver = "overlay"\ngraphroot = "${scratch}/graph"\nrunroot = "${scratch}/run"\n`,
  );
  env = {
    ...process.env,
    CONTAINERS_CONF: path.join(scratch, 'containers.conf'),
    CONTAINERS_STORAGE_CONF: path.join(scratch, 'storage.conf'),
  };
});

test.after(() => {
  if (!scratch) return;
  run(['podman', 'rmi', '--force', tag, baseTag]);
  // Overlay layers are mounted below graph/ while podman holds them: unmount before removing.
  run(['podman', 'system', 'reset', '--force']);
  rmSync(scratch, { recursive: true, force: true });
});

let tarball = '';

test('the base (mmdebstrap, Node.js 20) and the image (from the tarball, without network) build', () => {
  const base = run(['bash', path.join(ROOT, 'deploy', 'container', 'build-base.sh'), '--tag', baseTag]);
  assert.is(base.status, 0, base.stdout + base.stderr);
  mkdirSync(path.join(scratch, 'pack'));
  const pack = run(['npm', 'pack', '--pack-destination', path.join(scratch, 'pack')], { cwd: ROOT });
  assert.is(pack.status, 0, pack.stderr);
  tarball = path.join(scratch, 'pack', readdirSync(path.join(scratch, 'pack'))[0]!);
  const image = run([
    'bash',
    path.join(ROOT, 'deploy', 'container', 'build-image.sh'),
    '--tag',
    tag,
    '--base',
    baseTag,
    '--offline',
    tarball,
  ]);
  assert.is(image.status, 0, image.stdout + image.stderr);
  const version = run(['podman', 'run', '--rm', '--network', 'none', tag, 'version']);
  assert.is(version.status, 0, version.stderr);
  assert.match(version.stdout, /^notrack \d+\.\d+\.\d+ \(commit [0-9a-f]{12}/);
  const node = run(['podman', 'run', '--rm', '--network', 'none', '--entrypoint', 'node', tag, '--version']);
  assert.match(node.stdout, /^v2\d\./);
  // --verify-signatures runs ssh-keygen (SSH allowed signers) and gpgv (OpenPGP keys) inside the image.
  for (const tool of ['ssh-keygen', 'gpgv']) {
    const found = run([
      'podman',
      'run',
      '--rm',
      '--network',
      'none',
      '--entrypoint',
      'sh',
      tag,
      '-c',
      'command -v "$0"',
      tool,
    ]);
    assert.is(found.status, 0, `${tool} is in the image: ${found.stderr}`);
  }
});

const POLICY = (ifname: string, addr: string) => `apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata: { name: host-${ifname}, labels: { role: db } }
spec: { node: image-host, interfaceName: ${ifname}, expectedIPs: [${addr}] }
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: { name: db }
spec:
  selector: role == 'db'
  doNotTrack: true
  applyOnForward: true
  types: [Ingress]
  ingress:
    - action: Deny
      protocol: UDP
      destination: { ports: [9999] }
`;

test('notrack apply from the image protects a host in a network namespace (drops counted, nothing half-applied)', () => {
  assert.ok(tarball, 'the image was built');
  let pair: VethPair | null = null;
  const pins = pinDir();
  try {
    pair = vethPair(77);
    const policy = path.join(scratch, 'policy');
    const state = path.join(scratch, 'state');
    mkdirSync(policy);
    mkdirSync(state);
    writeFileSync(path.join(policy, 'p.yaml'), POLICY(pair.aDev, pair.aAddr4));
    // As the DaemonSet runs it: the namespace's network, the listed capabilities only, bpffs and state mounted.
    const apply = run([
      'podman',
      'run',
      '--rm',
      '--network',
      `ns:/run/netns/${pair.a.name}`,
      '--cap-drop',
      'all',
      '--cap-add',
      'BPF,PERFMON,NET_ADMIN,NET_RAW,SYS_ADMIN',
      '--read-only',
      '--tmpfs',
      '/tmp',
      '-v',
      `${pins.path}:/sys/fs/bpf`,
      '-v',
      `${state}:/var/lib/notrack`,
      '-v',
      `${policy}:/policy:ro`,
      tag,
      'apply',
      '--path',
      '/policy',
      '--host',
      'image-host',
    ]);
    assert.is(apply.status, 0, apply.stdout + apply.stderr);
    assert.match(apply.stdout, new RegExp(`XDP on ${pair.aDev}: attached generation 1`));
    // Real packets from the peer: UDP to the denied port is dropped at XDP, and the kernel counted each one.
    for (let i = 0; i < 5; i++)
      pair.b.exec(['bash', '-c', `echo x > /dev/udp/${pair.aAddr4}/9999`], { allowFail: true });
    const status = run([
      'podman',
      'run',
      '--rm',
      '--network',
      `ns:/run/netns/${pair.a.name}`,
      '--cap-add',
      'BPF,PERFMON,SYS_ADMIN',
      '-v',
      `${pins.path}:/sys/fs/bpf`,
      '-v',
      `${state}:/var/lib/notrack`,
      tag,
      'status',
      '--format',
      'json',
    ]);
    assert.is(status.status, 0, status.stderr);
    const doc = JSON.parse(status.stdout) as {
      interfaces: { name: string; counters: Record<string, { packets: number }> }[];
      rules: { policy: string; action: string; packets: number }[];
    };
    const iface = doc.interfaces.find((i) => i.name === pair!.aDev)!;
    assert.ok(iface, status.stdout);
    assert.ok(iface.counters['dropped']!.packets >= 5, JSON.stringify(iface.counters));
    assert.ok(doc.rules.find((r) => r.policy === 'db' && r.action === 'Deny')!.packets >= 5);
    // The rules went into the namespace's own iptables, not the root namespace's.
    const raw = pair.a.exec(['iptables', '-t', 'raw', '-S']);
    assert.match(raw.stdout, 'NOTRACK');
  } finally {
    pair?.a.delete();
    pair?.b.delete();
    pins.cleanup();
  }
});

test.run();

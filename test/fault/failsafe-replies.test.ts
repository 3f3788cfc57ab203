// Precise failsafes (issue 12, finding 3): under a deny-all policy the host's own DNS lookups and a BGP-like TCP 179
// session still work, because their replies answer connections the host opened (conntrack says so, asked from
// XDP), while a flood from source port 53 that answers nothing is dropped at XDP and leaves no conntrack entry.
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { kernelGate } from '../support/kernel-gate.js';
import {
  HOST,
  HOST_ADDR4,
  IFNAME,
  PEER_ADDR4,
  RECONCILE_TOOLS,
  withLab,
  type ReconcileLab,
} from '../support/reconcile-fixture.js';
import { conntrackFlows } from '../support/traffic.js';
import type { NetNs } from '../support/netns.js';

const gate = kernelGate('failsafe-replies', { tools: RECONCILE_TOOLS });

/** db-1 on eth0, and one policy that denies every inbound packet. */
const DENY_ALL = {
  'hosts/db-1.yaml': `apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata: {name: db-1-eth0, labels: {role: db}}
spec: {node: ${HOST}, interfaceName: ${IFNAME}, expectedIPs: [${HOST_ADDR4}]}
`,
  'policies/deny-all.yaml': `apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: deny-all-inbound}
spec:
  order: 1
  selector: all()
  doNotTrack: true
  applyOnForward: true
  types: [Ingress]
  ingress:
    - action: Deny
      source: {nets: [0.0.0.0/0]}
`,
};

/** A DNS server that answers every A query with 192.0.2.7 (a real DNS message, for the host's real resolver). */
const DNS_SERVER = `import dgram from 'node:dgram';
const s = dgram.createSocket('udp4');
s.on('message', (q, from) => {
  let end = 12; while (q[end] !== 0) end += q[end] + 1; end += 5;
  const question = q.subarray(12, end);
  const header = Buffer.from([q[0], q[1], 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0]);
  const answer = Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 7]);
  s.send(Buffer.concat([header, question, answer]), from.port, from.address);
});
s.bind(53, process.argv.at(-1), () => process.stdout.write('ready\\n'));
`;

/** A BGP-like speaker on TCP 179: answers each line with "KEEPALIVE <line>". */
const BGP_PEER = `import net from 'node:net';
net.createServer((c) => c.on('data', (d) => c.write('KEEPALIVE ' + d.toString()))).listen(179, process.argv.at(-1), () => process.stdout.write('ready\\n'));
`;

/** Sends \`count\` UDP datagrams from source port 53 to one port of the host: a reflection flood. */
const FLOOD = `import dgram from 'node:dgram';
const [to, port, count] = process.argv.slice(-3);
const s = dgram.createSocket('udp4');
s.bind(53, () => {
  let left = Number(count);
  const next = () => (left-- > 0 ? s.send('flood', Number(port), to, next) : s.close(() => process.stdout.write('sent\\n')));
  next();
});
`;

function node(ns: NetNs, lab: ReconcileLab, code: string, args: string[]) {
  return lab.track(
    spawn('ip', ['netns', 'exec', ns.name, process.execPath, '--input-type=module', '--eval', code, '--', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
}

/** Runs a node script inside `ns` to its end and returns what it printed. */
function script(ns: NetNs, code: string, args: string[] = []): string {
  const r = ns.exec([process.execPath, '--input-type=module', '--eval', code, '--', ...args], {
    allowFail: true,
    timeoutMs: 20_000,
  });
  if (r.status !== 0) throw new Error(`script failed (${r.status}): ${r.stderr}`);
  return r.stdout.trim();
}

async function started(child: ReturnType<typeof node>, what: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} did not start`)), 15_000);
    child.stdout!.on('data', (d: Buffer) => {
      if (d.toString().includes('ready')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.on('close', (code) => reject(new Error(`${what} ended (${code})`)));
  });
}

function counters(lab: ReconcileLab): { dropped: bigint; failsafe: bigint } {
  const obs = lab.observe();
  const active = obs.generations.find((g) => g.number === obs.activeGeneration);
  assert.ok(active, 'a generation runs on eth0');
  return { dropped: active.counters.dropped.packets, failsafe: active.counters.failsafe.packets };
}

gate.test(
  'deny-all inbound: DNS lookups and a TCP 179 session the host opened work, a sport-53 flood is dropped at XDP with 0 conntrack entries',
  () =>
    withLab(async (lab) => {
      lab.commit(DENY_ALL);
      const applied = lab.cli('apply');
      assert.is(applied.status, 0, applied.stderr);

      const dns = node(lab.b, lab, DNS_SERVER, [PEER_ADDR4]);
      const bgp = node(lab.b, lab, BGP_PEER, [PEER_ADDR4]);
      await started(dns, 'the DNS server');
      await started(bgp, 'the BGP peer');
      const before = counters(lab);

      // The host's resolver (c-ares) asks the peer: query out to udp 53, the answer comes back from port 53.
      const resolved = script(
        lab.a,
        `import { promises as dns } from 'node:dns';
const r = new dns.Resolver({ timeout: 2000, tries: 2 });
r.setServers([process.argv.at(-1)]);
process.stdout.write(JSON.stringify(await r.resolve4('git.example')));`,
        [PEER_ADDR4],
      );
      assert.equal(JSON.parse(resolved), ['192.0.2.7'], 'the DNS answer reached the host');

      // A session the host opens to tcp 179: every reply segment comes from port 179.
      const session = script(
        lab.a,
        `import net from 'node:net';
const c = net.connect(179, process.argv.at(-1));
let got = '';
c.setTimeout(5000, () => { process.stdout.write('timeout'); process.exit(1); });
c.on('connect', () => c.write('OPEN'));
let sent = false;
c.on('data', (d) => { got += d; if (!sent && got.includes('OPEN')) { sent = true; c.write('UPDATE'); } else if (got.includes('UPDATE')) { process.stdout.write(got); c.end(); } });`,
        [PEER_ADDR4],
      );
      assert.is(session, 'KEEPALIVE OPENKEEPALIVE UPDATE', 'the BGP-like session exchanged both messages');
      const afterLegit = counters(lab);
      assert.ok(afterLegit.failsafe > before.failsafe, 'the replies passed as failsafe (tracked)');

      // The flood: 51 datagrams from port 53 to a port no connection of the host uses (the DNS server steps aside).
      dns.kill('SIGKILL');
      await new Promise((r) => dns.on('close', r));
      assert.is(script(lab.b, FLOOD, [HOST_ADDR4, '4444', '51']), 'sent');
      let after = counters(lab);
      for (let i = 0; i < 100 && after.dropped - afterLegit.dropped < 51n; i++) {
        await new Promise((r) => setTimeout(r, 50));
        after = counters(lab);
      }
      assert.is(after.dropped - afterLegit.dropped, 51n, 'every flood packet was dropped at XDP');
      assert.is(after.failsafe, afterLegit.failsafe, 'no flood packet passed as failsafe');
      const flows = conntrackFlows(lab.a, 4).filter((l) => l.includes('dport=4444'));
      assert.equal(flows, [], 'the flood left no conntrack entry');
    }),
);

gate.test.run();

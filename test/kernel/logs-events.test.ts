// `notrack logs` on a host in a namespace: a Log rule ahead of a Deny writes one event per matching packet, and the
// command prints them naming the Log rule, the deciding Deny and the packet; with no matching traffic it prints
// nothing; --follow prints events as they come and exits 0 on SIGINT.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  HOST_ADDR4,
  IFNAME,
  POSTGRES,
  RECONCILE_TOOLS,
  withLab,
  type ReconcileLab,
} from '../support/reconcile-fixture.js';
import { kernelGate } from '../support/kernel-gate.js';

const gate = kernelGate('logs-events', { tools: RECONCILE_TOOLS });
const kt = gate.test;

const SOURCE_PORT = 40000;

/** db-1 logs postgres connection attempts from the app subnet, then denies them. */
function loggedDenyPolicy(): Record<string, string> {
  return {
    'hosts/db-1.yaml': `apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata:
  name: db-1-eth0
  labels:
    role: db
spec:
  node: db-1
  interfaceName: eth0
  expectedIPs: [${HOST_ADDR4}]
`,
    'policies/db-log.yaml': `apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: db-log
spec:
  order: 100
  selector: role == 'db'
  doNotTrack: true
  applyOnForward: true
  types: [Ingress]
  ingress:
    - action: Log
      protocol: TCP
      source:
        nets: [10.0.1.0/24]
      destination:
        ports: [${POSTGRES}]
    - action: Deny
      protocol: TCP
      destination:
        ports: [${POSTGRES}]
`,
  };
}

/** A connection attempt from the app server to postgres from a fixed port; the Deny drops it (SYN retries). */
function tryPostgres(lab: ReconcileLab): void {
  lab.b.exec(
    ['socat', '-u', 'STDIN', `TCP4:${HOST_ADDR4}:${POSTGRES},sourceport=${SOURCE_PORT},reuseaddr,connect-timeout=1`],
    { input: 'hello', allowFail: true, timeoutMs: 10_000 },
  );
}

interface LogJson {
  time: string;
  interface: string;
  rule: { policy: string; direction: string; index: number; action: string | null };
  decidedBy: { policy: string; direction: string; index: number; action: string | null } | null;
  verdict: string;
  packet: {
    family: number;
    protocol: number;
    source: string;
    destination: string;
    sourcePort: number;
    destinationPort: number;
  };
}

kt(
  'logs prints one event per packet a Log rule matched, naming the Log rule, the deciding Deny and the packet',
  async () => {
    await withLab(async (lab) => {
      lab.commit(loggedDenyPolicy(), 'log then deny postgres');
      const applied = lab.cli('apply');
      assert.is(applied.status, 0, `apply: ${applied.stdout}${applied.stderr}`);

      // Nothing matched yet: nothing to print, and that is success.
      const empty = lab.cli('logs', '--format', 'json');
      assert.is(empty.status, 0, empty.stderr);
      assert.is(empty.stdout, '', 'no events before any matching traffic');

      tryPostgres(lab);
      const got = lab.cli('logs', '--format', 'json');
      assert.is(got.status, 0, got.stderr);
      const events = got.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as LogJson);
      assert.ok(events.length >= 1, `at least the SYN was logged: ${got.stdout}`);
      for (const e of events) {
        assert.is(e.interface, IFNAME);
        assert.equal(e.rule, { policy: 'db-log', direction: 'ingress', index: 0, action: 'Log' });
        assert.equal(e.decidedBy, { policy: 'db-log', direction: 'ingress', index: 1, action: 'Deny' });
        assert.is(e.verdict, 'drop');
        assert.equal(e.packet, {
          ...e.packet,
          family: 4,
          protocol: 6,
          source: '10.0.1.50',
          destination: HOST_ADDR4,
          sourcePort: SOURCE_PORT,
          destinationPort: POSTGRES,
        });
        assert.ok(Math.abs(Date.parse(e.time) - Date.now()) < 120_000, `the time is now-ish: ${e.time}`);
      }
      console.log(`logs-events: ${events.length} event(s) for one refused connection`);

      // Reading took them out of the ring: a second read prints nothing.
      const again = lab.cli('logs');
      assert.is(again.status, 0, again.stderr);
      assert.is(again.stdout, '', 'events are printed once');

      // Text lines say the same in one line each.
      tryPostgres(lab);
      const text = lab.cli('logs');
      assert.is(text.status, 0, text.stderr);
      const line = text.stdout.split('\n')[0] ?? '';
      assert.match(
        line,
        new RegExp(
          `^\\d{4}-\\d\\d-\\d\\dT\\S+ eth0 log db-log ingress\\[0\\]: tcp 10\\.0\\.1\\.50:${SOURCE_PORT} > ${HOST_ADDR4.replace(/\./g, '\\.')}:${POSTGRES}, then deny by db-log ingress\\[1\\]$`,
        ),
      );

      // --follow prints events as they come and stops cleanly on SIGINT.
      const child = lab.spawnCli('logs', '--follow', '--format', 'json');
      let out = '',
        err = '';
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
      });
      child.stderr!.on('data', (d: Buffer) => {
        err += d.toString();
      });
      const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
      await new Promise((r) => setTimeout(r, 3000)); // let it start (tsx) and open the ring
      tryPostgres(lab);
      for (let i = 0; i < 50 && !out.includes('\n'); i++) await new Promise((r) => setTimeout(r, 100));
      child.kill('SIGINT');
      const code = await exited;
      assert.is(code, 0, `follow exits 0 on SIGINT: ${err}`);
      const followed = out
        .trim()
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as LogJson);
      assert.ok(followed.length >= 1, `follow printed the new events: ${out}${err}`);
      assert.is(followed[0]!.packet.sourcePort, SOURCE_PORT);
    });
  },
);

test.run();

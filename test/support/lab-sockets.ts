// Long-lived TCP endpoints for the fault tests, run as node programs inside a lab namespace: a listener that keeps
// every connection open (or closes it at once), and a client that opens connections and holds them.
import { spawn } from 'node:child_process';
import { LabProcess } from '../../src/demo/lab-process.js';
import type { NetNs } from './netns.js';
import type { ReconcileLab } from './reconcile-fixture.js';

const LISTENER = `import net from 'node:net';
const [host, port, hold] = process.argv.slice(-3);
const server = net.createServer((s) => { s.on('error', () => {}); if (hold !== 'hold') s.end(); });
server.listen(Number(port), host, () => process.stdout.write('listening\\n'));
`;

const CLIENT = `import net from 'node:net';
const targets = process.argv.slice(-1)[0].split(',');
let open = 0;
for (const t of targets) {
  const i = t.lastIndexOf(':');
  const s = net.connect({ host: t.slice(0, i).replace(/^\\[|\\]$/g, ''), port: Number(t.slice(i + 1)) });
  s.on('connect', () => { open += 1; if (open === targets.length) process.stdout.write('connected ' + open + '\\n'); });
  s.on('error', (e) => process.stdout.write('error ' + e.message + '\\n'));
  s.on('close', () => process.stdout.write('closed ' + t + '\\n'));
}
setInterval(() => {}, 1 << 30);
`;

function node(lab: ReconcileLab, ns: NetNs, script: string, args: string[]): LabProcess {
  return new LabProcess(
    lab.track(
      spawn(
        'ip',
        ['netns', 'exec', ns.name, process.execPath, '--input-type=module', '--eval', script, '--', ...args],
        {
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      ),
    ),
  );
}

/** A TCP listener on host:port in `ns` (`::` takes IPv4 and IPv6); `hold` keeps each connection open. */
export async function listen(
  lab: ReconcileLab,
  ns: NetNs,
  host: string,
  port: number,
  hold: boolean,
): Promise<LabProcess> {
  const p = node(lab, ns, LISTENER, [host, String(port), hold ? 'hold' : 'close']);
  await p.waitFor(/listening/, { timeoutMs: 30_000 });
  return p;
}

/** Connections from `ns` to every target ("10.0.2.10:5432", "[fd00::10]:5432"), held open. */
export async function holdConnections(lab: ReconcileLab, ns: NetNs, targets: string[]): Promise<LabProcess> {
  const p = node(lab, ns, CLIENT, [targets.join(',')]);
  await p.waitFor(new RegExp(`connected ${targets.length}`), { timeoutMs: 30_000 });
  return p;
}

// The chaos run's Git server, inside the peer's namespace: a real smart-HTTP server (git http-backend, served on
// loopback) behind a front that the run switches between faults by a line on stdin: `pass` (forward), `down`
// (stop listening: connections are refused), `trickle` (answer one byte every 2 s, for ever) and `garbage` (answer
// 200 with random bytes). Every switch cuts the connections of the mode before; each is acknowledged on stdout.
// Usage: git-front.ts --root DIR --home DIR --listen ADDRESS:PORT
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { serveGitHttp } from '../../src/demo/git-http.js';

const { values } = parseArgs({
  options: { root: { type: 'string' }, home: { type: 'string' }, listen: { type: 'string' } },
  strict: true,
});
const listen = /^(.+):(\d+)$/.exec(values.listen ?? '');
if (values.root === undefined || values.home === undefined || !listen) {
  process.stderr.write('usage: git-front.ts --root DIR --home DIR --listen ADDRESS:PORT\n');
  process.exit(64);
}
const [host, port] = [listen[1]!, Number(listen[2])];

type FrontMode = 'pass' | 'down' | 'trickle' | 'garbage';
const MODES: FrontMode[] = ['pass', 'down', 'trickle', 'garbage'];

const say = (event: object): void => {
  process.stdout.write(`${JSON.stringify({ t: Date.now(), ...event })}\n`);
};

const backend = await serveGitHttp({ projectRoot: values.root, home: values.home, host: '127.0.0.1', port: 0 });

let mode: FrontMode = 'pass';
const open = new Set<net.Socket>();
const served: Record<FrontMode, number> = { pass: 0, down: 0, trickle: 0, garbage: 0 };

function answer(client: net.Socket): void {
  served[mode] += 1;
  open.add(client);
  client.on('close', () => open.delete(client));
  client.on('error', () => client.destroy());
  if (mode === 'pass') {
    const upstream = net.connect(backend.port, '127.0.0.1');
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.pipe(upstream).pipe(client);
  } else if (mode === 'trickle') {
    client.once('data', () => {
      client.write('HTTP/1.1 200 OK\r\ncontent-type: application/x-git-upload-pack-advertisement\r\n\r\n');
      const timer = setInterval(() => client.write('0'), 2_000);
      client.on('close', () => clearInterval(timer));
    });
  } else if (mode === 'garbage') {
    client.once('data', () => {
      const body = randomBytes(4096);
      client.end(
        Buffer.concat([
          Buffer.from(
            `HTTP/1.1 200 OK\r\ncontent-type: application/x-git-upload-pack-advertisement\r\ncontent-length: ${body.length}\r\n\r\n`,
          ),
          body,
        ]),
      );
    });
  }
}

const front = net.createServer(answer);
const startListening = (): Promise<void> => new Promise((r) => front.listen(port, host, () => r()));
const stopListening = (): Promise<void> => new Promise((r) => front.close(() => r()));

async function switchTo(next: FrontMode): Promise<void> {
  for (const s of open) s.destroy();
  open.clear();
  if (next === 'down' && mode !== 'down') await stopListening();
  if (next !== 'down' && mode === 'down') await startListening();
  mode = next;
  say({ mode });
}

await startListening();
let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  for (const s of open) s.destroy();
  if (mode !== 'down') await stopListening();
  await backend.close();
  say({ final: { served } });
  process.stdout.write('', () => process.exit(0));
}
// One mode per line; the queue keeps switches in order.
let queue = Promise.resolve();
createInterface({ input: process.stdin }).on('line', (line) => {
  const next = line.trim() as FrontMode;
  if (MODES.includes(next)) queue = queue.then(() => switchTo(next));
});
process.stdin.on('end', () => void queue.then(stop));
process.on('SIGTERM', () => void stop());
say({ listening: `${host}:${port}` });

// Remotes that cannot be read: nothing listening, a silent server, a web server that is not Git, locations not supported.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createNetServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { fetchSource } from '../../src/source/index.js';
import { removeTempDirs, sourceError, tempDir } from './source-fixture.js';

let cacheDir: string;

test.before(async () => {
  cacheDir = await tempDir('net-cache');
});

test.after(async () => {
  await removeTempDirs();
});

async function listen(server: Server | ReturnType<typeof createNetServer>): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return (server.address() as AddressInfo).port;
}

test('a closed port fails with source-unreachable naming host:port', async () => {
  const probe = createNetServer();
  const port = await listen(probe);
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  const err = await sourceError(
    fetchSource({ repo: `http://127.0.0.1:${port}/policies.git`, cacheDir }),
    'source-unreachable',
  );
  assert.match(err.message, `127.0.0.1:${port}`);
  assert.match(err.message, 'connection refused');
});

test('a server that accepts but never answers fails with source-unreachable after the timeout', async () => {
  const sockets: Socket[] = [];
  const silent = createNetServer((s) => {
    sockets.push(s);
  });
  const port = await listen(silent);
  try {
    const started = Date.now();
    const err = await sourceError(
      fetchSource({ repo: `http://127.0.0.1:${port}/policies.git`, cacheDir, timeoutMs: 300 }),
      'source-unreachable',
    );
    assert.ok(Date.now() - started < 5000, 'gave up near the timeout');
    assert.match(err.message, `127.0.0.1:${port}`);
    assert.match(err.message, 'no answer within 300 ms');
  } finally {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => silent.close(() => resolve()));
  }
});

/** An HTTP server that answers every request with a body it never ends: `bytes` every `everyMs`. */
async function streamingServer(bytes: number, everyMs: number): Promise<{ port: number; close: () => Promise<void> }> {
  const timers = new Set<NodeJS.Timeout>();
  const server = createHttpServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/x-git-upload-pack-advertisement' });
    const timer = setInterval(() => res.write(Buffer.alloc(bytes, 0x30)), everyMs);
    timers.add(timer);
    res.on('close', () => clearInterval(timer));
  });
  const port = await listen(server);
  return {
    port,
    close: async () => {
      for (const t of timers) clearInterval(t);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

test('a server that trickles (1 byte every 200 ms) fails with source-too-slow after one rate window', async () => {
  const trickle = await streamingServer(1, 200);
  try {
    const started = Date.now();
    const err = await sourceError(
      fetchSource({
        repo: `http://127.0.0.1:${trickle.port}/p.git`,
        cacheDir,
        minBytesPerSecond: 1024,
        rateWindowMs: 1000,
      }),
      'source-too-slow',
    );
    assert.ok(Date.now() - started < 10_000, 'gave up near the window, not after the idle timeout');
    assert.match(err.message, `127.0.0.1:${trickle.port}`);
    assert.match(err.message, /sent \d+ bytes in 1000 ms, below the minimum of 1024 bytes\/s/);
  } finally {
    await trickle.close();
  }
});

test('a fetch that keeps receiving fast but never ends fails with source-too-slow at its deadline', async () => {
  const endless = await streamingServer(4096, 20);
  try {
    const started = Date.now();
    const err = await sourceError(
      fetchSource({ repo: `http://127.0.0.1:${endless.port}/p.git`, cacheDir, deadlineMs: 1500, rateWindowMs: 1000 }),
      'source-too-slow',
    );
    assert.ok(Date.now() - started < 10_000, 'gave up near the deadline');
    assert.match(err.message, 'passed its 1500 ms deadline');
  } finally {
    await endless.close();
  }
});

test('a host name that does not resolve fails with source-unreachable naming host:port', async () => {
  // .invalid never resolves (RFC 2606); the timeout bounds a resolver that does not answer at all.
  const err = await sourceError(
    fetchSource({ repo: 'https://policies.notrack.invalid/p.git', cacheDir, timeoutMs: 3000 }),
    'source-unreachable',
  );
  assert.match(err.message, 'policies.notrack.invalid:443');
});

test('a web server that does not speak Git fails with source-not-a-repo; a server error with source-remote-error', async () => {
  const web = createHttpServer((req, res) => {
    if (req.url?.startsWith('/broken')) {
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end('database is down');
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end('<html><body>welcome</body></html>');
  });
  const port = await listen(web);
  try {
    const html = await sourceError(
      fetchSource({ repo: `http://127.0.0.1:${port}/site`, cacheDir }),
      'source-not-a-repo',
    );
    assert.match(html.message, 'smart-HTTP');
    const broken = await sourceError(
      fetchSource({ repo: `http://127.0.0.1:${port}/broken.git`, cacheDir }),
      'source-remote-error',
    );
    assert.match(broken.message, 'HTTP 500');
    assert.match(broken.message, 'database is down');
  } finally {
    web.closeAllConnections();
    await new Promise<void>((resolve) => web.close(() => resolve()));
  }
});

test('SSH and other schemes fail with source-bad-url and an http(s) suggestion, without showing a password', async () => {
  const ssh = await sourceError(fetchSource({ repo: 'git@github.com:acme/policies.git', cacheDir }), 'source-bad-url');
  assert.match(ssh.message, 'SSH');
  assert.match(ssh.message, 'https://');
  const scheme = await sourceError(
    fetchSource({ repo: 'ssh://deploy:s3cr3t-pass@git.example/p.git', cacheDir }),
    'source-bad-url',
  );
  assert.match(scheme.message, 'ssh://');
  assert.not.ok(scheme.message.includes('s3cr3t-pass'));
  assert.is(scheme.repo, 'ssh://git.example/p.git');
});

test.run();

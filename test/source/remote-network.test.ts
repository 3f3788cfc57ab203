// Remotes that cannot be read: nothing listening, a silent server, a web server that is not Git, locations not supported.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createServer as createHttpServer, request as httpRequest, type Server } from 'node:http';
import { createServer as createNetServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { fetchSource } from '../../src/source/index.js';
import { startGitServer } from '../support/git-server.js';
import { paths, removeTempDirs, sourceError, tempDir } from './source-fixture.js';

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

/** pkt-lines of `body` up to the first side-band packet (the pack or progress): the NAK and shallow lines before it. */
function beforeSideBand(body: Buffer): number {
  let at = 0;
  while (at + 4 <= body.length) {
    const length = Number.parseInt(body.subarray(at, at + 4).toString('latin1'), 16);
    if (length > 4 && (body[at + 4] === 1 || body[at + 4] === 2)) return at;
    at += Math.max(length, 4);
  }
  return body.length;
}

/**
 * git http-backend behind a proxy: the fetch requests (POSTs) for which `reset(n)` (n counts them from 1) is true are
 * reset unanswered, as a kept-alive socket the server closes while the request is written; the rest pass through.
 */
async function resettingProxy(
  name: string,
  reset: (post: number) => boolean,
): Promise<{ url: string; port: number; posts: () => number; close: () => Promise<void> }> {
  const git = await startGitServer();
  await git.createRepo(name, { 'policy.yaml': 'kind: x\n' });
  let posts = 0;
  const proxy = createHttpServer((req, res) => {
    if (req.method === 'POST' && reset(++posts)) {
      req.socket.resetAndDestroy();
      return;
    }
    const upstream = httpRequest(
      { host: '127.0.0.1', port: git.port, path: req.url, method: req.method, headers: req.headers },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    req.pipe(upstream);
  });
  const port = await listen(proxy);
  return {
    url: `http://127.0.0.1:${port}/${name}.git`,
    port,
    posts: () => posts,
    close: async () => {
      proxy.closeAllConnections();
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
      await git.stop();
    },
  };
}

test('a request reset before any answer (an idle keep-alive socket closed by the server) is sent once more', async () => {
  const proxy = await resettingProxy('reset', (post) => post === 1);
  try {
    const snap = await fetchSource({ repo: proxy.url, cacheDir: await tempDir('reset') });
    assert.equal(paths(snap), ['policy.yaml']);
    assert.is(proxy.posts(), 2, 'the reset request was sent again, once');
  } finally {
    await proxy.close();
  }
});

test('a server that resets every fetch request fails with source-unreachable after one retry', async () => {
  const proxy = await resettingProxy('resets', () => true);
  try {
    const err = await sourceError(
      fetchSource({ repo: proxy.url, cacheDir: await tempDir('resets') }),
      'source-unreachable',
    );
    assert.match(err.message, `127.0.0.1:${proxy.port}`);
    assert.is(proxy.posts(), 2, 'one retry, not a loop');
  } finally {
    await proxy.close();
  }
});

test('a server that computes a large pack for several rate windows, sending only progress, is waited for', async () => {
  // git http-backend behind a proxy that holds each pack back for 1.5 s while it sends progress lines, as git does
  // while it counts and compresses a large repository: a few bytes a second, far below the minimum rate.
  const git = await startGitServer();
  const progressBytes: number[] = [];
  const proxy = createHttpServer((req, res) => {
    const upstream = httpRequest(
      { host: '127.0.0.1', port: git.port, path: req.url, method: req.method, headers: req.headers },
      (up) => {
        const chunks: Buffer[] = [];
        up.on('data', (c: Buffer) => chunks.push(c));
        up.on('end', () => {
          const body = Buffer.concat(chunks);
          res.writeHead(up.statusCode ?? 502, up.headers);
          if (!req.url?.endsWith('/git-upload-pack')) return res.end(body);
          const split = beforeSideBand(body);
          res.write(body.subarray(0, split));
          let sent = 0;
          const timer = setInterval(() => {
            const line = `\u0002Counting objects: ${++sent}\r`;
            res.write(`${(line.length + 4).toString(16).padStart(4, '0')}${line}`);
            progressBytes.push(line.length + 4);
            if (sent === 15) {
              clearInterval(timer);
              res.end(body.subarray(split));
            }
          }, 100);
          res.on('close', () => clearInterval(timer));
        });
      },
    );
    req.pipe(upstream);
  });
  const port = await listen(proxy);
  try {
    await git.createRepo('big', { 'policy.yaml': 'kind: x\n' });
    const snap = await fetchSource({
      repo: `http://127.0.0.1:${port}/big.git`,
      cacheDir: await tempDir('slow-pack'),
      minBytesPerSecond: 1024,
      rateWindowMs: 300,
    });
    assert.equal(paths(snap), ['policy.yaml']);
    // Several windows passed with less than the minimum: the old rule gave up in the first one.
    assert.ok(progressBytes.length === 15 && progressBytes.reduce((a, b) => a + b, 0) < 1024 * 0.3 * 5);
  } finally {
    proxy.closeAllConnections();
    await new Promise<void>((resolve) => proxy.close(() => resolve()));
    await git.stop();
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

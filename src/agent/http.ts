// The agent's HTTP endpoints: /metrics (Prometheus), /healthz (readiness), /livez (liveness), /status (JSON).
// Read-only: GET and HEAD only, nothing here can change the agent or the host.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { NotrackError } from '../errors.js';
import type { Health } from './health.js';
import { formatListen, type ListenAddress } from './listen.js';

export class AgentListenError extends NotrackError {
  constructor(message: string, cause: unknown) {
    super('agent-listen-failed', message, { cause });
  }
}

interface AgentEndpoints {
  metrics(): Promise<{ contentType: string; body: string }>;
  readiness(): Health;
  liveness(): Health;
  status(): unknown;
}

export interface AgentServer {
  /** The bound address (the real port when 0 was asked for). */
  address: ListenAddress;
  close(): Promise<void>;
}

export async function serveAgentEndpoints(
  at: ListenAddress,
  endpoints: AgentEndpoints,
  onError: (e: unknown) => void,
): Promise<AgentServer> {
  const server = createServer((req, res) => {
    handle(req, res, endpoints).catch((e: unknown) => {
      onError(e);
      if (!res.headersSent)
        send(res, req, 500, 'text/plain; charset=utf-8', `internal error: ${(e as Error)?.message ?? String(e)}\n`);
      else res.destroy();
    });
  });
  // A scrape that hangs must not hold a socket forever.
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    const failed = (e: NodeJS.ErrnoException): void => {
      reject(
        new AgentListenError(
          `cannot listen on ${formatListen(at)} for metrics and health: ${e.code ?? e.message}` +
            (e.code === 'EADDRINUSE' ? ' (another process has the port; choose another with --listen)' : ''),
          e,
        ),
      );
    };
    server.once('error', failed);
    server.listen(at.port, at.host, () => {
      server.off('error', failed);
      resolve();
    });
  });
  server.on('error', onError);
  const bound = server.address() as AddressInfo;
  return {
    address: { host: bound.address, port: bound.port },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function handle(req: IncomingMessage, res: ServerResponse, endpoints: AgentEndpoints): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('Allow', 'GET, HEAD');
    send(res, req, 405, 'text/plain; charset=utf-8', 'method not allowed: the agent endpoints are read-only\n');
    return;
  }
  const path = new URL(req.url ?? '/', 'http://agent').pathname;
  switch (path) {
    case '/metrics': {
      const m = await endpoints.metrics();
      send(res, req, 200, m.contentType, m.body);
      return;
    }
    case '/healthz':
    case '/readyz':
      health(res, req, endpoints.readiness());
      return;
    case '/livez':
      health(res, req, endpoints.liveness());
      return;
    case '/status':
      send(res, req, 200, 'application/json', `${JSON.stringify(endpoints.status(), bigints, 2)}\n`);
      return;
    default:
      send(res, req, 404, 'text/plain; charset=utf-8', 'not found: try /metrics, /healthz, /livez or /status\n');
  }
}

function health(res: ServerResponse, req: IncomingMessage, h: Health): void {
  send(
    res,
    req,
    h.ok ? 200 : 503,
    'application/json',
    `${JSON.stringify({ ok: h.ok, reason: h.reason, message: h.message })}\n`,
  );
}

function bigints(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}

function send(res: ServerResponse, req: IncomingMessage, code: number, contentType: string, body: string): void {
  res.writeHead(code, {
    'Content-Type': contentType,
    'Content-Length': Buffer.byteLength(body),
    'Cache-Control': 'no-store',
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}

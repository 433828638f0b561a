// A real local HTTP receiver for delivery tests: scripted responses per request, every request
// recorded with its headers and body, and awaitable "N requests received".

import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface ReceivedRequest {
  /** 1-based, in arrival order. */
  n: number;
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  at: number;
}

/** What to do with one request. */
export interface Reply {
  status?: number;
  headers?: Record<string, string>;
  body?: string;
  /** Answer after this long. */
  delayMs?: number;
  /** Never answer (the socket stays open until the client gives up or the receiver closes). */
  hang?: boolean;
  /** Close the connection without answering. */
  destroy?: boolean;
}

/** A list (request i gets reply i; the last one repeats) or a function of the request. */
export type Script = Reply[] | ((request: ReceivedRequest) => Reply);

export interface Receiver {
  host: string;
  port: number;
  /** `http://host:port` (IPv6 hosts bracketed). */
  origin: string;
  url(path?: string): string;
  requests: ReceivedRequest[];
  /** TCP connections accepted. */
  connections: number;
  /** Replaces the script (e.g. "now answer 200"). */
  setScript(script: Script): void;
  /** Resolves once at least n requests (matching `filter`) have arrived. */
  waitForRequests(
    n: number,
    options?: { timeoutMs?: number; filter?: (r: ReceivedRequest) => boolean },
  ): Promise<ReceivedRequest[]>;
  close(): Promise<void>;
}

export async function startReceiver(
  script: Script = [{ status: 200 }],
  options: { host?: string; port?: number } = {},
): Promise<Receiver> {
  const host = options.host ?? '127.0.0.1';
  let current = script;
  const requests: ReceivedRequest[] = [];
  const sockets = new Set<Socket>();
  const listeners = new Set<() => void>();
  const timers = new Set<NodeJS.Timeout>();
  const state = { connections: 0 };

  const replyFor = (request: ReceivedRequest): Reply => {
    if (typeof current === 'function') return current(request);
    if (current.length === 0) return { status: 200 };
    return current[Math.min(request.n - 1, current.length - 1)] as Reply;
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const received: ReceivedRequest = {
        n: requests.length + 1,
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        at: Date.now(),
      };
      requests.push(received);
      for (const l of [...listeners]) l();
      const reply = replyFor(received);
      if (reply.hang) return;
      if (reply.destroy) {
        req.socket.destroy();
        return;
      }
      const answer = (): void => {
        res.writeHead(reply.status ?? 200, {
          'content-type': 'application/json',
          ...reply.headers,
        });
        res.end(reply.body ?? '{"ok":true}');
      };
      if (reply.delayMs) {
        const timer = setTimeout(() => {
          timers.delete(timer);
          answer();
        }, reply.delayMs);
        timers.add(timer);
      } else {
        answer();
      }
    });
  });
  server.keepAliveTimeout = 30_000;
  server.on('connection', (socket: Socket) => {
    state.connections += 1;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const origin = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

  return {
    host,
    port,
    origin,
    url: (path = '/hook') => `${origin}${path}`,
    requests,
    get connections() {
      return state.connections;
    },
    setScript(next) {
      current = next;
    },
    waitForRequests(n, { timeoutMs = 30_000, filter } = {}) {
      const matching = () => (filter ? requests.filter(filter) : requests);
      return new Promise((resolve, reject) => {
        const check = (): boolean => {
          const found = matching();
          if (found.length < n) return false;
          clearTimeout(timer);
          listeners.delete(onRequest);
          resolve(found);
          return true;
        };
        const onRequest = (): void => void check();
        const timer = setTimeout(() => {
          listeners.delete(onRequest);
          reject(
            new Error(
              `receiver ${origin}: timed out after ${timeoutMs} ms waiting for ${n} requests (got ${matching().length})`,
            ),
          );
        }, timeoutMs);
        listeners.add(onRequest);
        check();
      });
    },
    async close() {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}

/** A port nothing listens on right now (for "receiver down, then up"). */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, host, () => resolve()));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

// Real local HTTP servers for the sender and orchestrator tests.

import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export type Handler = (req: ReceivedRequest, res: http.ServerResponse) => unknown;

export interface TestServer {
  port: number;
  host: string;
  /** `http://host:port` */
  origin: string;
  requests: ReceivedRequest[];
  /** TCP connections accepted. */
  connections: number;
  /** Resolves with the n-th request (1-based) once it has arrived. */
  nthRequest(n: number): Promise<ReceivedRequest>;
  close(): Promise<void>;
}

export async function startServer(
  handler: Handler,
  options: { host?: string; port?: number } = {},
): Promise<TestServer> {
  const host = options.host ?? '127.0.0.1';
  const waiters: Array<{ n: number; resolve: (r: ReceivedRequest) => void }> = [];
  const state = { connections: 0 };
  const requests: ReceivedRequest[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const received: ReceivedRequest = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      requests.push(received);
      for (const w of waiters.filter((x) => x.n === requests.length)) w.resolve(received);
      void Promise.resolve(handler(received, res)).catch((error: unknown) => {
        res.statusCode = 599;
        res.end(String(error));
      });
    });
  });
  server.on('connection', () => {
    state.connections += 1;
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    host,
    origin: `http://${host}:${port}`,
    requests,
    get connections() {
      return state.connections;
    },
    nthRequest(n) {
      const existing = requests[n - 1];
      if (existing) return Promise.resolve(existing);
      return new Promise((resolve) => waiters.push({ n, resolve }));
    },
    close() {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A port with nothing listening (bound, then released). */
export async function closedPort(): Promise<number> {
  const s = await startServer(() => undefined);
  await s.close();
  return s.port;
}

export interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

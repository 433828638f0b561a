import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

/** Something whose readiness /readyz reports. */
export interface ReadinessSource {
  readonly name: string;
  isReady(): boolean;
}

/**
 * /metrics (Prometheus text), /healthz (the process is alive and its event loop turns),
 * /readyz (200 only when every source is ready; the body says which are not).
 */
export class HealthServer {
  private server: Server | undefined;
  private readonly sources: ReadinessSource[] = [];
  private healthy = true;

  constructor(private readonly registry: Registry) {}

  addReadinessSource(source: ReadinessSource): void {
    this.sources.push(source);
  }

  /** Marks the process unhealthy, e.g. when a role has crashed beyond recovery. */
  setHealthy(healthy: boolean): void {
    this.healthy = healthy;
  }

  async listen(port: number, host: string): Promise<AddressInfo> {
    const server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405).end();
        return;
      }
      if (path === '/metrics') {
        this.registry.metrics().then(
          (text) => res.writeHead(200, { 'Content-Type': this.registry.contentType }).end(text),
          (err: unknown) => res.writeHead(500).end(String(err)),
        );
      } else if (path === '/healthz') {
        res.writeHead(this.healthy ? 200 : 503, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ status: this.healthy ? 'ok' : 'unhealthy' }));
      } else if (path === '/readyz') {
        const waiting = this.sources.filter((s) => !s.isReady()).map((s) => s.name);
        const ready = waiting.length === 0;
        res.writeHead(ready ? 200 : 503, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ status: ready ? 'ready' : 'not ready', waiting }));
      } else {
        res.writeHead(404).end();
      }
    });
    server.keepAliveTimeout = 65_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    this.server = server;
    return server.address() as AddressInfo;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

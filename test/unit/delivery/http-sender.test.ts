import type dns from 'node:dns';
import pkg from '../../../package.json';
import { DestinationPolicy } from '../../../src/delivery/address-guard';
import { flowhookVersion, WebhookSender } from '../../../src/delivery/http-sender';
import { classifyAttempt } from '../../../src/delivery/outcome';
import { closedPort, deferred, startServer, type TestServer } from './helpers';

const version = pkg.version;

// Loopback is refused by default: these tests allow-list it explicitly, and allow http.
const loopbackPolicy = new DestinationPolicy({ allowlist: '127.0.0.1/32', allowHttp: true });

const servers: TestServer[] = [];
const senders: WebhookSender[] = [];
async function server(...args: Parameters<typeof startServer>): Promise<TestServer> {
  const s = await startServer(...args);
  servers.push(s);
  return s;
}
function sender(
  options: Partial<ConstructorParameters<typeof WebhookSender>[0]> = {},
): WebhookSender {
  const s = new WebhookSender({ policy: loopbackPolicy, ...options });
  senders.push(s);
  return s;
}
afterEach(async () => {
  senders.splice(0).forEach((s) => s.close());
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

const BODY = '{"event":"Placed Order","value":12.5}';

describe('WebhookSender against real local servers', () => {
  test('2xx: POSTs the body with our content-type and user-agent', async () => {
    const srv = await server((_req, res) => {
      res.writeHead(202, { 'content-type': 'text/plain' });
      res.end('accepted');
    });
    const result = await sender().send({
      url: `${srv.origin}/hooks/orders?x=1`,
      headers: {
        'X-Custom': 'yes',
        'Content-Type': 'text/xml',
        'user-agent': 'spoof',
        Host: 'evil',
      },
      body: BODY,
    });
    expect(result).toMatchObject({
      statusCode: 202,
      responseBody: 'accepted',
      responseTruncated: false,
    });
    expect(result.error).toBeUndefined();
    expect(result.durationMs).toBeGreaterThanOrEqual(0);
    expect(classifyAttempt(result).outcome).toBe('delivered');
    const [req] = srv.requests;
    expect(req).toMatchObject({ method: 'POST', url: '/hooks/orders?x=1', body: BODY });
    expect(req?.headers['content-type']).toBe('application/json');
    expect(req?.headers['user-agent']).toBe(`flowhook/${version}`);
    expect(req?.headers.host).toBe(`127.0.0.1:${srv.port}`);
    expect(req?.headers['x-custom']).toBe('yes');
    expect(req?.headers['content-length']).toBe(String(Buffer.byteLength(BODY)));
    expect(flowhookVersion()).toBe(version);
  });

  test('500 → status kept, classified retry, body captured', async () => {
    const srv = await server((_req, res) => {
      res.writeHead(500);
      res.end('database down');
    });
    const result = await sender().send({ url: srv.origin, headers: {}, body: BODY });
    expect(result).toMatchObject({ statusCode: 500, responseBody: 'database down' });
    expect(classifyAttempt(result)).toMatchObject({ outcome: 'retry', statusClass: '5xx' });
  });

  test('429 with Retry-After → retry, the header is returned', async () => {
    const srv = await server((_req, res) => {
      res.writeHead(429, { 'Retry-After': '7' });
      res.end();
    });
    const result = await sender().send({ url: srv.origin, headers: {}, body: BODY });
    expect(result).toMatchObject({ statusCode: 429, retryAfter: '7' });
    expect(classifyAttempt(result)).toMatchObject({ outcome: 'retry', reason: 'throttled' });
  });

  test('400 → failed at once', async () => {
    const srv = await server((_req, res) => {
      res.writeHead(400);
      res.end('{"error":"bad field"}');
    });
    const result = await sender().send({ url: srv.origin, headers: {}, body: BODY });
    expect(result.statusCode).toBe(400);
    expect(classifyAttempt(result)).toMatchObject({ outcome: 'failed', reason: 'client_error' });
  });

  test('302 is not followed: failed, and the Location target receives nothing', async () => {
    const target = await server((_req, res) => res.end('should not be here'));
    const srv = await server((_req, res) => {
      res.writeHead(302, { Location: `${target.origin}/elsewhere` });
      res.end();
    });
    const result = await sender().send({ url: srv.origin, headers: {}, body: BODY });
    expect(result.statusCode).toBe(302);
    expect(classifyAttempt(result)).toMatchObject({ outcome: 'failed', reason: 'redirect' });
    expect(srv.requests).toHaveLength(1);
    expect(target.requests).toHaveLength(0);
    expect(target.connections).toBe(0);
  });

  test('a server slower than the timeout → ETIMEDOUT, retry', async () => {
    const release = deferred();
    const srv = await server(async (_req, res) => {
      await release.promise;
      res.end();
    });
    const result = await sender().send({
      url: srv.origin,
      headers: {},
      body: BODY,
      timeoutMs: 150,
    });
    release.resolve();
    expect(result.statusCode).toBeUndefined();
    expect(result.error?.code).toBe('ETIMEDOUT');
    expect(result.durationMs).toBeGreaterThanOrEqual(140);
    expect(srv.requests).toHaveLength(1); // it was sent, the answer just never came in time
    expect(classifyAttempt(result)).toMatchObject({ outcome: 'retry', reason: 'timeout' });
  });

  test('connection refused → ECONNREFUSED, retry', async () => {
    const port = await closedPort();
    const result = await sender().send({
      url: `http://127.0.0.1:${port}/`,
      headers: {},
      body: BODY,
    });
    expect(result.error?.code).toBe('ECONNREFUSED');
    expect(classifyAttempt(result)).toMatchObject({
      outcome: 'retry',
      reason: 'connection_refused',
    });
  });

  test('a connection reset mid-request → retry', async () => {
    const srv = await server((req, res) => {
      res.socket?.destroy();
      void req;
    });
    const result = await sender().send({ url: srv.origin, headers: {}, body: BODY });
    expect(result.error?.code).toBe('ECONNRESET');
    expect(classifyAttempt(result).outcome).toBe('retry');
  });

  test('the response body is read up to the limit only (4 KiB default)', async () => {
    const srv = await server((_req, res) => {
      res.writeHead(500);
      res.write('a'.repeat(3000));
      res.end('b'.repeat(200_000));
    });
    const result = await sender().send({ url: srv.origin, headers: {}, body: BODY });
    expect(result.statusCode).toBe(500);
    expect(result.responseTruncated).toBe(true);
    expect(result.responseBody).toBe('a'.repeat(3000) + 'b'.repeat(1096));
    const small = await sender({ maxResponseBytes: 10 }).send({
      url: srv.origin,
      headers: {},
      body: BODY,
    });
    expect(small.responseBody).toBe('aaaaaaaaaa');
  });

  test('a body exactly at the limit is not marked truncated', async () => {
    const srv = await server((_req, res) => res.end('x'.repeat(16)));
    const result = await sender({ maxResponseBytes: 16 }).send({
      url: srv.origin,
      headers: {},
      body: BODY,
    });
    expect(result).toMatchObject({ responseBody: 'x'.repeat(16), responseTruncated: false });
  });

  test('keep-alive: consecutive sends reuse one connection', async () => {
    const srv = await server((_req, res) => res.end('ok'));
    const s = sender();
    for (let i = 0; i < 3; i += 1) {
      expect((await s.send({ url: srv.origin, headers: {}, body: BODY })).statusCode).toBe(200);
    }
    expect(srv.requests).toHaveLength(3);
    expect(srv.connections).toBe(1);
  });

  test('a body above the limit is refused before sending', async () => {
    const srv = await server((_req, res) => res.end());
    const result = await sender({ maxBodyBytes: 10 }).send({
      url: srv.origin,
      headers: {},
      body: BODY,
    });
    expect(result.error?.code).toBe('FLOWHOOK_ERR_BODY_TOO_LARGE');
    expect(classifyAttempt(result)).toMatchObject({ outcome: 'failed', reason: 'body_too_large' });
    expect(srv.connections).toBe(0);
  });

  test('a bad header value is a permanent failure and nothing is sent', async () => {
    const srv = await server((_req, res) => res.end());
    const result = await sender().send({
      url: srv.origin,
      headers: { 'X-Bad': 'a\r\nInjected: 1' },
      body: BODY,
    });
    expect(result.error?.code).toBe('ERR_INVALID_CHAR');
    expect(classifyAttempt(result)).toMatchObject({ outcome: 'failed', reason: 'invalid_request' });
    expect(srv.requests).toHaveLength(0);
  });
});

describe('WebhookSender and the private-address guard', () => {
  test('loopback is refused without an allowlist, before any connection', async () => {
    const srv = await server((_req, res) => res.end());
    const s = sender({ policy: new DestinationPolicy({ allowHttp: true }) });
    for (const url of [
      srv.origin,
      `http://2130706433:${srv.port}/`,
      `http://0x7f.1:${srv.port}/`,
      `http://[::ffff:127.0.0.1]:${srv.port}/`,
    ]) {
      const result = await s.send({ url, headers: {}, body: BODY });
      expect(result.error?.code).toBe('FLOWHOOK_ERR_DESTINATION_REFUSED');
      expect(classifyAttempt(result)).toMatchObject({
        outcome: 'failed',
        reason: 'destination_refused',
      });
    }
    expect(srv.connections).toBe(0);
  });

  test('http is refused unless allowed', async () => {
    const srv = await server((_req, res) => res.end());
    const s = sender({ policy: new DestinationPolicy({ allowlist: '127.0.0.1' }) });
    const result = await s.send({ url: srv.origin, headers: {}, body: BODY });
    expect(result.error?.code).toBe('FLOWHOOK_ERR_DESTINATION_REFUSED');
    expect(result.error?.message).toMatch(/scheme http:/);
    expect(srv.connections).toBe(0);
  });

  test('host names go through the policy resolver (agent lookup is installed)', async () => {
    const srv = await server((_req, res) => res.end('via resolver'));
    const asked: string[] = [];
    const policy = new DestinationPolicy({
      allowlist: '127.0.0.1/32',
      allowHttp: true,
      resolver: async (hostname) => {
        asked.push(hostname);
        return [{ address: '127.0.0.1', family: 4 }];
      },
    });
    const result = await sender({ policy }).send({
      url: `http://hooks.flowhook.test:${srv.port}/`,
      headers: {},
      body: BODY,
    });
    expect(result).toMatchObject({ statusCode: 200, responseBody: 'via resolver' });
    expect(asked).toEqual(['hooks.flowhook.test']);
    expect(srv.requests[0]?.headers.host).toBe(`hooks.flowhook.test:${srv.port}`);
  });

  test('DNS rebinding: public answer first, private answer next → the private address is never connected to', async () => {
    // "Public" = 127.0.0.1 (allow-listed for the test); "private" = 127.0.0.2 (not allow-listed),
    // both listening on the same port so only the resolver decides where a request goes.
    const publicSrv = await server((_req, res) => {
      res.writeHead(200, { Connection: 'close' }); // force a new connection (and lookup) next time
      res.end('public');
    });
    const privateSrv = await server((_req, res) => res.end('private'), {
      host: '127.0.0.2',
      port: publicSrv.port,
    });
    const answers: dns.LookupAddress[][] = [
      [{ address: '127.0.0.1', family: 4 }],
      [{ address: '127.0.0.2', family: 4 }],
      [{ address: '127.0.0.2', family: 4 }],
    ];
    let calls = 0;
    const policy = new DestinationPolicy({
      allowlist: '127.0.0.1/32',
      allowHttp: true,
      resolver: async () => answers[calls++] ?? [],
    });
    const s = sender({ policy });
    const url = `http://rebind.flowhook.test:${publicSrv.port}/`;

    const first = await s.send({ url, headers: {}, body: BODY });
    expect(first).toMatchObject({ statusCode: 200, responseBody: 'public' });

    const second = await s.send({ url, headers: {}, body: BODY });
    expect(second.statusCode).toBeUndefined();
    expect(second.error?.code).toBe('FLOWHOOK_ERR_DESTINATION_REFUSED');
    expect(second.error?.message).toMatch(/rebind\.flowhook\.test \(127\.0\.0\.2\).*loopback/);
    expect(classifyAttempt(second).outcome).toBe('failed');

    // Checked on every attempt, not cached from the first one.
    const third = await s.send({ url, headers: {}, body: BODY });
    expect(third.error?.code).toBe('FLOWHOOK_ERR_DESTINATION_REFUSED');
    expect(calls).toBe(3);
    expect(privateSrv.connections).toBe(0);
    expect(privateSrv.requests).toHaveLength(0);
    expect(publicSrv.requests).toHaveLength(1);
  });

  test('one answer list mixing public and private addresses is refused as a whole', async () => {
    const publicSrv = await server((_req, res) => res.end('public'));
    const privateSrv = await server((_req, res) => res.end('private'), {
      host: '127.0.0.2',
      port: publicSrv.port,
    });
    const policy = new DestinationPolicy({
      allowlist: '127.0.0.1/32',
      allowHttp: true,
      resolver: async () => [
        { address: '127.0.0.1', family: 4 },
        { address: '127.0.0.2', family: 4 },
      ],
    });
    const result = await sender({ policy }).send({
      url: `http://mixed.flowhook.test:${publicSrv.port}/`,
      headers: {},
      body: BODY,
    });
    expect(result.error?.code).toBe('FLOWHOOK_ERR_DESTINATION_REFUSED');
    expect(publicSrv.connections + privateSrv.connections).toBe(0);
  });
});

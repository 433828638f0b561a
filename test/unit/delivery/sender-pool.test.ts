import pkg from '../../../package.json';
import type { SendRequest } from '../../../src/delivery/http-sender';
import { classifyAttempt } from '../../../src/delivery/outcome';
import { SenderPool, type SenderPoolOptions } from '../../../src/delivery/sender-pool';
import { deferred, startServer, type TestServer } from './helpers';

// The pool's threads run the compiled dist/ script (npm test builds it first) and make real
// requests to local servers; loopback is allow-listed explicitly, as in the sender's tests.

const servers: TestServer[] = [];
const pools: SenderPool[] = [];
async function server(...args: Parameters<typeof startServer>): Promise<TestServer> {
  const s = await startServer(...args);
  servers.push(s);
  return s;
}
function pool(options: Partial<SenderPoolOptions> = {}): SenderPool {
  const p = new SenderPool({
    threads: 2,
    allowlist: ['127.0.0.1/32'],
    allowHttp: true,
    ...options,
  });
  pools.push(p);
  return p;
}
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.close()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

const BODY = '{"event":"Placed Order","value":12.5}';

describe('SenderPool', () => {
  test('sends from its threads: body, headers and the response come through', async () => {
    const srv = await server((_req, res) => {
      res.writeHead(201, { 'retry-after': '7' });
      res.end('created');
    });
    const result = await pool().send({
      url: `${srv.origin}/hook`,
      headers: { 'x-shop': 'demo', 'webhook-id': 'msg_1' },
      body: BODY,
    });
    expect(result).toMatchObject({
      statusCode: 201,
      responseBody: 'created',
      responseTruncated: false,
      retryAfter: '7',
    });
    const [received] = srv.requests;
    expect(received).toMatchObject({ method: 'POST', url: '/hook', body: BODY });
    expect(received?.headers).toMatchObject({
      'content-type': 'application/json',
      'user-agent': `flowhook/${pkg.version}`,
      'x-shop': 'demo',
      'webhook-id': 'msg_1',
    });
  });

  test('answers each of many concurrent requests with its own result', async () => {
    const srv = await server((req, res) => res.end(req.url));
    const p = pool({ threads: 3 });
    const results = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        p.send({ url: `${srv.origin}/r${i}`, headers: {}, body: BODY }),
      ),
    );
    expect(results.map((r) => r.responseBody)).toEqual(
      Array.from({ length: 30 }, (_, i) => `/r${i}`),
    );
    expect(p.inFlight()).toBe(0);
  });

  test('the destination guard runs in the threads: loopback refused unless allow-listed', async () => {
    const srv = await server((_req, res) => res.end('ok'));
    const result = await pool({ allowlist: [] }).send({
      url: `${srv.origin}/hook`,
      headers: {},
      body: BODY,
    });
    expect(result.error?.code).toBe('FLOWHOOK_ERR_DESTINATION_REFUSED');
    expect(classifyAttempt(result)).toMatchObject({ outcome: 'failed' });
    expect(srv.requests).toHaveLength(0);
  });

  test('the per-attempt timeout applies in the threads', async () => {
    const hang = deferred();
    const srv = await server(async (_req, res) => {
      await hang.promise;
      res.end('late');
    });
    const result = await pool().send({
      url: `${srv.origin}/slow`,
      headers: {},
      body: BODY,
      timeoutMs: 200,
    });
    hang.resolve();
    expect(result.statusCode).toBeUndefined();
    expect(classifyAttempt(result)).toMatchObject({ outcome: 'retry', reason: 'timeout' });
  });

  test('a thread that dies answers its requests as lost (retriable); the next request gets a new thread', async () => {
    const hang = deferred();
    const srv = await server(async (_req, res) => {
      await hang.promise;
      res.end('late');
    });
    const p = pool({ threads: 1 });
    const inHand = p.send({ url: `${srv.origin}/slow`, headers: {}, body: BODY });
    await srv.nthRequest(1);
    // A message that is not a send request is a bug: the thread throws and dies.
    const broken = p.send(undefined as unknown as SendRequest);
    const [lost, alsoLost] = await Promise.all([inHand, broken]);
    hang.resolve();
    for (const result of [lost, alsoLost]) {
      expect(result.error?.code).toBe('FLOWHOOK_ERR_SENDER_THREAD');
      expect(classifyAttempt(result)).toMatchObject({
        outcome: 'retry',
        reason: 'sender_thread_lost',
      });
    }
    const after = await server((_req, res) => res.end('fine'));
    await expect(
      p.send({ url: `${after.origin}/again`, headers: {}, body: BODY }),
    ).resolves.toMatchObject({ statusCode: 200, responseBody: 'fine' });
  });

  test('close() is idempotent, answers requests in hand as lost and refuses new ones', async () => {
    const hang = deferred();
    const srv = await server(async (_req, res) => {
      await hang.promise;
      res.end('late');
    });
    const p = pool();
    const inHand = p.send({ url: `${srv.origin}/slow`, headers: {}, body: BODY });
    await srv.nthRequest(1);
    await Promise.all([p.close(), p.close()]);
    hang.resolve();
    await expect(inHand).resolves.toMatchObject({
      error: { code: 'FLOWHOOK_ERR_SENDER_THREAD' },
    });
    await expect(
      p.send({ url: `${srv.origin}/after`, headers: {}, body: BODY }),
    ).resolves.toMatchObject({ error: { code: 'FLOWHOOK_ERR_SENDER_THREAD' } });
    expect(srv.requests).toHaveLength(1);
  });

  test('needs at least one thread', () => {
    expect(() => new SenderPool({ threads: 0, allowlist: [], allowHttp: false })).toThrow(
      RangeError,
    );
  });
});

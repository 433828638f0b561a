import { createServer, type IncomingMessage, type Server } from 'node:http';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { WebhookJob } from '../../src/documents';
import { childEnv, spawnCli } from '../support/cli';
import { readJson, startFlowhook } from '../support/flowhook-harness';
import { placedOrder, webhookFlow } from '../support/flows';
import { brokers, createTopic, testKafka, uniqueName } from '../support/kafka';

// The flowhook CLI as a user runs it (built binary, child process) against the real broker.

const FIXTURES = join(__dirname, '..', 'fixtures');
const dir = mkdtempSync(join(tmpdir(), 'flowhook-cli-'));

async function cli(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; output: string; stdout: string }> {
  const p = spawnCli(args, childEnv(env));
  const { code } = await p.exited;
  return { code, output: p.output(), stdout: p.stdout() };
}

function writeJson(name: string, value: unknown): string {
  const file = join(dir, name);
  writeFileSync(file, JSON.stringify(value));
  return file;
}

describe('flowhook flows validate / preview (no broker needed)', () => {
  it('accepts valid flows and refuses invalid ones with JSON-path messages and exit 1', async () => {
    const ok = await cli([
      'flows',
      'validate',
      join(FIXTURES, 'flows', 'placed-order-webhook.json'),
    ]);
    expect(ok.code).toBe(0);
    expect(ok.output).toContain('ok placed-order-to-crm v3 (live)');

    const bad = await cli([
      'flows',
      'validate',
      join(FIXTURES, 'flows', 'invalid', 'non-triggerable-metric.json'),
    ]);
    expect(bad.code).toBe(1);
    expect(bad.output).toMatch(
      /error: \$\.definition\.triggers\[0\]\.id: metric 'Opened Email' cannot trigger a flow/,
    );
  });

  it('previews the requests a flow would send for an event, with secrets left as references', async () => {
    const r = await cli([
      'flows',
      'preview',
      join(FIXTURES, 'flows', 'placed-order-webhook.json'),
      '--event',
      join(FIXTURES, 'events', 'placed-order.json'),
    ]);
    expect(r.code).toBe(0);
    const requests = JSON.parse(r.stdout) as {
      action_id: string;
      url: string;
      headers: Record<string, string>;
      body: Record<string, unknown>;
    }[];
    const crm = requests.find((q) => q.action_id === 'webhook-crm')!;
    expect(crm.url).toBe('https://crm.example.com/api/orders');
    expect(crm.headers.Authorization).toBe('Bearer {{ secrets.CRM_TOKEN }}');
    expect(crm.body).toMatchObject({
      order_id: '1234',
      total: 129.99,
      email: 'sarah.mason@klaviyo-demo.com',
    });
  });

  it('exits 2 with the usage on a wrong command line', async () => {
    const r = await cli(['flows', 'preview', 'x.json']);
    expect(r.code).toBe(2);
    expect(r.output).toContain('usage: flowhook flows preview FILE --event EVENT.json');
  });
});

describe('flowhook flows apply / list / delete and events send (real broker)', () => {
  it('manages the flow table and publishes events that a running trigger turns into jobs', async () => {
    const prefix = `${uniqueName('cli')}.`;
    const env = {
      KAFKA_BROKERS: brokers().join(','),
      FLOWHOOK_TOPIC_PREFIX: prefix,
      FLOWHOOK_EVENT_TOPICS: `${prefix}events`,
      FLOWHOOK_PROFILE_TOPICS: `${prefix}profiles`,
      FLOWHOOK_CATALOG_TOPICS: `${prefix}catalog`,
    };
    const flowFile = writeJson(`${prefix}flows.json`, [
      webhookFlow({ id: 'one' }),
      webhookFlow({ id: 'two', metric: 'Started Checkout' }),
    ]);

    expect((await cli(['flows', 'apply', flowFile], env)).code).toBe(0);
    const listed = await cli(['flows', 'list', '--json'], env);
    expect(listed.code).toBe(0);
    const rows = JSON.parse(listed.stdout) as {
      id: string;
      valid: boolean;
    }[];
    expect(rows.map((r) => [r.id, r.valid])).toEqual([
      ['one', true],
      ['two', true],
    ]);
    expect((await cli(['flows', 'delete', 'two'], env)).code).toBe(0);
    const after = await cli(['flows', 'list'], env);
    expect(after.output).toMatch(/^one\tv1\tlive\tmetric:Placed Order\tvalid/m);
    expect(after.output).not.toMatch(/^two\t/m);

    const kafka = testKafka();
    await createTopic(kafka, `${prefix}events`, 3);
    const h = await startFlowhook({
      settings: {
        FLOWHOOK_TOPIC_PREFIX: prefix,
        FLOWHOOK_ROLES: 'trigger',
        FLOWHOOK_EVENT_TOPICS: `${prefix}events`,
        FLOWHOOK_PROFILE_TOPICS: `${prefix}profiles`,
        FLOWHOOK_CATALOG_TOPICS: `${prefix}catalog`,
      },
    });
    try {
      const events = join(dir, `${prefix}events.jsonl`);
      writeFileSync(
        events,
        [placedOrder({ orderId: 'cli-1' }), placedOrder({ orderId: 'cli-2' })]
          .map((e) => JSON.stringify(e))
          .join('\n'),
      );
      const sent = await cli(['events', 'send', events], env);
      expect(sent.output).toContain(`sent 2 event(s) to ${prefix}events`);
      const jobs = await readJson<WebhookJob>(kafka, h.topics.jobs, (r) => r.length >= 2);
      expect(jobs.map((j) => JSON.parse(j.value.body).order).sort()).toEqual(['cli-1', 'cli-2']);
    } finally {
      await h.stop();
    }
  });

  it('refuses to send a malformed event file and sends nothing', async () => {
    const file = join(dir, 'bad.json');
    writeFileSync(file, JSON.stringify({ metric: 'Placed Order' }));
    const r = await cli(['events', 'send', file], {
      KAFKA_BROKERS: brokers().join(','),
      FLOWHOOK_EVENT_TOPICS: uniqueName('ev'),
    });
    expect(r.code).toBe(1);
    expect(r.output).toContain('nothing sent: 1 invalid event(s)');
  });
});

describe('flowhook flows test-send', () => {
  let server: Server;
  const received: { headers: IncomingMessage['headers']; body: string }[] = [];
  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        received.push({ headers: req.headers, body });
        res.writeHead(202, { 'Content-Type': 'application/json' }).end('{"accepted":true}');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('sends each request once, signed, and prints the responses', async () => {
    const port = (server.address() as { port: number }).port;
    const flow = writeJson(
      'send.json',
      webhookFlow({ id: 'send', webhooks: [{ id: 'hook', url: `http://127.0.0.1:${port}/in` }] }),
    );
    const event = writeJson('send-event.json', placedOrder({ orderId: 'ts-1' }));
    const r = await cli(['flows', 'test-send', flow, '--event', event], {
      FLOWHOOK_ALLOW_HTTP: 'true',
      FLOWHOOK_DESTINATION_ALLOWLIST: '127.0.0.1/32',
      FLOWHOOK_SIGNING_SECRET: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
    });
    expect(r.code).toBe(0);
    const [result] = JSON.parse(r.stdout) as {
      status: number;
      response_body: string;
    }[];
    expect(result).toMatchObject({ status: 202, response_body: '{"accepted":true}' });
    expect(received).toHaveLength(1);
    expect(JSON.parse(received[0].body)).toEqual({ order: 'ts-1' });
    expect(received[0].headers['webhook-signature']).toMatch(/^v1,/);
    expect(received[0].headers['content-type']).toBe('application/json');
  });

  it('refuses a private destination that is not allow-listed, sending nothing', async () => {
    const port = (server.address() as { port: number }).port;
    const before = received.length;
    const flow = writeJson(
      'private.json',
      webhookFlow({ id: 'p', webhooks: [{ id: 'hook', url: `http://127.0.0.1:${port}/in` }] }),
    );
    const event = writeJson('private-event.json', placedOrder());
    const r = await cli(['flows', 'test-send', flow, '--event', event], {
      FLOWHOOK_ALLOW_HTTP: 'true',
    });
    expect(r.code).toBe(1);
    expect(r.output).toContain('FLOWHOOK_ERR_DESTINATION_REFUSED');
    expect(received.length).toBe(before);
  });
});

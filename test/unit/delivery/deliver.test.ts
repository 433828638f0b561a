import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { WebhookJob } from '../../../src/documents';
import { DestinationPolicy } from '../../../src/delivery/address-guard';
import { CircuitBreaker } from '../../../src/delivery/circuit-breaker';
import {
  type DeliveryDeps,
  deliverAttempt,
  type AttemptReport,
} from '../../../src/delivery/deliver';
import { HostLimiter } from '../../../src/delivery/host-limiter';
import { WebhookSender } from '../../../src/delivery/http-sender';
import { RetrySchedule } from '../../../src/delivery/retry-schedule';
import { SecretStore } from '../../../src/delivery/secrets';
import { verifySignature } from '../../../src/delivery/signing';
import { deferred, startServer, type TestServer } from './helpers';

const GLOBAL_SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const ACTION_SECRET = `whsec_${Buffer.from('per-action-key-0123456789').toString('base64')}`;
const T0 = Date.parse('2026-03-01T12:00:00.000Z');

let secretsDir: string;
const servers: TestServer[] = [];
const senders: WebhookSender[] = [];

beforeEach(() => {
  secretsDir = mkdtempSync(path.join(tmpdir(), 'flowhook-deliver-'));
  writeFileSync(path.join(secretsDir, 'crm_token'), 'tok-123\n');
  writeFileSync(path.join(secretsDir, 'action_signing'), `${ACTION_SECRET}\n`);
});
afterEach(async () => {
  senders.splice(0).forEach((s) => s.close());
  await Promise.all(servers.splice(0).map((s) => s.close()));
  rmSync(secretsDir, { recursive: true, force: true });
});

async function server(...args: Parameters<typeof startServer>): Promise<TestServer> {
  const s = await startServer(...args);
  servers.push(s);
  return s;
}

interface Harness {
  deps: DeliveryDeps;
  clock: { now: number };
}

function harness(overrides: Partial<DeliveryDeps> = {}, policy?: DestinationPolicy): Harness {
  const clock = { now: T0 };
  const sender = new WebhookSender({
    policy: policy ?? new DestinationPolicy({ allowlist: '127.0.0.1/32', allowHttp: true }),
    timeoutMs: 2000,
  });
  senders.push(sender);
  return {
    clock,
    deps: {
      sender,
      secrets: new SecretStore({ dir: secretsDir, env: {} }),
      signingSecrets: [GLOBAL_SECRET],
      schedule: RetrySchedule.parse(undefined),
      breaker: new CircuitBreaker(),
      limiter: new HostLimiter(),
      clock: () => clock.now,
      random: () => 0.5, // no jitter: delays are exactly the schedule's
      ...overrides,
    },
  };
}

function job(url: string, overrides: Partial<WebhookJob> = {}): WebhookJob {
  return {
    id: 'job_01HZX',
    flow_id: 'flow_1',
    flow_version: 3,
    action_id: 'act_9',
    event_id: 'evt_1',
    profile_id: 'prof_1',
    url,
    headers: { Authorization: 'Bearer {{ secrets.crm_token }}', 'X-Source': 'flowhook' },
    body: '{"order":"A-1","total":12.5}',
    attempt: 0,
    ...overrides,
  };
}

const respond =
  (status: number, headers: Record<string, string> = {}, body = '') =>
  (_req: unknown, res: import('node:http').ServerResponse): void => {
    res.writeHead(status, headers);
    res.end(body);
  };

function decisionKind(report: AttemptReport): string {
  return report.decision.kind;
}

describe('deliverAttempt: delivered', () => {
  test('resolves secrets, signs verifiably, records the attempt', async () => {
    const srv = await server(respond(200, {}, '{"id":"crm-42"}'));
    const { deps } = harness();
    const report = await deliverAttempt(job(`${srv.origin}/hook`), deps);

    expect(report.decision).toEqual({ kind: 'delivered' });
    const req = srv.requests[0];
    expect(req?.body).toBe('{"order":"A-1","total":12.5}');
    expect(req?.headers.authorization).toBe('Bearer tok-123');
    expect(req?.headers['x-source']).toBe('flowhook');
    expect(req?.headers['content-type']).toBe('application/json');
    expect(req?.headers['user-agent']).toMatch(/^flowhook\/\d+\.\d+\.\d+/);
    expect(req?.headers['webhook-id']).toBe('job_01HZX');
    expect(req?.headers['webhook-timestamp']).toBe(String(T0 / 1000));
    // Verifiable with the library helper and with a from-scratch HMAC.
    expect(
      verifySignature({
        headers: req?.headers ?? {},
        body: req?.body ?? '',
        secrets: [GLOBAL_SECRET],
        now: T0,
      }),
    ).toEqual({ ok: true });
    const key = Buffer.from(GLOBAL_SECRET.slice('whsec_'.length), 'base64');
    const expected = createHmac('sha256', key)
      .update(`job_01HZX.${T0 / 1000}.${req?.body}`)
      .digest('base64');
    expect(req?.headers['webhook-signature']).toBe(`v1,${expected}`);

    expect(report.secretHeaderNames).toEqual(['Authorization']);
    expect(report.record).toMatchObject({
      job_id: 'job_01HZX',
      flow_id: 'flow_1',
      action_id: 'act_9',
      profile_id: expect.any(String),
      event_id: expect.any(String),
      attempt: 1,
      status_code: 200,
      outcome: 'delivered',
      time: new Date(T0).toISOString(),
      response_body: '{"id":"crm-42"}',
    });
    expect(report.job).toMatchObject({ attempt: 1, first_attempt_at: new Date(T0).toISOString() });
    expect(report.job.history).toEqual([
      {
        attempt: 1,
        at: new Date(T0).toISOString(),
        outcome: 'delivered',
        status_code: 200,
        duration_ms: expect.any(Number),
      },
    ]);
    expect(report.job.last_error).toBeUndefined();
    // The job document itself still carries the secret reference, never the value.
    expect(JSON.stringify(report.job)).not.toContain('tok-123');
    expect(JSON.stringify(report.record)).not.toContain('tok-123');
  });

  test('a per-action signing secret replaces the global ones', async () => {
    const srv = await server(respond(204));
    const { deps } = harness();
    await deliverAttempt(job(srv.origin, { signing_secret_ref: 'action_signing' }), deps);
    const headers = srv.requests[0]?.headers ?? {};
    const body = srv.requests[0]?.body ?? '';
    expect(verifySignature({ headers, body, secrets: [ACTION_SECRET], now: T0 }).ok).toBe(true);
    expect(verifySignature({ headers, body, secrets: [GLOBAL_SECRET], now: T0 }).ok).toBe(false);
  });

  test('rotation: every global secret signs', async () => {
    const srv = await server(respond(200));
    const { deps } = harness({ signingSecrets: [GLOBAL_SECRET, ACTION_SECRET] });
    await deliverAttempt(job(srv.origin), deps);
    const headers = srv.requests[0]?.headers ?? {};
    expect(String(headers['webhook-signature']).split(' ')).toHaveLength(2);
    for (const secret of [GLOBAL_SECRET, ACTION_SECRET]) {
      expect(
        verifySignature({ headers, body: srv.requests[0]?.body ?? '', secrets: [secret], now: T0 })
          .ok,
      ).toBe(true);
    }
  });

  test('without secrets the request is unsigned but still carries webhook-id and timestamp', async () => {
    const srv = await server(respond(200));
    const { deps } = harness({ signingSecrets: [] });
    await deliverAttempt(job(srv.origin), deps);
    const headers = srv.requests[0]?.headers ?? {};
    expect(headers['webhook-id']).toBe('job_01HZX');
    expect(headers['webhook-timestamp']).toBe(String(T0 / 1000));
    expect(headers['webhook-signature']).toBeUndefined();
  });

  test('a job cannot supply its own signature, content-type or user-agent', async () => {
    const srv = await server(respond(200));
    const { deps } = harness();
    await deliverAttempt(
      job(srv.origin, {
        headers: {
          'Webhook-Signature': 'v1,forged',
          'webhook-id': 'other',
          'Content-Type': 'text/plain',
          'User-Agent': 'x',
        },
      }),
      deps,
    );
    const headers = srv.requests[0]?.headers ?? {};
    expect(headers['webhook-id']).toBe('job_01HZX');
    expect(headers['webhook-signature']).not.toContain('forged');
    expect(headers['content-type']).toBe('application/json');
    expect(headers['user-agent']).toMatch(/^flowhook\//);
  });
});

describe('deliverAttempt: retry and dead', () => {
  test('500 → retry after the first scheduled delay, in its tier', async () => {
    const srv = await server(respond(500, {}, 'oops'));
    const { deps } = harness();
    const report = await deliverAttempt(job(srv.origin), deps);
    expect(report.decision).toEqual({
      kind: 'retry',
      delayMs: 10_000,
      tier: '5s',
      notBefore: new Date(T0 + 10_000).toISOString(),
    });
    expect(report.job).toMatchObject({
      attempt: 1,
      not_before: new Date(T0 + 10_000).toISOString(),
      last_error: 'HTTP 500',
      first_attempt_at: new Date(T0).toISOString(),
    });
    expect(report.record).toMatchObject({
      outcome: 'retrying',
      status_code: 500,
      response_body: 'oops',
      attempt: 1,
      next_attempt_at: new Date(T0 + 10_000).toISOString(),
    });
  });

  test('429 with Retry-After is honoured within [1x, 2x] of the schedule', async () => {
    const srv = await server(respond(429, { 'Retry-After': '15' }));
    const { deps } = harness();
    const report = await deliverAttempt(job(srv.origin), deps);
    expect(report.decision).toMatchObject({ kind: 'retry', delayMs: 15_000, tier: '5s' });

    const srv2 = await server(respond(503, { 'Retry-After': '86400' }));
    const clamped = await deliverAttempt(job(srv2.origin), deps);
    expect(clamped.decision).toMatchObject({ kind: 'retry', delayMs: 20_000 });
  });

  test('a timeout → retry, with the error class on the record', async () => {
    const hold = deferred();
    const srv = await server(async (_req, res) => {
      await hold.promise;
      res.end();
    });
    const { deps } = harness({ timeoutMs: 100 });
    const report = await deliverAttempt(job(srv.origin), deps);
    hold.resolve();
    expect(report.decision.kind).toBe('retry');
    expect(report.record).toMatchObject({ outcome: 'retrying', error_class: 'ETIMEDOUT' });
    expect(report.record?.status_code).toBeUndefined();
    expect(report.job.last_error).toMatch(/^ETIMEDOUT: /);
  });

  test('history accumulates across attempts and the last one goes to the DLQ', async () => {
    const srv = await server(respond(502));
    const { deps, clock } = harness({ schedule: RetrySchedule.parse('1s,2s') });
    let current = job(srv.origin);
    const kinds: string[] = [];
    for (let i = 0; i < 3; i += 1) {
      const report = await deliverAttempt(current, deps);
      kinds.push(decisionKind(report));
      current = report.job;
      if (report.decision.kind === 'dead') {
        expect(report.decision).toMatchObject({
          reason: 'retries_exhausted',
          code: 'FLOWHOOK_ERR_RETRIES_EXHAUSTED',
        });
        expect(report.decision.deadLetter).toEqual({
          job: report.job,
          reason: 'retries_exhausted',
          error_code: 'FLOWHOOK_ERR_RETRIES_EXHAUSTED',
          failed_at: new Date(clock.now).toISOString(),
        });
        expect(report.record?.outcome).toBe('failed');
      }
      clock.now = Date.parse(current.not_before ?? new Date(clock.now).toISOString());
    }
    expect(kinds).toEqual(['retry', 'retry', 'dead']);
    expect(srv.requests).toHaveLength(3);
    expect(current.attempt).toBe(3);
    expect(current.history?.map((h) => [h.attempt, h.outcome, h.status_code])).toEqual([
      [1, 'retrying', 502],
      [2, 'retrying', 502],
      [3, 'failed', 502],
    ]);
    expect(current.first_attempt_at).toBe(new Date(T0).toISOString());
    expect(current.not_before).toBeUndefined();
  });

  test.each([
    [410, 'gone'],
    [400, 'client_error'],
    [301, 'redirect'],
  ])('%i → dead at once (%s), no retry', async (status, reason) => {
    const srv = await server(
      respond(status, status === 301 ? { Location: 'https://example.com/' } : {}),
    );
    const { deps } = harness();
    const report = await deliverAttempt(job(srv.origin), deps);
    expect(report.decision).toMatchObject({
      kind: 'dead',
      reason,
      code: 'FLOWHOOK_ERR_DELIVERY_REJECTED',
    });
    expect(report.record).toMatchObject({ outcome: 'failed', status_code: status });
    expect(report.job.last_error).toBe(`HTTP ${status}`);
  });

  test('an unknown secret → dead before sending; the error names the secret', async () => {
    const srv = await server(respond(200));
    const { deps } = harness();
    const report = await deliverAttempt(
      job(srv.origin, { headers: { 'X-Key': '{{ secrets.nope }}' } }),
      deps,
    );
    expect(report.decision).toMatchObject({
      kind: 'dead',
      reason: 'secret_not_found',
      code: 'FLOWHOOK_ERR_SECRET_NOT_FOUND',
    });
    expect(report.job.last_error).toMatch(/secret nope not found/);
    expect(report.record).toMatchObject({
      outcome: 'failed',
      error_class: 'FLOWHOOK_ERR_SECRET_NOT_FOUND',
      attempt: 1,
    });
    expect(srv.connections).toBe(0);
  });

  test('a malformed per-action signing secret → dead before sending', async () => {
    writeFileSync(path.join(secretsDir, 'bad_signing'), 'not-a-secret!');
    const srv = await server(respond(200));
    const { deps } = harness();
    const report = await deliverAttempt(
      job(srv.origin, { signing_secret_ref: 'bad_signing' }),
      deps,
    );
    expect(report.decision).toMatchObject({ kind: 'dead', reason: 'signing_secret_invalid' });
    expect(report.job.last_error).not.toContain('not-a-secret!');
    expect(srv.connections).toBe(0);
  });

  test('a body above the limit → dead before sending', async () => {
    const srv = await server(respond(200));
    const { deps } = harness({ maxBodyBytes: 8 });
    const report = await deliverAttempt(job(srv.origin), deps);
    expect(report.decision).toMatchObject({
      kind: 'dead',
      reason: 'body_too_large',
      code: 'FLOWHOOK_ERR_BODY_TOO_LARGE',
    });
    expect(srv.connections).toBe(0);
  });

  test('a private destination → dead (destination_refused), nothing sent', async () => {
    const srv = await server(respond(200));
    const { deps } = harness({}, new DestinationPolicy({ allowHttp: true }));
    const report = await deliverAttempt(job(srv.origin), deps);
    expect(report.decision).toMatchObject({
      kind: 'dead',
      reason: 'destination_refused',
      code: 'FLOWHOOK_ERR_DESTINATION_REFUSED',
    });
    expect(srv.connections).toBe(0);
    const invalid = await deliverAttempt(job('::not a url::'), deps);
    expect(invalid.decision).toMatchObject({ kind: 'dead', reason: 'destination_refused' });
  });
});

describe('deliverAttempt: waiting', () => {
  test('a job whose not_before is ahead is not attempted', async () => {
    const srv = await server(respond(200));
    const { deps } = harness();
    const notBefore = new Date(T0 + 45_000).toISOString();
    const report = await deliverAttempt(
      job(srv.origin, { not_before: notBefore, attempt: 2 }),
      deps,
    );
    expect(report.decision).toEqual({
      kind: 'wait',
      untilMs: T0 + 45_000,
      tier: '5s',
      cause: 'not_before',
    });
    expect(report.job).toMatchObject({ attempt: 2, not_before: notBefore });
    expect(report.record).toBeUndefined();
    expect(srv.connections).toBe(0);
  });

  test('an open circuit parks jobs for the host without failing them; the probe closes it', async () => {
    let status = 503;
    const srv = await server((_req, res) => {
      res.writeHead(status);
      res.end();
    });
    const breaker = new CircuitBreaker({ failureThreshold: 2, cooldownMs: 30_000 });
    const { deps, clock } = harness({ breaker });
    await deliverAttempt(job(srv.origin), deps);
    await deliverAttempt(job(srv.origin), deps);
    expect(srv.requests).toHaveLength(2);

    const parked = await deliverAttempt(job(srv.origin, { attempt: 4 }), deps);
    expect(parked.decision).toEqual({
      kind: 'wait',
      untilMs: T0 + 30_000,
      tier: '5s',
      cause: 'circuit_open',
    });
    expect(parked.job).toMatchObject({
      attempt: 4,
      not_before: new Date(T0 + 30_000).toISOString(),
    });
    expect(parked.record).toBeUndefined();
    expect(srv.requests).toHaveLength(2);
    expect(breaker.openHosts(T0)).toEqual([
      expect.objectContaining({ host: `127.0.0.1:${srv.port}`, state: 'open' }),
    ]);

    // Another host is unaffected.
    const other = await server(respond(200));
    expect((await deliverAttempt(job(other.origin), deps)).decision.kind).toBe('delivered');

    clock.now = T0 + 30_000;
    status = 200;
    const probe = await deliverAttempt(parked.job, deps);
    expect(probe.decision.kind).toBe('delivered');
    expect(probe.job.attempt).toBe(5);
    expect(breaker.state(`127.0.0.1:${srv.port}`, clock.now)).toBe('closed');
  });

  test('a permanent 4xx does not count against the host', async () => {
    const srv = await server(respond(404));
    const breaker = new CircuitBreaker({ failureThreshold: 1 });
    const { deps } = harness({ breaker });
    await deliverAttempt(job(srv.origin), deps);
    expect(breaker.state(`127.0.0.1:${srv.port}`, T0)).toBe('closed');
  });
});

describe('deliverAttempt: per-host concurrency', () => {
  test('a slow host does not block deliveries to another host', async () => {
    const release = deferred();
    const slow = await server(async (_req, res) => {
      await release.promise;
      res.end('slow done');
    });
    const fast = await server(respond(200, {}, 'fast'));
    const limiter = new HostLimiter({ maxPerHost: 1 });
    const { deps } = harness({ limiter });
    const slowHost = `127.0.0.1:${slow.port}`;

    // No secret references: preparing a job involves no I/O, so a2 is queued in the limiter
    // before a1's request can possibly reach the server.
    const a1 = deliverAttempt(job(slow.origin, { id: 'a1', headers: {} }), deps);
    const a2 = deliverAttempt(job(slow.origin, { id: 'a2', headers: {} }), deps);
    await slow.nthRequest(1);
    expect(limiter.waiting(slowHost)).toBe(1); // a2 queued behind a1 on the slow host only

    const b = await deliverAttempt(job(fast.origin, { id: 'b' }), deps);
    expect(b.decision.kind).toBe('delivered');
    expect(slow.requests).toHaveLength(1); // the slow host still holds only its one request

    release.resolve();
    const [r1, r2] = await Promise.all([a1, a2]);
    expect([r1.decision.kind, r2.decision.kind]).toEqual(['delivered', 'delivered']);
    expect(slow.requests.map((r) => r.headers['webhook-id'])).toEqual(['a1', 'a2']);
    expect(limiter.active(slowHost)).toBe(0);
  });
});
